"""Benchmark of the scoring maths: summarise + fit (BG/NBD, Gamma-Gamma) + score for 1,000,000 customers.

Run: ``python benchmarks/bench_scoring_compute.py [--customers 1000000] [--partitions 8] [--seed 7]``.

Synthetic customer aggregates are drawn from the models themselves (BG/NBD purchasing over up to two years,
Gamma-Gamma spend) plus 20 % prospects with engagement; generating them is not timed. The timed pipeline is
the engine's two-phase API exactly as the scheduled run uses it: ``summarise`` per partition, merge,
``fit`` once, JSON round trip of the fit, ``score`` per partition. Figures: wall time per phase and in
total, the peak memory traced by ``tracemalloc`` during the pipeline (a second, traced run), and the
process's peak resident set size. Target: <= 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
from numpy.typing import NDArray

from shared.scoring.engine import (
    CustomerFrame,
    ModelFit,
    PartitionSummary,
    ScoreFrame,
    ScoringConfig,
    fit,
    score,
    summarise,
)
from shared.scoring.leads import decay_weight

AS_OF = date(2026, 6, 30)
TRUE_BGNBD = {"r": 0.6, "alpha": 5.0, "a": 0.7, "b": 2.8}
TRUE_GG = {"p": 6.0, "q": 4.0, "v": 15.0}


def _simulate_repeat(
    rng: np.random.Generator, age_weeks: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """BG/NBD repeat purchases ``x`` and time of the last one ``t_x`` (weeks), vectorised over customers."""
    n = age_weeks.size
    lam = np.maximum(rng.gamma(TRUE_BGNBD["r"], 1.0 / TRUE_BGNBD["alpha"], n), 1e-12)
    drop = rng.beta(TRUE_BGNBD["a"], TRUE_BGNBD["b"], n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    t = np.zeros(n)
    active = np.arange(n)
    while active.size:
        t[active] += rng.exponential(1.0 / lam[active])
        active = active[t[active] <= age_weeks[active]]
        x[active] += 1
        t_x[active] = t[active]
        active = active[rng.random(active.size) >= drop[active]]
    return x, t_x


def synthetic_frame(n: int, seed: int) -> CustomerFrame:
    rng = np.random.default_rng(seed)
    buyer = rng.random(n) < 0.8
    nb = int(buyer.sum())
    age_days = rng.integers(0, 730, nb)
    x, t_x_weeks = _simulate_repeat(rng, age_days / 7.0)
    t_x_days = np.minimum(np.floor(t_x_weeks * 7.0).astype(np.int64), age_days)
    days = x.astype(np.int64) + 1
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["v"], nb)
    mean_spend = rng.gamma(TRUE_GG["p"] * days, 1.0 / (days * nu))
    today = np.datetime64(AS_OF, "D")
    first = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    last = first.copy()
    first[buyer] = today - age_days.astype("timedelta64[D]")
    last[buyer] = first[buyer] + t_x_days.astype("timedelta64[D]")
    purchase_days = np.zeros(n, dtype=np.int64)
    purchase_days[buyer] = days
    purchase_count = purchase_days + rng.binomial(purchase_days, 0.1)
    total_spent = np.zeros(n)
    total_spent[buyer] = np.round(days * mean_spend, 2)
    # Engagement: stored decay sums of events in the last 120 days (scaled to "now").
    scale = decay_weight(datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC), 30.0)
    engagement = {
        kind: rng.poisson(lam, n) * rng.uniform(0.1, 1.0, n) * scale
        for kind, lam in {"page_view": 4.0, "email_click": 0.8, "form_post": 0.3, "download": 0.2}.items()
    }
    engagement["contact_request"] = (rng.random(n) < 0.02) * rng.uniform(0.3, 1.0, n) * scale
    return CustomerFrame(
        customer_id=np.array([f"c{i:07d}" for i in range(n)], dtype=object),
        first_purchase=first,
        last_purchase=last,
        purchase_days=purchase_days,
        purchase_count=purchase_count,
        total_spent=total_spent,
        engagement=engagement,
        has_company=rng.random(n) < 0.3,
        has_job_title=rng.random(n) < 0.25,
        has_phone=rng.random(n) < 0.1,
    )


@dataclass
class Timings:
    summarise: float
    merge: float
    fit: float
    score: float

    @property
    def total(self) -> float:
        return self.summarise + self.merge + self.fit + self.score


def run_pipeline(
    frame: CustomerFrame, config: ScoringConfig, partitions: int
) -> tuple[Timings, ModelFit, list[ScoreFrame], int]:
    parts = [frame.take(p) for p in np.array_split(np.arange(len(frame)), partitions)]
    t0 = time.perf_counter()
    summaries = [summarise(p, config.as_of) for p in parts]
    t1 = time.perf_counter()
    # What crosses the fan-out: JSON summaries, then one JSON fit.
    payload = [json.dumps(s.to_dict()) for s in summaries]
    merged = PartitionSummary.merge_all(PartitionSummary.from_dict(json.loads(s)) for s in payload)
    t2 = time.perf_counter()
    model = ModelFit.from_dict(json.loads(json.dumps(fit(merged, config).to_dict())))
    t3 = time.perf_counter()
    scores = [score(p, model, config) for p in parts]
    t4 = time.perf_counter()
    return Timings(t1 - t0, t2 - t1, t3 - t2, t4 - t3), model, scores, sum(len(s) for s in payload)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-memory", action="store_true", help="skip the tracemalloc run")
    args = parser.parse_args(argv)

    t = time.perf_counter()
    frame = synthetic_frame(args.customers, args.seed)
    print(f"generated {len(frame):,} customers in {time.perf_counter() - t:.1f} s (not timed)")
    config = ScoringConfig(as_of=AS_OF, purchase_model="bgnbd")  # the customers are drawn from BG/NBD

    timings, model, scores, payload_bytes = run_pipeline(frame, config, args.partitions)
    print(f"partitions: {args.partitions}; JSON summaries: {payload_bytes / 1e6:.2f} MB in total")
    print(f"summarise  {timings.summarise:6.2f} s")
    print(f"merge      {timings.merge:6.2f} s  (incl. JSON round trip)")
    statuses = f"{model.purchase_model}: {model.purchase_status}, Gamma-Gamma: {model.gamma_gamma_status}"
    print(f"fit        {timings.fit:6.2f} s  ({statuses})")
    print(f"score      {timings.score:6.2f} s  (RFM, segments, lead score, p_alive, CLV)")
    print(f"total      {timings.total:6.2f} s  ({len(frame) / timings.total:,.0f} customers/s)")
    if model.purchase is not None:
        b = model.purchase
        fitted = f"r={b.r:.3f} alpha={b.alpha:.3f} a={b.a:.3f} b={b.b:.3f}"
        print(f"{model.purchase_model} fit {fitted} (true {TRUE_BGNBD})")
    if model.gamma_gamma is not None:
        g = model.gamma_gamma
        print(f"Gamma-Gamma fit p={g.p:.3f} q={g.q:.3f} v={g.v:.3f}")
    print(f"Pareto share of the top 20%: {model.pareto_share:.3f}")
    clv = np.concatenate([s.clv for s in scores])
    print(f"mean 12-month CLV of customers: {np.nanmean(clv):.2f}")

    if not args.skip_memory:
        tracemalloc.start()
        run_pipeline(frame, config, args.partitions)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak traced memory of the pipeline: {peak / 2**20:.0f} MiB")
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS of the process (incl. generation): {rss_kib / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
