"""Benchmark: fit time of BG/NBD, MBG/NBD and Gamma-Gamma against lifetimes 0.11.3 on CDNOW master.

Run: ``python -m benchmarks scoring_fit [--runs 5] [--data /work/shared/data/CDNOW_master.txt]``.

lifetimes runs in its own pinned virtual environment, ``build/lifetimes-venv``, created on first use from
``benchmarks/lifetimes_ref/requirements.txt`` (PyPI; nothing of it is imported here). Both sides get the
same per-customer arrays (23,570 customers as of 1998-06-30, weeks, frequency = repeat purchase days) and
both compute standard errors (lifetimes its autograd Hessian, this project a finite-difference Hessian of
the analytic gradient). Figures: the minimum over ``--runs`` of each side (the host is shared), the ratio,
and the log-likelihoods (lifetimes' evaluated in weeks by its own function) with their difference.
Target: >= 20x at the same log-likelihood (+-1e-6).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from shared.scoring.bgnbd import DAYS_PER_WEEK, fit_bgnbd
from shared.scoring.csvio import customer_frame, read_cdnow
from shared.scoring.gamma_gamma import fit_gamma_gamma
from shared.scoring.mbgnbd import fit_mbgnbd

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / "build" / "lifetimes-venv"
REQUIREMENTS = ROOT / "benchmarks" / "lifetimes_ref" / "requirements.txt"
DEFAULT_DATA = Path("/work/shared/data/CDNOW_master.txt")
AS_OF = date(1998, 6, 30)


def lifetimes_python() -> Path:
    """The pinned lifetimes environment's interpreter (created with venv + pip on first use)."""
    python = VENV / "bin" / "python"
    marker = VENV / ".installed"
    if not marker.exists():
        print(f"creating {VENV.relative_to(ROOT)} (lifetimes 0.11.3 and pinned dependencies from PyPI) ...")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)], check=True)
        marker.touch()
    return python


def _inputs(path: Path) -> dict[str, tuple[np.ndarray, ...]]:
    agg = customer_frame(read_cdnow(path), AS_OF)
    f = agg.frame
    first = (f.first_purchase - np.datetime64("1970-01-01", "D")).astype(np.int64)
    last = (f.last_purchase - np.datetime64("1970-01-01", "D")).astype(np.int64)
    x = (f.purchase_days - 1).astype(np.float64)
    t_x = (last - first) / DAYS_PER_WEEK
    age = ((np.datetime64(AS_OF, "D") - f.first_purchase).astype(np.int64)) / DAYS_PER_WEEK
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.where(x > 0, (f.total_spent - f.first_day_spent) / x, 0.0)
    repeat = (x > 0) & (m > 0)
    return {"purchase": (x, t_x, age), "gamma_gamma": (x[repeat], m[repeat])}


def _time(fn: Callable[[], Any], runs: int) -> tuple[float, float, Any]:
    """(min wall seconds, min CPU seconds, result) over ``runs`` calls."""
    best, best_cpu, result = float("inf"), float("inf"), None
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, time.perf_counter() - began)
        best_cpu = min(best_cpu, time.process_time() - began_cpu)
    return best, best_cpu, result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    if not args.data.exists():
        print(f"{args.data} not found: pass --data PATH/CDNOW_master.txt (the full CDNOW file)")
        return 0
    python = lifetimes_python()
    done = subprocess.run(
        [
            str(python),
            str(ROOT / "benchmarks" / "lifetimes_ref" / "time_fits.py"),
            str(args.data),
            str(args.runs),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    ref = json.loads(done.stdout.strip().splitlines()[-1])
    inputs = _inputs(args.data)
    ours = {
        "bgnbd": _time(lambda: fit_bgnbd(*inputs["purchase"]), args.runs),
        "mbgnbd": _time(lambda: fit_mbgnbd(*inputs["purchase"]), args.runs),
        "gamma_gamma": _time(lambda: fit_gamma_gamma(*inputs["gamma_gamma"]), args.runs),
    }
    print(f"CDNOW master as of {AS_OF}: {inputs['purchase'][0].size:,} customers")
    print(
        f"{'model':<12} {'lifetimes':>10} {'ours':>9} {'ratio':>6} {'CPU ratio':>10} "
        f"{'loglik (ours)':>18} {'difference':>11}"
    )
    for name, (seconds, cpu, params) in ours.items():
        theirs = min(ref[name]["seconds"])
        theirs_cpu = min(ref[name]["cpu_seconds"])
        diff = params.loglik - ref[name]["loglik"]
        print(
            f"{name:<12} {theirs:>9.3f}s {seconds * 1000:>7.1f}ms {theirs / seconds:>5.0f}x "
            f"{theirs_cpu / cpu:>9.0f}x {params.loglik:>18.6f} {diff:>+11.2e}"
        )
    print(f"(wall: min of {args.runs} runs; CPU: process time; load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
