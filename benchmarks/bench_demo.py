"""The scripted demo (``make demo``) on the local stack: its wall time and the AWS requests it caused.

Prints moto's request counts by operation (every process's requests, as moto served them) and, for the
stack's own process, the requests by caller (thread family: ``consumer`` = the dispatcher's deliveries,
``MainThread`` = the demo script and its in-process calls, ``api`` = the adapter's request threads) and
operation, counted on the botocore client side. ``--json FILE`` writes the figures for an A/B comparison.

``python -m benchmarks demo [--customers 200] [--json build/demo-requests.json]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

_FAMILY = re.compile(r"^(consumer|dispatcher|api-private|api|Thread)")


def _family(name: str) -> str:
    if name.startswith("Thread-") and "process_request_thread" in name:
        return "api"  # ThreadingHTTPServer's request threads
    found = _FAMILY.match(name)
    return found.group(1) if found else name


@contextlib.contextmanager
def count_client_calls() -> Iterator[Counter[tuple[str, str]]]:
    """Count this process's botocore calls by (thread family, operation) while the block runs."""
    from botocore.client import BaseClient

    counts: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def counted(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        with lock:
            counts[(_family(threading.current_thread().name), operation_name)] += 1
        return original(self, operation_name, api_params)

    setattr(BaseClient, "_make_api_call", counted)  # noqa: B010 (botocore's stubs do not declare it)
    try:
        yield counts
    finally:
        setattr(BaseClient, "_make_api_call", original)  # noqa: B010


def main(argv: Sequence[str] = ()) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks demo", description=__doc__)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--quiet", action="store_true", help="hide the demo's own output")
    args = parser.parse_args(list(argv))

    from infra.local.demo import run_demo
    from infra.local.stack import LocalStack

    load_before = os.getloadavg()
    with count_client_calls() as calls, LocalStack(api_port=0, verbose=False) as stack:
        assert stack.moto is not None
        before = stack.moto.request_counts()["requests"]
        started = time.perf_counter()
        out = io.StringIO()
        with contextlib.redirect_stdout(out) if args.quiet else contextlib.nullcontext():
            status = run_demo(stack, customers=args.customers)
        seconds = time.perf_counter() - started
        after = stack.moto.request_counts()["requests"]
        loop = getattr(stack.dispatcher, "loop_log", None)  # (None: a dispatcher before its pass counts)
        passes = (
            {
                "all": loop.passes,
                "loop": {k: getattr(loop, k) for k in ("started", "woken", "polled", "idle", "follow_up")},
                "requests": dict(loop.requests),
            }
            if loop is not None
            else {}
        )
    moto = {op: n - before.get(op, 0) for op, n in after.items() if n - before.get(op, 0)}
    by_caller: dict[str, dict[str, int]] = {}
    for (family, operation), n in sorted(calls.items()):
        by_caller.setdefault(family, {})[operation] = n
    figures = {
        "status": status,
        "wall_seconds": round(seconds, 1),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "moto_requests": sum(moto.values()),
        "moto_by_operation": dict(sorted(moto.items(), key=lambda item: -item[1])),
        "stack_process_by_caller": by_caller,
        "dispatcher_passes": passes,
    }
    print(f"demo: exit {status}, {seconds:.1f} s wall (load {load_before[0]:.2f} before)")
    print(f"moto served {figures['moto_requests']} requests during the demo:")
    for operation, n in figures["moto_by_operation"].items():
        print(f"  {operation:<28} {n:>6}")
    print("the stack's process, by caller (botocore client side):")
    for family, operations in by_caller.items():
        listed = ", ".join(f"{operation} {n}" for operation, n in operations.items())
        print(f"  {family:<12} {sum(operations.values()):>6}  {listed}")
    print(f"dispatcher passes: {passes}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))
    return int(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
