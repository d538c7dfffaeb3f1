"""``rm-score-csv``: score a transaction log offline with the same engine as the scheduled run.

Usage::

    rm-score-csv transactions.csv scores.csv [--as-of YYYY-MM-DD] [--date-format FORMAT]
                 [--cdnow] [--delimiter ,] [--purchase-model mbgnbd|bgnbd] [--horizon-days 90]
                 [--clv-months 12] [--discount-rate 0.01] [--money-decimals 2] [--partitions 1]
                 [--sidecar PATH] [--holdout-end YYYY-MM-DD [--plot PATH]]

Input: a CSV of transactions ``customer_id, date, amount`` — with a header naming those three columns
(other columns are ignored) or without a header in that order. Dates are ISO ``YYYY-MM-DD`` (a time part
is ignored) unless ``--date-format`` gives a ``strptime`` format. ``--cdnow`` reads the whitespace-separated
CDNOW files instead (customer id in the first column, date ``YYYYMMDD`` third from last, amount last;
header lines are skipped). ``--as-of`` defaults to the last transaction date; later transactions are
ignored. ``--partitions N`` runs the two-phase path over N partitions (same result; for checking).
With the ``offline`` extra installed (pyarrow) the CSV is read and written by Arrow (module ``csvio``).

Output: one row per customer, columns :data:`OUTPUT_COLUMNS`, in order of first appearance in the input;
empty cells are not-applicable values. ``total_spent`` is exact (amounts rounded to ``--money-decimals``);
floats are written in full (shortest round-trip form). A sidecar JSON (default ``<scores>.model.json``)
records the as-of date, horizons, the purchase model, every fitted parameter with its standard error and
the log-likelihoods. Progress and a summary go to stderr.

Calibration/holdout mode (``--holdout-end``): the models are fitted on the transactions up to ``--as-of``
(required) and each customer's repeat purchase days in ``(as-of, holdout-end]`` are predicted by every
purchase model and compared with what happened: a per-frequency table (actual vs predicted, as lifetimes'
calibration plot) on stdout and in the sidecar, saved as a PNG with ``--plot`` (needs the ``plots`` extra,
matplotlib). Exit status 0 on success, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from shared.scoring.bgnbd import DAYS_PER_WEEK
from shared.scoring.csvio import (
    HAVE_ARROW,
    Aggregates,
    InputError,
    ScoreWriter,
    Transactions,
    customer_frame,
    read_cdnow,
    read_transactions_csv,
)
from shared.scoring.engine import (
    CustomerFrame,
    ModelFit,
    PartitionSummary,
    ScoringConfig,
    fit,
    json_safe,
    score,
    summarise,
)
from shared.scoring.holdout import HoldoutReport, holdout_report
from shared.scoring.purchase import (
    DEFAULT_PURCHASE_MODEL,
    MODEL_LABELS,
    PURCHASE_MODELS,
    expected_purchases,
    fit_purchase_model,
)
from shared.scoring.rfm import SEGMENTS

__all__ = ["OUTPUT_COLUMNS", "InputError", "main", "read_cdnow", "read_transactions_csv"]

OUTPUT_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "first_purchase",
    "last_purchase",
    "purchase_days",
    "purchase_count",
    "total_spent",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "fm_score",
    "segment",
    "stage",
    "lead_score",
    "p_alive",
    "churn_risk",
    "expected_purchases",
    "expected_order_value",
    "clv",
)
# Offline, the Gamma-Gamma statistics are exact (one bin per distinct mean spend up to 1e-9 relative).
_GAMMA_GAMMA_ACCURACY = 1e-9


# Customers scored and written per chunk: bounds the memory of the scoring temporaries.
SCORE_CHUNK = 250_000


def _fit_engine(frame: CustomerFrame, config: ScoringConfig, partitions: int) -> ModelFit:
    parts = [np.asarray(p) for p in np.array_split(np.arange(len(frame)), max(partitions, 1))]
    if len(parts) == 1:
        summary = summarise(frame, config.as_of, gamma_gamma_relative_accuracy=_GAMMA_GAMMA_ACCURACY)
    else:
        summary = PartitionSummary.merge_all(
            summarise(frame.take(p), config.as_of, gamma_gamma_relative_accuracy=_GAMMA_GAMMA_ACCURACY)
            for p in parts
        )
    return fit(summary, config)


def _score_and_write(
    writer: ScoreWriter, agg: Aggregates, model: ModelFit, config: ScoringConfig
) -> Counter[str]:
    """Score the customers chunk by chunk; returns the segment counts.

    Each chunk is formatted and written by one background thread while the next is scored (Arrow's CSV
    formatting and numpy both release the GIL, so the two cores share the work); the single worker keeps
    the chunks in order, and at most two chunks are in flight.
    """
    chunk = SCORE_CHUNK
    segments: Counter[str] = Counter()
    n = len(agg.frame)
    in_flight: deque[Future[None]] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="score-writer") as pool:
        for start in range(0, n, chunk):
            part = agg if n <= chunk else agg.take(np.arange(start, min(start + chunk, n)))
            scores = score(part.frame, model, config)
            segments.update(s for s in scores.segment.tolist() if s is not None)
            in_flight.append(pool.submit(writer.write, part, scores))
            while len(in_flight) > 1:
                in_flight.popleft().result()
        while in_flight:
            in_flight.popleft().result()
    return segments


def _fmt_params(params: Any, names: Sequence[str]) -> str:
    se = params.std_errors
    parts = [
        f"{n}={getattr(params, n):.6g}" + ("" if se is None else f" (se {se[i]:.3g})")
        for i, n in enumerate(names)
    ]
    return " ".join(parts) + f" loglik={params.loglik:.6f}"


def _report(model: ModelFit, err: TextIO) -> None:
    print(
        f"customers: {model.n_customers} ({model.n_repeat_customers} repeat), as of {model.as_of}",
        file=err,
    )
    label = MODEL_LABELS[model.purchase_model]
    if model.purchase is not None:
        print(f"{label} (weeks): {_fmt_params(model.purchase, ('r', 'alpha', 'a', 'b'))}", file=err)
    else:
        print(f"{label}: {model.purchase_status}", file=err)
    if model.gamma_gamma is not None:
        print(f"Gamma-Gamma: {_fmt_params(model.gamma_gamma, ('p', 'q', 'v'))}", file=err)
    else:
        print(f"Gamma-Gamma: {model.gamma_gamma_status} (expected order value = own mean spend)", file=err)
    for note in model.notes:
        print(f"note: {note}", file=err)
    if model.pareto_share is not None:
        print(f"Pareto: the top 20% of customers bring {100 * model.pareto_share:.1f}% of revenue", file=err)


def _report_segments(counts: Counter[str], err: TextIO) -> None:
    print("segments:", file=err)
    for name in SEGMENTS:
        print(f"  {name:<20} {counts.get(name, 0):>8}", file=err)


def _sidecar(
    args: argparse.Namespace,
    config: ScoringConfig,
    model: ModelFit,
    n_transactions: int,
    money_decimals: int,
    holdout: HoldoutReport | None,
) -> dict[str, Any]:
    fitted = model.to_dict()
    out: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": str(args.transactions),
        "transactions": n_transactions,
        "as_of": config.as_of.isoformat(),
        "horizon_days": config.horizon_days,
        "clv_horizon_months": config.clv_horizon_months,
        "monthly_discount_rate": config.monthly_discount_rate,
        "weeks_per_month": config.weeks_per_month,
        "time_unit": "week",
        "money_decimals": money_decimals,
        "customers": model.n_customers,
        "repeat_customers": model.n_repeat_customers,
        "purchase_model": model.purchase_model,
        "purchase_model_label": MODEL_LABELS[model.purchase_model],
        "purchase_status": model.purchase_status,
        "purchase": fitted["purchase"],
        "gamma_gamma_status": model.gamma_gamma_status,
        "gamma_gamma": fitted["gamma_gamma"],
        "gamma_gamma_convention": "mean spend of the repeat purchase days (first day excluded, same-day "
        "orders summed); population mean for customers without a repeat purchase or positive repeat spend",
        "pareto_top20_revenue_share": model.pareto_share,
        "notes": list(model.notes),
        "columns": list(OUTPUT_COLUMNS),
    }
    if holdout is not None:
        out["holdout"] = {
            "end": args.holdout_end.isoformat(),
            "weeks": holdout.holdout_weeks,
            "customers": holdout.customers,
            "total_actual": holdout.total_actual,
            "by_frequency": [asdict(r) for r in holdout.rows],
            "accuracy": {n: asdict(a) for n, a in holdout.accuracy.items()},
        }
    return json_safe(out)  # type: ignore[no-any-return]


def _holdout(
    tx: Transactions, frame: CustomerFrame, present: np.ndarray, config: ScoringConfig, end: date
) -> HoldoutReport:
    """Fit every purchase model on the calibration frame; compare predictions with holdout purchase days."""
    as_of_day = int((np.datetime64(config.as_of, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64))
    end_day = int((np.datetime64(end, "D") - np.datetime64("1970-01-01", "D")).astype(np.int64))
    inside = (tx.day > as_of_day) & (tx.day <= end_day)
    pairs = np.unique(tx.code[inside] * (end_day - as_of_day + 1) + (tx.day[inside] - as_of_day))
    per_code = np.bincount(pairs // (end_day - as_of_day + 1), minlength=tx.n_customers).astype(np.float64)
    actual = per_code[present]
    summary = summarise(frame, config.as_of)
    first = (frame.first_purchase - np.datetime64("1970-01-01", "D")).astype(np.int64)
    last = (frame.last_purchase - np.datetime64("1970-01-01", "D")).astype(np.int64)
    x = (frame.purchase_days - 1).astype(np.int64)
    cust_t_x = np.where(x > 0, last - first, 0) / DAYS_PER_WEEK
    cust_age = (as_of_day - first) / DAYS_PER_WEEK
    weeks = (end_day - as_of_day) / DAYS_PER_WEEK
    predicted: dict[str, np.ndarray] = {}
    rows = summary.bgnbd.weeks()
    for name in PURCHASE_MODELS:
        params = fit_purchase_model(name, *rows)
        predicted[name] = expected_purchases(params, weeks, x, cust_t_x, cust_age)
    return holdout_report(x, actual, predicted, weeks)


def _plot(report: HoldoutReport, path: Path, err: TextIO) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("rm-score-csv: --plot needs matplotlib (pip install '.[plots]'); no PNG written", file=err)
        return
    labels = [r.label for r in report.rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(labels, [r.actual for r in report.rows], marker="o", label="actual", color="black")
    for name in report.accuracy:
        ax.plot(labels, [r.predicted[name] for r in report.rows], marker="s", label=MODEL_LABELS[name])
    ax.set_xlabel("repeat purchase days in the calibration period")
    ax.set_ylabel(f"mean purchase days in the {report.holdout_weeks:.1f}-week holdout")
    ax.set_title("Actual vs predicted holdout purchases, by calibration frequency")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"saved the calibration plot to {path}", file=err)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rm-score-csv",
        description="Score customers from a transaction CSV (RFM, segments, MBG/NBD, Gamma-Gamma, CLV).",
    )
    p.add_argument("transactions", type=Path, help="input CSV: customer_id, date, amount")
    p.add_argument("scores", type=Path, help="output CSV, one row per customer")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: last date)")
    p.add_argument("--date-format", default=None, help="strptime format of the dates (default ISO)")
    p.add_argument("--delimiter", default=",", help="CSV delimiter (default ',')")
    p.add_argument("--cdnow", action="store_true", help="read the whitespace CDNOW format")
    p.add_argument(
        "--purchase-model",
        choices=PURCHASE_MODELS,
        default=DEFAULT_PURCHASE_MODEL,
        help=f"repeat-purchase model (default {DEFAULT_PURCHASE_MODEL})",
    )
    p.add_argument("--horizon-days", type=float, default=90.0, help="expected-purchases horizon")
    p.add_argument("--clv-months", type=int, default=12, help="CLV horizon in months")
    p.add_argument("--discount-rate", type=float, default=0.01, help="monthly discount rate")
    p.add_argument("--money-decimals", type=int, default=2, help="decimals of the currency (default 2)")
    p.add_argument("--partitions", type=int, default=1, help="summarise in N partitions, then merge")
    p.add_argument("--sidecar", type=Path, default=None, help="model JSON (default <scores>.model.json)")
    p.add_argument("--holdout-end", type=date.fromisoformat, default=None, help="calibration/holdout mode")
    p.add_argument("--plot", type=Path, default=None, help="PNG of the calibration/holdout table")
    p.add_argument("--no-arrow", action="store_true", help="use the standard-library CSV reader and writer")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    err = sys.stderr
    if args.holdout_end is not None and (args.as_of is None or args.holdout_end <= args.as_of):
        print("rm-score-csv: --holdout-end needs --as-of (the calibration end) before it", file=err)
        return 2
    if not 0 <= args.money_decimals <= 6:
        print("rm-score-csv: --money-decimals must be between 0 and 6", file=err)
        return 2
    use_arrow = HAVE_ARROW and not args.no_arrow
    try:
        if args.cdnow:
            tx = read_cdnow(args.transactions, money_decimals=args.money_decimals)
        else:
            tx = read_transactions_csv(
                args.transactions,
                date_format=args.date_format,
                delimiter=args.delimiter,
                money_decimals=args.money_decimals,
                use_arrow=use_arrow,
            )
    except (OSError, InputError) as exc:
        print(f"rm-score-csv: {exc}", file=err)
        return 2
    if tx.n_rows == 0:
        print(f"rm-score-csv: {args.transactions}: no transactions", file=err)
        return 2
    as_of: date = args.as_of if args.as_of is not None else tx.last_date()
    print(f"read {tx.n_rows} transactions from {args.transactions}", file=err)
    try:
        config = ScoringConfig(
            as_of=as_of,
            horizon_days=args.horizon_days,
            clv_horizon_months=args.clv_months,
            monthly_discount_rate=args.discount_rate,
            purchase_model=args.purchase_model,
        )
    except ValueError as exc:
        print(f"rm-score-csv: {exc}", file=err)
        return 2
    agg = customer_frame(tx, as_of)
    report: HoldoutReport | None = None
    if args.holdout_end is not None:
        report = _holdout(tx, agg.frame, agg.present, config, args.holdout_end)
    # The per-transaction arrays are not needed any more: keep the ids and what the sidecar reports.
    ids, decimals, n_rows = tx.customer_ids, tx.money_decimals, tx.n_rows
    del tx
    model = _fit_engine(agg.frame, config, args.partitions)
    _report(model, err)
    if report is not None:
        print(
            f"calibration to {as_of}, holdout to {args.holdout_end} ({report.holdout_weeks:.1f} weeks): "
            "mean repeat purchase days per customer in the holdout, by calibration frequency",
            file=err,
        )
        print(report.table(MODEL_LABELS))
        if args.plot is not None:
            _plot(report, args.plot, err)
    meta = _sidecar(args, config, model, n_rows, decimals, report)
    with ScoreWriter(args.scores, ids, decimals, OUTPUT_COLUMNS, use_arrow=use_arrow) as writer:
        counts = _score_and_write(writer, agg, model, config)
    _report_segments(counts, err)
    print(f"wrote {writer.rows} rows to {args.scores}", file=err)
    sidecar = args.sidecar or args.scores.with_suffix(".model.json")
    sidecar.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote the model to {sidecar}", file=err)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
