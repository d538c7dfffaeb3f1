"""Lambda SnapStart runtime hooks (``snap_start`` stage setting; Python 3.12+ managed runtimes).

With SnapStart, Lambda runs the init phase once, when a version is published, and restores new execution
environments from a snapshot of its memory. What that means here:

- Before the snapshot, the modules a handler imports lazily (off the cold-start path when SnapStart is
  off) are imported, so the snapshot holds them: :func:`preload`.
- After a restore, powertools' cold-start flags are set again (the Logger's ``cold_start`` key, the
  Tracer's ``ColdStart`` annotation and the ColdStart metric then describe the restored environment, not
  the snapshot), and the ``random`` module is reseeded: every environment restored from one snapshot would
  otherwise draw the same numbers. UUIDs and tokens use ``os.urandom`` and need nothing.

boto3 clients and their connection pools may be created before the snapshot: botocore reconnects a
connection that did not survive and SnapStart functions get refreshable container credentials.

The hooks come from ``snapshot_restore_py``, which the Python managed runtimes include; anywhere else
(tests, local mode) registering them does nothing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

try:  # in the Lambda runtime only
    from snapshot_restore_py import (
        register_after_restore,
        register_before_snapshot,
    )
except ImportError:

    def register_before_snapshot(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func

    def register_after_restore(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        return func


def reset_cold_start() -> None:
    """Mark the next invocation as a cold start for powertools' Logger, Tracer and Metrics."""
    from aws_lambda_powertools.logging import logger as logging_module
    from aws_lambda_powertools.metrics.provider import cold_start

    logging_module.is_cold_start = True
    cold_start.reset_cold_start_flag()  # type: ignore[no-untyped-call]  # powertools leaves it untyped
    tracing_module = sys.modules.get("aws_lambda_powertools.tracing.tracer")
    if tracing_module is not None:  # only functions that use the Tracer import it
        setattr(tracing_module, "is_cold_start", True)  # noqa: B010 (a module found at run time)


def after_restore() -> None:
    import random  # here: most restores are the only time it is needed

    reset_cold_start()
    random.seed()


def preload(*modules: str) -> None:
    """Import ``modules`` before the snapshot is taken (a no-op without SnapStart)."""
    register_before_snapshot(_import_all, modules)


def before_snapshot(func: Callable[[], object]) -> None:
    """Run ``func`` before the snapshot is taken (a no-op without SnapStart): work a handler does lazily
    that the snapshot should hold."""
    register_before_snapshot(func)


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        importlib.import_module(name)


register_after_restore(after_restore)
