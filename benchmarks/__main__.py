"""``python -m benchmarks [name ...]``: run the benchmarks (all by default) and print their figures."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = (
    "bench_tracking",
    "bench_scoring_compute",
    "bench_scoring_fit",
    "bench_scoring_offline",
    "bench_scoring_run",
    "bench_export",
    "bench_load",
)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    for name in names:
        module_name = name if name.startswith("bench_") else f"bench_{name}"
        print(f"\n=== {module_name} ===", flush=True)
        module = importlib.import_module(f"benchmarks.{module_name}")
        status = module.main([])
        if status:
            return int(status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
