"""``python -m infra.local``: run the whole stack on this machine (Ctrl-C stops it);
``--once`` runs the scripted demo and exits."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from infra.local.stack import LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run the scripted demo, print what it did, exit")
    parser.add_argument("--port", type=int, default=8080, help="API port (0: any free port)")
    parser.add_argument("--customers", type=int, default=200, help="CDNOW customers to replay in the demo")
    args = parser.parse_args(argv)

    if args.once:
        from infra.local.demo import run_demo

        with LocalStack(api_port=args.port, verbose=False) as stack:
            return run_demo(stack, customers=args.customers)

    stack = LocalStack(api_port=args.port).start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(f"Serving on {stack.api_url} — dashboard: {stack.api_url}/dashboard/ — Ctrl-C to stop", flush=True)
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping…", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
