"""``rm-score-csv``: score a transaction log offline with the same engine as the scheduled run.

Usage::

    rm-score-csv transactions.csv scores.csv [--as-of YYYY-MM-DD] [--date-format FORMAT]
                 [--cdnow] [--delimiter ,] [--horizon-days 90] [--clv-months 12]
                 [--discount-rate 0.01] [--partitions 1]

Input: a CSV of transactions ``customer_id, date, amount`` — with a header naming those three columns
(other columns are ignored) or without a header in that order. Dates are ISO ``YYYY-MM-DD`` (a time part
is ignored) unless ``--date-format`` gives a ``strptime`` format. ``--cdnow`` reads the whitespace-separated
CDNOW files instead (customer id in the first column, date ``YYYYMMDD`` third from last, amount last;
header lines are skipped). ``--as-of`` defaults to the last transaction date; later transactions are
ignored. ``--partitions N`` runs the two-phase path over N partitions (same result; for checking).

Output: one row per customer, columns :data:`OUTPUT_COLUMNS`; empty cells are not-applicable values.
Progress and a summary (fitted parameters, Pareto share, segment counts) go to stderr. Exit status 0 on
success, 2 on bad input.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

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
from shared.scoring.rfm import SEGMENTS
from shared.scoring.transactions import frame_from_transactions

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

Transactions = tuple[NDArray[np.str_], NDArray[np.datetime64], NDArray[np.float64]]


class InputError(ValueError):
    """The transaction file cannot be read."""


def _parse_dates(raw: list[str], date_format: str | None, source: str) -> NDArray[np.datetime64]:
    try:
        if date_format is None:
            return np.array([s.strip()[:10] for s in raw], dtype="datetime64[D]")
        return np.array(
            [datetime.strptime(s.strip(), date_format).date() for s in raw], dtype="datetime64[D]"
        )
    except ValueError as exc:
        raise InputError(f"{source}: cannot parse a date ({exc})") from exc


def _parse_amounts(raw: list[str], source: str) -> NDArray[np.float64]:
    try:
        return np.array([float(s) for s in raw], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{source}: cannot parse an amount ({exc})") from exc


def _looks_like_header(row: list[str]) -> bool:
    return {c.strip().lower() for c in row} >= {"customer_id", "date", "amount"}


def read_transactions_csv(
    path: Path, *, date_format: str | None = None, delimiter: str = ","
) -> Transactions:
    """``(customer_id, date, amount)`` arrays from a CSV file (module docstring)."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.reader(fh, delimiter=delimiter) if row and any(c.strip() for c in row)]
    if not rows:
        return np.zeros(0, dtype=str), np.zeros(0, dtype="datetime64[D]"), np.zeros(0)
    cols = (0, 1, 2)
    if _looks_like_header(rows[0]):
        names = [c.strip().lower() for c in rows[0]]
        cols = (names.index("customer_id"), names.index("date"), names.index("amount"))
        rows = rows[1:]
    width = max(cols) + 1
    short = next((i for i, row in enumerate(rows) if len(row) < width), None)
    if short is not None:
        raise InputError(f"{path}: row {short + 1} has fewer than {width} columns")
    ids = np.array([row[cols[0]].strip() for row in rows], dtype=str)
    dates = _parse_dates([row[cols[1]] for row in rows], date_format, str(path))
    amounts = _parse_amounts([row[cols[2]] for row in rows], str(path))
    return ids, dates, amounts


def read_cdnow(path: Path) -> Transactions:
    """Transactions of a CDNOW file (``CDNOW_master.txt`` / ``CDNOW_sample.txt`` layout)."""
    ids: list[str] = []
    raw_dates: list[str] = []
    raw_amounts: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 4 or not fields[-3].isdigit() or len(fields[-3]) != 8:
                continue  # header or blank line
            ids.append(fields[0])
            d = fields[-3]
            raw_dates.append(f"{d[:4]}-{d[4:6]}-{d[6:]}")
            raw_amounts.append(fields[-1])
    return (
        np.array(ids, dtype=str),
        _parse_dates(raw_dates, None, str(path)),
        _parse_amounts(raw_amounts, str(path)),
    )


