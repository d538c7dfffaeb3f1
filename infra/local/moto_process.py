"""moto in its own OS process: the local stack's AWS stand-in, on its own core.

Half of the local stack's CPU is moto answering AWS calls (parsing, its backends, serialising). In the
stack's own process that work and the handlers' took turns on one GIL; in a process of its own, moto runs
beside them, as AWS does beside Lambda. The stack talks to it over HTTP only: the AWS calls, and the
control endpoint (:mod:`infra.local.moto_control`) for fault injection, the emails SES accepted and the
request counts.

``python -m infra.local.moto_process --port 0`` serves until its standard input closes (the stack closes
it on stop; if the stack dies, the pipe closes with it, so no orphan server stays behind). It writes
``ready <port>`` on standard output once it answers.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any
from urllib import request

from infra.local.faults import Fault
from infra.local.output import exit_without_teardown

READY = "ready"


@dataclass(frozen=True)
class SentMessage:
    """One message SES accepted: ``raw_data`` is SendRawEmail's data (None for a plain SendEmail)."""

    id: str
    source: str
    destinations: list[str]
    raw_data: str | None
    subject: str
    body: str


def _call(url: str, method: str = "GET", payload: Any = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    req = request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with request.urlopen(req, timeout=60) as response:
        return json.loads(response.read())


def sent_messages(region: str, endpoint: str | None = None, start: int = 0) -> list[SentMessage]:
    """The messages the local moto's SES accepted in ``region``, oldest first, from number ``start``
    (0-based; ``endpoint``: moto's URL, by default the ``AWS_ENDPOINT_URL`` the local stack sets)."""
    base = endpoint or os.environ["AWS_ENDPOINT_URL"]
    answer = _call(f"{base}/_local/ses/sent?region={region}&start={start}")
    return [SentMessage(**message) for message in answer["messages"]]


class RemoteFaults:
    """The fault injector of the moto process, with :class:`~infra.local.faults.FaultInjector`'s
    ``inject``: the rule lives for the ``with`` block; its ``hits`` are known when the block ends."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    @contextmanager
    def inject(self, fault: Fault) -> Iterator[Fault]:
        rule = _call(f"{self.endpoint}/_local/faults", "POST", asdict(fault))
        try:
            yield fault
        finally:
            fault.hits = _call(f"{self.endpoint}/_local/faults/{rule['id']}", "DELETE")["hits"]


class MotoProcess:
    """A moto server in a child process (``start``, ``stop``, ``get_host_and_port``, like moto's
    ``ThreadedMotoServer``), with the control endpoint's features as methods."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, direct: bool = True, cwd: str | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.direct = direct  # False: every request through moto's Flask apps (A/B measurements)
        self.cwd = cwd  # another checkout's moto process (A/B measurements of two versions)
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoProcess:
        """Launch the process and wait until it answers (:meth:`launch` then :meth:`wait_until_ready`)."""
        return self.launch().wait_until_ready()

    def launch(self) -> MotoProcess:
        """Start the process without waiting for it: the caller can do its own start-up work while moto
        imports itself (about half a second), then call :meth:`wait_until_ready`."""
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "infra.local.moto_process",
                "--host",
                self.host,
                "--port",
                str(self.port),
                *([] if self.direct else ["--no-direct"]),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=self.cwd,
        )
        return self

    def wait_until_ready(self) -> MotoProcess:
        """Block until the launched process serves (its port is known then)."""
        assert self._process is not None, "launch() first"
        assert self._process.stdout is not None
        line = self._process.stdout.readline().split()
        if len(line) != 2 or line[0] != READY:
            self.stop()
            raise RuntimeError(f"the moto process did not start (it said {line!r}; its errors are above)")
        self.port = int(line[1])
        self.faults = RemoteFaults(self.url)
        return self

    def get_host_and_port(self) -> tuple[str, int]:
        return self.host, self.port

    def sent_messages(self, region: str, start: int = 0) -> list[SentMessage]:
        return sent_messages(region, self.url, start)

    def request_counts(self) -> dict[str, Any]:
        """Requests served so far by operation, events put and S3 bytes written (running totals)."""
        counts: dict[str, Any] = _call(f"{self.url}/_local/requests")
        return counts

    def cpu_seconds(self) -> float:
        return float(_call(f"{self.url}/_local/status")["cpu_seconds"])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # the server's signal to stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def serve(host: str, port: int, direct: bool = True) -> None:
    """Serve moto with the local stack's wrappers until standard input closes."""
    from infra.local import faults, moto_atomic, moto_control
    from infra.local.moto_server import KeepAliveMotoServer
    from infra.local.presigned import enforce_link_expiry

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = KeepAliveMotoServer(host, port, direct=direct)
    enforce_link_expiry(server._server)
    moto_atomic.install(server._server)  # before the fault injector, which must wrap it
    injector = faults.install(server._server)
    if os.environ.get("LOCAL_MOTO_RECORD"):  # for measurements: the requests, to replay (moto_record)
        from infra.local import moto_record

        moto_record.install(server._server, os.environ["LOCAL_MOTO_RECORD"])
    control = moto_control.install(server._server, injector)  # outermost: control calls meet no fault
    # Ctrl-C reaches the whole process group: the stack stops us itself, after its own last calls.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server.start()
    print(READY, server.get_host_and_port()[1], flush=True)
    # moto imports a service's code on its first request: import the stack's services now, while the
    # stack builds its clients, rather than in the first requests it sends (the import lock makes a
    # request that comes first wait for the same import, never see half of it).
    threading.Thread(target=_import_services, name="moto-warm-up", daemon=True).start()
    try:
        sys.stdin.read()  # until the stack closes the pipe, or dies
    finally:
        server.stop()
        if os.environ.get("LOCAL_MOTO_SUMMARY"):  # for measurements: CPU per request of this process
            served = sum(control.counter.snapshot()["requests"].values())
            cpu = time.process_time()
            print(f"moto served {served} requests in {cpu:.1f} s of CPU", file=sys.stderr, flush=True)


# The services the local stack creates resources in (infra/local/resources.py), by moto module.
STACK_SERVICES = ("dynamodb", "dynamodbstreams", "sqs", "events", "s3", "ses", "cognitoidp")


def _import_services() -> None:
    for service in STACK_SERVICES:
        for part in ("models", "responses", "urls"):
            with contextlib.suppress(ImportError):  # a part this moto version does not have
                importlib.import_module(f"moto.{service}.{part}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.moto_process", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument(
        "--no-direct", action="store_true", help="serve JSON-protocol requests through moto's Flask apps too"
    )
    args = parser.parse_args(argv)
    serve(args.host, args.port, direct=not args.no_direct)
    return 0


if __name__ == "__main__":
    # As the process's own program only (never in a process that imported main): freeing moto's heap
    # (every table, item, queue and message) took about a second, which the stack's stop waited for.
    # The only files written are the standard streams (and a request recording, LOCAL_MOTO_RECORD, which
    # flushes every line).
    exit_without_teardown(main())
