"""Readable local output: the functions' metrics go to a file instead of the terminal.

In the cloud, powertools prints each invocation's metrics as one line of CloudWatch Embedded Metric Format
JSON on stdout, and CloudWatch Logs turns it into metrics. Locally those lines would drown the demo's
output, so :func:`route_metrics` keeps them out of the terminal: every stdout line that is an EMF document
(it starts with ``{"_aws"``) is appended to a log file, everything else passes through. Handlers run in
several threads (API adapter, dispatcher), so partial writes are buffered per thread until the newline.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from pathlib import Path
from typing import TextIO

EMF_PREFIX = '{"_aws"'


class MetricsRouter(io.TextIOBase):
    """A stdout stand-in that sends EMF lines to ``metrics`` and everything else to ``terminal``."""

    def __init__(self, terminal: TextIO, metrics: TextIO) -> None:
        self.terminal = terminal
        self.metrics = metrics
        self.metric_lines = 0
        self._pending = threading.local()
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.terminal.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.terminal, "encoding", "utf-8")

    def write(self, text: str) -> int:
        pending: str = getattr(self._pending, "text", "") + text
        *lines, rest = pending.split("\n")
        with self._lock:
            for line in lines:
                if line.startswith(EMF_PREFIX):
                    self.metrics.write(line + "\n")
                    self.metric_lines += 1
                else:
                    self.terminal.write(line + "\n")
            if rest and not (rest.startswith(EMF_PREFIX) or EMF_PREFIX.startswith(rest)):
                # Not a metric line: shown at once (progress bars redraw without a newline).
                self.terminal.write(rest)
                rest = ""
        self._pending.text = rest
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self.terminal.flush()
            self.metrics.flush()


METRICS_LOG_VARIABLE = "LOCAL_METRICS_LOG"
"""Names the metrics log for the local adapter's worker processes (set by the local stack)."""


def route_metrics(path: Path) -> MetricsRouter:
    """Send EMF metric lines printed on stdout to ``path`` (appended); returns the router now on stdout."""
    if isinstance(sys.stdout, MetricsRouter):  # a second stack in this process: one router is enough
        return sys.stdout
    path.parent.mkdir(parents=True, exist_ok=True)
    router = MetricsRouter(sys.stdout, path.open("a", encoding="utf-8", buffering=1))
    sys.stdout = router
    return router


def exit_without_teardown(status: int) -> None:
    """End this process now, its output flushed, without the interpreter's teardown: a local process
    (moto's, an API worker's) that loaded a large heap spends about a second freeing it object by object,
    which the stack's stop would wait for. For a process whose work is done: the log handlers and the
    standard streams are flushed here, nothing else runs."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # the reader went away: nothing to flush to
            stream.flush()
    os._exit(status)
