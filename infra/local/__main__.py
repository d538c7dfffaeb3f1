"""``python -m infra.local``: run the whole stack on this machine (Ctrl-C stops it);
``--once`` runs the scripted demo and exits."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from infra.local.stack import METRICS_LOG, LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run the scripted demo, print what it did, exit")
    parser.add_argument("--port", type=int, default=8080, help="API port (0: any free port)")
    parser.add_argument("--customers", type=int, default=200, help="CDNOW customers to replay in the demo")
    parser.add_argument("--seed", action="store_true", help="serve mode: load the demo data first")
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        help="worker processes, each one Lambda container, running the API's requests and the queue and "
        "stream deliveries (0: all in this process, one request at a time per function)",
    )
    parser.add_argument(
        "--allowed-origins",
        help="origins allowed to post forms cross-site (comma separated; default: the API's own origin; "
        "or set RM_ALLOWED_ORIGINS)",
    )
    parser.add_argument("--metrics-log", type=Path, default=METRICS_LOG, help="file for the EMF metric lines")
    parser.add_argument(
        "--score-every",
        type=float,
        default=60.0,
        help="serve mode: minutes between scheduled scoring runs (0: off)",
    )
    parser.add_argument(
        "--due-every",
        type=float,
        default=5.0,
        help="serve mode: minutes between campaign due sweeps (deferred sends now due; 0: off)",
    )
    args = parser.parse_args(argv)
    if args.allowed_origins:
        os.environ["RM_ALLOWED_ORIGINS"] = args.allowed_origins

    if args.once:
        from infra.local.demo import run_demo

        # A stop asked with SIGTERM ends the demo as Ctrl-C does: the stack stops its worker processes and
        # moto's on the way out (the default action would leave the workers behind).
        signal.signal(signal.SIGTERM, _exit_on_signal)

        with LocalStack(
            api_port=args.port, verbose=False, metrics_log=args.metrics_log, workers=args.workers
        ) as stack:
            status = run_demo(stack, customers=args.customers)
        print(f"(the functions' metrics are in {args.metrics_log})")
        return status

    # The API port is bound at once, but answered only when the stack is ready (after the seed).
    stack = LocalStack(api_port=args.port, metrics_log=args.metrics_log, workers=args.workers).start(
        serve=False
    )
    if args.seed:
        from infra.local.demo import run_demo

        print("loading the demo data (the API answers when it is done)…", flush=True)
        with stack.private_api() as seed_url:
            run_demo(stack, customers=args.customers, base_url=seed_url)
    stack.serve()
    stopped = threading.Event()
    if args.score_every > 0:
        threading.Thread(target=_scheduler, args=(stopped, args.score_every * 60, stack), daemon=True).start()
    if args.due_every > 0:
        from infra.local import campaign_schedule

        assert stack.dispatcher is not None
        campaign_schedule.start(stopped, args.due_every, activity=stack.dispatcher.activity)
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(
        f"Serving on {stack.api_url} — console: {stack.api_url}/dashboard/ (sign in as marketing@ or "
        f"admin@example.com) — API key for scripts: {stack.api_key} — "
        f"outbox: {stack.api_url}/dashboard/outbox.html — metrics: {args.metrics_log} — Ctrl-C to stop",
        flush=True,
    )
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping…", flush=True)
        stack.stop()
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _scheduler(stopped: threading.Event, interval_seconds: float, stack: LocalStack) -> None:
    """The local stand-in for the EventBridge schedule: a scoring run every interval (the dispatcher
    delivers its events while it runs, as during an API request)."""
    from shared.services import scoring

    assert stack.dispatcher is not None
    while not stopped.wait(interval_seconds):
        try:
            with stack.dispatcher.activity():
                result = scoring.run_in_process(progress=print)
            print(
                f"scheduled scoring run {result['run_id']}: {result['customers_scored']} customers",
                flush=True,
            )
        except Exception as exc:
            print(f"scheduled scoring run failed: {exc!r}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
