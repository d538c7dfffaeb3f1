"""``python -m benchmarks [name [options]]``: run one benchmark with its options (``python -m benchmarks
cost --customers 10M``), or all of them with their defaults, and print their figures."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "bench_cold_start",
    "bench_tracking",
    "bench_scoring_compute",
    "bench_scoring_fit",
    "bench_scoring_offline",
    "bench_scoring_run",
    "bench_export",
    "bench_load",
)


def _module(name: str) -> str:
    return name if name.startswith("bench_") else f"bench_{name}"


def main(argv: list[str]) -> int:
    if argv and not argv[0].startswith("-"):
        runs = [(_module(argv[0]), argv[1:])]
    else:
        runs = [(name, []) for name in BENCHMARKS]
    for module_name, options in runs:
        print(f"\n=== {module_name} ===", flush=True)
        module = importlib.import_module(f"benchmarks.{module_name}")
        status = module.main(options)
        if status:
            return int(status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