def _run_engine(frame: CustomerFrame, config: ScoringConfig, partitions: int) -> tuple[ModelFit, ScoreFrame]:
    parts = [np.asarray(p) for p in np.array_split(np.arange(len(frame)), max(partitions, 1))]
    summary = PartitionSummary.merge_all(summarise(frame.take(p), config.as_of) for p in parts)
    model = fit(summary, config)
    scored = [score(frame.take(p), model, config) for p in parts]
    if len(scored) == 1:
        return model, scored[0]
    merged = ScoreFrame(
        **{
            name: np.concatenate([getattr(s, name) for s in scored])
            for name in ScoreFrame.__dataclass_fields__
        }
    )
    return model, merged


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _write_scores(path: Path, frame: CustomerFrame, scores: ScoreFrame) -> int:
    first = frame.first_purchase.astype(str).tolist()
    last = frame.last_purchase.astype(str).tolist()
    days = frame.purchase_days.tolist()
    count = frame.purchase_count.tolist()
    spent = frame.total_spent.tolist()
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(OUTPUT_COLUMNS)
        for i, rec in enumerate(scores.records()):
            extra = {
                "first_purchase": first[i],
                "last_purchase": last[i],
                "purchase_days": days[i],
                "purchase_count": count[i],
                "total_spent": round(spent[i], 2),
            }
            row = {**rec, **extra}
            writer.writerow([_cell(row[c]) for c in OUTPUT_COLUMNS])
            n += 1
    return n


def _report(model: ModelFit, scores: ScoreFrame, err: TextIO) -> None:
    print(
        f"customers: {model.n_customers} ({model.n_repeat_customers} repeat), as of {model.as_of}",
        file=err,
    )
    if model.bgnbd is not None:
        b = model.bgnbd
        print(
            f"BG/NBD (weeks): r={b.r:.4g} alpha={b.alpha:.4g} a={b.a:.4g} b={b.b:.4g} loglik={b.loglik:.1f}",
            file=err,
        )
    else:
        print(f"BG/NBD: {model.bgnbd_status}", file=err)
    if model.gamma_gamma is not None:
        g = model.gamma_gamma
        print(f"Gamma-Gamma: p={g.p:.4g} q={g.q:.4g} v={g.v:.4g} loglik={g.loglik:.1f}", file=err)
    else:
        print(f"Gamma-Gamma: {model.gamma_gamma_status} (expected order value = own mean spend)", file=err)
    for note in model.notes:
        print(f"note: {note}", file=err)
    if model.pareto_share is not None:
        print(f"Pareto: the top 20% of customers bring {100 * model.pareto_share:.1f}% of revenue", file=err)
    counts = Counter(s for s in scores.segment.tolist() if s is not None)
    print("segments:", file=err)
    for name in SEGMENTS:
        print(f"  {name:<20} {counts.get(name, 0):>8}", file=err)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rm-score-csv",
        description="Score customers from a transaction CSV (RFM, segments, BG/NBD, Gamma-Gamma, CLV).",
    )
    p.add_argument("transactions", type=Path, help="input CSV: customer_id, date, amount")
    p.add_argument("scores", type=Path, help="output CSV, one row per customer")
    p.add_argument("--as-of", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: last date)")
    p.add_argument("--date-format", default=None, help="strptime format of the dates (default ISO)")
    p.add_argument("--delimiter", default=",", help="CSV delimiter (default ',')")
    p.add_argument("--cdnow", action="store_true", help="read the whitespace CDNOW format")
    p.add_argument("--horizon-days", type=float, default=90.0, help="expected-purchases horizon")
    p.add_argument("--clv-months", type=int, default=12, help="CLV horizon in months")
    p.add_argument("--discount-rate", type=float, default=0.01, help="monthly discount rate")
    p.add_argument("--partitions", type=int, default=1, help="summarise in N partitions, then merge")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    err = sys.stderr
    try:
        if args.cdnow:
            ids, dates, amounts = read_cdnow(args.transactions)
        else:
            ids, dates, amounts = read_transactions_csv(
                args.transactions, date_format=args.date_format, delimiter=args.delimiter
            )
    except (OSError, InputError) as exc:
        print(f"rm-score-csv: {exc}", file=err)
        return 2
    if ids.size == 0:
        print(f"rm-score-csv: {args.transactions}: no transactions", file=err)
        return 2
    as_of: date = args.as_of if args.as_of is not None else dates.max().astype(object)
    print(f"read {ids.size} transactions from {args.transactions}", file=err)
    frame = frame_from_transactions(ids, dates, amounts, as_of=as_of)
    try:
        config = ScoringConfig(
            as_of=as_of,
            horizon_days=args.horizon_days,
            clv_horizon_months=args.clv_months,
            monthly_discount_rate=args.discount_rate,
        )
    except ValueError as exc:
        print(f"rm-score-csv: {exc}", file=err)
        return 2
    model, scores = _run_engine(frame, config, args.partitions)
    _report(model, scores, err)
    written = _write_scores(args.scores, frame, scores)
    print(f"wrote {written} rows to {args.scores}", file=err)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
