"""Benchmark of the offline command: ``rm-score-csv`` on 1,000,000 customers (3,000,000 transaction rows).

Run: ``python -m benchmarks scoring_offline [--customers 1000000] [--rows 3000000] [--runs 3]``.

A synthetic transaction CSV (``customer_id,date,amount``, ids like ``c0000042``, two years of days, amounts
in cents) is written once to ``build/bench/`` (not timed). Each run starts the real command in a fresh
process and measures its wall time and its peak resident set size (``wait4``'s ``ru_maxrss`` of that child
alone). The machine is shared, so the minimum of the runs is the figure. Targets: <= 10 s, <= 512 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "bench"


def make_transactions(path: Path, customers: int, rows: int, seed: int = 7) -> None:
    """Every customer buys at least once; the other rows go to customers drawn with skewed weights."""
    import pyarrow as pa
    from pyarrow import csv as pacsv

    rng = np.random.default_rng(seed)
    extra = rng.choice(customers, size=rows - customers, p=_weights(rng, customers))
    cust = np.concatenate([np.arange(customers), extra])
    first = rng.integers(0, 700, customers)
    day = first[cust] + np.where(
        np.arange(rows) < customers, 0, rng.integers(0, 730, rows) % (730 - first[cust] + 1)
    )
    cents = np.maximum(rng.gamma(2.0, 2500.0, rows).astype(np.int64), 0)
    cents[rng.random(rows) < 0.002] = 0  # some free orders
    order = rng.permutation(rows)
    ids = pa.array(np.char.add("c", np.char.zfill(cust[order].astype(str), 7)))
    dates = pa.array((np.datetime64("2024-07-01") + day[order]).astype("datetime64[D]"))
    amounts = pa.array((cents[order] / 100.0).round(2))
    table = pa.table({"customer_id": ids, "date": dates, "amount": amounts})
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _weights(rng: np.random.Generator, n: int) -> np.ndarray:
    w = rng.gamma(0.5, 1.0, n)
    return np.asarray(w / w.sum(), dtype=np.float64)


def run_once(src: Path, out: Path) -> tuple[float, float, float, str]:
    """One run of the command in a fresh process: (wall seconds, CPU seconds, peak RSS in MiB, stderr)."""
    cmd = [sys.executable, "-m", "shared.scoring.cli", str(src), str(out)]
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"rm-score-csv failed ({proc.returncode}):\n{err}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, err


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    src = BUILD / f"transactions-{args.customers}-{args.rows}.csv"
    if not src.exists():
        t = time.perf_counter()
        make_transactions(src, args.customers, args.rows)
        print(
            f"wrote {src.name} ({src.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - t:.1f} s (not timed)"
        )
    out = BUILD / "scores.csv"
    results = []
    for i in range(args.runs):
        seconds, cpu, rss, err = run_once(src, out)
        results.append((seconds, cpu, rss))
        print(f"run {i + 1}: {seconds:6.2f} s wall, {cpu:6.2f} s CPU, peak RSS {rss:6.0f} MiB", flush=True)
    best_time = min(r[0] for r in results)
    best_cpu = min(r[1] for r in results)
    best_rss = min(r[2] for r in results)
    load = os.getloadavg()[0]
    rows_out = sum(1 for _ in out.open()) - 1
    print(
        f"rm-score-csv, {args.customers:,} customers / {args.rows:,} rows: min {best_time:.2f} s wall "
        f"({best_cpu:.2f} s CPU), min peak RSS {best_rss:.0f} MiB (targets 10 s, 512 MiB); "
        f"{rows_out:,} rows written; load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    for line in err.splitlines():
        if line.startswith(("MBG/NBD", "BG/NBD", "Gamma-Gamma")):
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
