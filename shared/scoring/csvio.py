"""Transaction files in, customer aggregates and score files out, for the offline command.

Two implementations with the same results:

* with the optional ``offline`` extra (pyarrow), the CSV is parsed and written by Arrow's multi-threaded,
  vectorised reader and writer, and customer ids are hashed by ``dictionary_encode`` — 3 M rows in about a
  second. pyarrow stays out of the Lambda layers (the scheduled run never reads a CSV);
* without it, the standard library's ``csv`` module (fine for small files).

Money is kept in integer minor units (``10 ** -money_decimals``; amounts are rounded to that) so that
totals are exact: ``13990.93`` is written as ``13990.93``. Model outputs (floats) are written with the
shortest representation that reads back as the same double.

Customers are numbered in the order of their first appearance in the file; the output keeps that order.
"""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from shared.scoring.engine import CustomerFrame, ScoreFrame

__all__ = [
    "HAVE_ARROW",
    "InputError",
    "Transactions",
    "customer_frame",
    "read_cdnow",
    "read_transactions_csv",
    "write_scores",
]

HAVE_ARROW = importlib.util.find_spec("pyarrow") is not None
_EPOCH = np.datetime64("1970-01-01", "D")


class InputError(ValueError):
    """The transaction file cannot be read."""


@dataclass(frozen=True)
class Transactions:
    """Parallel arrays: customer code (index into ``customer_ids``), day number, amount in minor units."""

    customer_ids: Any  # one id per code: a pyarrow StringArray or a numpy array of str
    code: NDArray[np.int64]
    day: NDArray[np.int64]  # days since 1970-01-01
    minor: NDArray[np.int64]  # amount in 10 ** -money_decimals units
    money_decimals: int

    @property
    def n_rows(self) -> int:
        return int(self.code.size)

    @property
    def n_customers(self) -> int:
        return len(self.customer_ids)

    def last_date(self) -> date:
        day: date = (_EPOCH + np.timedelta64(int(self.day.max()), "D")).astype(object)
        return day

    def until(self, as_of: date) -> Transactions:
        """The transactions on or before ``as_of`` (customer codes unchanged)."""
        keep = self.day <= _day_number(as_of)
        if bool(keep.all()):
            return self
        return Transactions(
            self.customer_ids, self.code[keep], self.day[keep], self.minor[keep], self.money_decimals
        )


def _day_number(d: date) -> int:
    return int((np.datetime64(d, "D") - _EPOCH).astype(np.int64))


def _to_minor(amounts: NDArray[np.float64], money_decimals: int, source: str) -> NDArray[np.int64]:
    if not np.all(np.isfinite(amounts)):
        raise InputError(f"{source}: an amount is not a finite number")
    return np.rint(amounts * 10.0**money_decimals).astype(np.int64)


def _codes_in_order_of_appearance(ids: list[str]) -> tuple[NDArray[np.str_], NDArray[np.int64]]:
    seen: dict[str, int] = {}
    codes = np.fromiter((seen.setdefault(i, len(seen)) for i in ids), dtype=np.int64, count=len(ids))
    return np.array(list(seen), dtype=str), codes


def _looks_like_header(row: list[str]) -> bool:
    return {c.strip().lower() for c in row} >= {"customer_id", "date", "amount"}


def _first_row(path: Path, delimiter: str) -> list[str] | None:
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter=delimiter):
            if row and any(c.strip() for c in row):
                return row
    return None


def read_transactions_csv(
    path: Path,
    *,
    date_format: str | None = None,
    delimiter: str = ",",
    money_decimals: int = 2,
    use_arrow: bool | None = None,
) -> Transactions:
    """Transactions from a CSV: ``customer_id, date, amount`` by header name, or the first three columns.

    Dates are ISO ``YYYY-MM-DD`` (a time part is ignored) unless ``date_format`` gives a ``strptime`` format.
    """
    first = _first_row(path, delimiter)
    if first is None:
        return Transactions(np.zeros(0, dtype=str), *(np.zeros(0, dtype=np.int64),) * 3, money_decimals)
    header = _looks_like_header(first)
    if use_arrow is None:
        use_arrow = HAVE_ARROW
    if use_arrow:
        return _read_arrow(path, first, header, date_format, delimiter, money_decimals)
    return _read_python(path, header, date_format, delimiter, money_decimals)


def _read_python(
    path: Path, header: bool, date_format: str | None, delimiter: str, money_decimals: int
) -> Transactions:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.reader(fh, delimiter=delimiter) if row and any(c.strip() for c in row)]
    cols = (0, 1, 2)
    if header:
        names = [c.strip().lower() for c in rows[0]]
        cols = (names.index("customer_id"), names.index("date"), names.index("amount"))
        rows = rows[1:]
    width = max(cols) + 1
    short = next((i for i, row in enumerate(rows) if len(row) < width), None)
    if short is not None:
        raise InputError(f"{path}: row {short + 1} has fewer than {width} columns")
    try:
        if date_format is None:
            days = np.array([row[cols[1]].strip()[:10] for row in rows], dtype="datetime64[D]")
        else:
            days = np.array(
                [datetime.strptime(row[cols[1]].strip(), date_format).date() for row in rows],
                dtype="datetime64[D]",
            )
    except ValueError as exc:
        raise InputError(f"{path}: cannot parse a date ({exc})") from exc
    try:
        amounts = np.array([float(row[cols[2]]) for row in rows], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{path}: cannot parse an amount ({exc})") from exc
    ids, codes = _codes_in_order_of_appearance([row[cols[0]].strip() for row in rows])
    return Transactions(
        ids,
        codes,
        (days - _EPOCH).astype(np.int64),
        _to_minor(amounts, money_decimals, str(path)),
        money_decimals,
    )


def _read_arrow(
    path: Path,
    first: list[str],
    header: bool,
    date_format: str | None,
    delimiter: str,
    money_decimals: int,
) -> Transactions:
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    if header:
        names = [c.strip() for c in first]
        lower = [n.lower() for n in names]
        id_col, date_col, amount_col = (names[lower.index(k)] for k in ("customer_id", "date", "amount"))
        read = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20)
    else:
        names = [f"c{i}" for i in range(len(first))]
        id_col, date_col, amount_col = names[0], names[1], names[2]
        read = pacsv.ReadOptions(column_names=names, block_size=16 << 20)
    convert = pacsv.ConvertOptions(
        include_columns=[id_col, date_col, amount_col],
        column_types={id_col: pa.string(), date_col: pa.string(), amount_col: pa.float64()},
        strings_can_be_null=False,
    )
    try:
        table = pacsv.read_csv(
            path,
            read_options=read,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=convert,
        )
    except (pa.ArrowInvalid, ValueError) as exc:
        what = "cannot parse an amount" if "conversion error" in str(exc) else "cannot read the file"
        raise InputError(f"{path}: {what} ({exc})") from exc
    raw_dates = table.column(date_col)
    try:
        if date_format is None:
            trimmed = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(raw_dates), 0, 10)
            stamps = pc.strptime(trimmed, "%Y-%m-%d", "s")
        else:
            stamps = pc.strptime(pc.utf8_trim_whitespace(raw_dates), date_format, "s")
        days = pc.cast(pc.cast(stamps, pa.date32()), pa.int32()).to_numpy().astype(np.int64)
    except (pa.ArrowInvalid, ValueError) as exc:
        raise InputError(f"{path}: cannot parse a date ({exc})") from exc
    if pc.any(pc.is_null(stamps)).as_py():
        raise InputError(f"{path}: a date is missing")
    del stamps, raw_dates
    amounts = table.column(amount_col).to_numpy()
    if table.column(amount_col).null_count:
        raise InputError(f"{path}: an amount is missing")
    encoded = pc.utf8_trim_whitespace(table.column(id_col)).combine_chunks().dictionary_encode()
    del table
    return Transactions(
        encoded.dictionary,
        encoded.indices.to_numpy().astype(np.int64),
        days,
        _to_minor(amounts, money_decimals, str(path)),
        money_decimals,
    )


def read_cdnow(path: Path, *, money_decimals: int = 2) -> Transactions:
    """Transactions of a CDNOW file (``CDNOW_master.txt`` / ``CDNOW_sample.txt``: whitespace separated,
    customer id first, date ``YYYYMMDD`` third from last, amount last; header lines skipped)."""
    ids: list[str] = []
    raw_dates: list[str] = []
    amounts: list[float] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            if len(fields) < 4 or not fields[-3].isdigit() or len(fields[-3]) != 8:
                continue  # header or blank line
            ids.append(fields[0])
            d = fields[-3]
            raw_dates.append(f"{d[:4]}-{d[4:6]}-{d[6:]}")
            try:
                amounts.append(float(fields[-1]))
            except ValueError as exc:
                raise InputError(f"{path}: cannot parse an amount ({exc})") from exc
    try:
        days = np.array(raw_dates, dtype="datetime64[D]")
    except ValueError as exc:
        raise InputError(f"{path}: cannot parse a date ({exc})") from exc
    unique_ids, codes = _codes_in_order_of_appearance(ids)
    return Transactions(
        unique_ids,
        codes,
        (days - _EPOCH).astype(np.int64),
        _to_minor(np.array(amounts, dtype=np.float64), money_decimals, str(path)),
        money_decimals,
    )


@dataclass(frozen=True)
class Aggregates:
    """Per-customer aggregates of a transaction log, with money in minor units (exact)."""

    frame: CustomerFrame
    total_minor: NDArray[np.int64]
    present: NDArray[np.intp]  # customer codes of the frame's rows


def customer_frame(tx: Transactions, as_of: date | None = None) -> Aggregates:
    """Customer aggregates (vectorised; one sort of the rows) of the transactions on or before ``as_of``.

    Customers whose first purchase is after ``as_of`` do not appear. The frame's ``customer_id`` holds the
    customer *codes* (cheap integers); :func:`write_scores` writes the ids.
    """
    if as_of is not None:
        tx = tx.until(as_of)
    if tx.n_rows == 0:
        return Aggregates(CustomerFrame.empty(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.intp))
    lo = int(tx.day.min())
    span = int(tx.day.max()) - lo + 1
    key = tx.code * span + (tx.day - lo)
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    new_pair = np.empty(sorted_key.size, dtype=bool)
    new_pair[0] = True
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=new_pair[1:])
    pair_of_sorted = np.cumsum(new_pair) - 1
    pair_key = sorted_key[new_pair]
    pair_minor = np.bincount(pair_of_sorted, weights=tx.minor[order].astype(np.float64))
    del order, sorted_key, pair_of_sorted, new_pair
    pair_code = pair_key // span
    pair_day = pair_key % span + lo
    n_codes = tx.n_customers
    purchase_days_all = np.bincount(pair_code, minlength=n_codes)
    present = np.flatnonzero(purchase_days_all > 0)
    starts = np.searchsorted(pair_code, present, side="left")
    ends = np.searchsorted(pair_code, present, side="right") - 1
    # Money sums of integers in float64 are exact below 2**53 minor units.
    total_minor = np.rint(np.bincount(tx.code, weights=tx.minor.astype(np.float64), minlength=n_codes))
    unit = 10.0**-tx.money_decimals
    frame = CustomerFrame(
        customer_id=present.astype(object),
        first_purchase=_EPOCH + pair_day[starts].astype("timedelta64[D]"),
        last_purchase=_EPOCH + pair_day[ends].astype("timedelta64[D]"),
        purchase_days=purchase_days_all[present].astype(np.int64),
        purchase_count=np.bincount(tx.code, minlength=n_codes)[present].astype(np.int64),
        total_spent=total_minor[present] * unit,
        first_day_spent=np.asarray(pair_minor[starts] * unit, dtype=np.float64),
    )
    return Aggregates(frame, total_minor[present].astype(np.int64), present)


# --------------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------------

_INT_SCORES = ("recency_score", "frequency_score", "monetary_score", "fm_score")
_FLOAT_SCORES = ("lead_score", "p_alive", "churn_risk", "expected_purchases", "expected_order_value", "clv")


def _decimal_text(minor: NDArray[np.int64], decimals: int) -> list[str]:
    sign = np.where(minor < 0, "-", "")
    mag = np.abs(minor)
    if decimals == 0:
        return [f"{s}{m}" for s, m in zip(sign.tolist(), mag.tolist(), strict=True)]
    scale = 10**decimals
    return [
        f"{s}{m // scale}.{m % scale:0{decimals}d}" for s, m in zip(sign.tolist(), mag.tolist(), strict=True)
    ]


def _columns(agg: Aggregates, scores: ScoreFrame) -> Mapping[str, Any]:
    f = agg.frame
    return {
        "first_purchase": f.first_purchase,
        "last_purchase": f.last_purchase,
        "purchase_days": f.purchase_days,
        "purchase_count": f.purchase_count,
        **{name: getattr(scores, name) for name in (*_INT_SCORES, *_FLOAT_SCORES, "segment", "stage")},
    }


def write_scores(
    path: Path,
    tx: Transactions,
    agg: Aggregates,
    scores: ScoreFrame,
    columns: tuple[str, ...],
    *,
    use_arrow: bool | None = None,
) -> int:
    """Write one row per customer in ``columns`` order; empty cells are not-applicable values."""
    if use_arrow is None:
        use_arrow = HAVE_ARROW
    if use_arrow:
        _write_arrow(path, tx, agg, scores, columns)
    else:
        _write_python(path, tx, agg, scores, columns)
    return len(agg.frame)


def _write_arrow(
    path: Path, tx: Transactions, agg: Aggregates, scores: ScoreFrame, columns: tuple[str, ...]
) -> None:
    import pyarrow as pa
    from pyarrow import csv as pacsv

    n = len(agg.frame)
    ids = tx.customer_ids
    ids_arrow = ids.take(pa.array(agg.present)) if isinstance(ids, pa.Array) else pa.array(ids[agg.present])
    # decimal128 from the exact minor units: 16-byte little-endian two's complement per value.
    words = np.empty((n, 2), dtype=np.int64)
    words[:, 0] = agg.total_minor
    words[:, 1] = agg.total_minor >> 63
    money = pa.Array.from_buffers(
        pa.decimal128(38, tx.money_decimals), n, [None, pa.py_buffer(words.tobytes())]
    )
    src = _columns(agg, scores)
    arrays: dict[str, Any] = {"customer_id": ids_arrow, "total_spent": money}
    for name in columns:
        if name in arrays:
            continue
        values = src[name]
        if name in _INT_SCORES:
            arrays[name] = pa.array(values, mask=values <= 0)
        elif name in _FLOAT_SCORES:
            arrays[name] = pa.array(values, mask=~np.isfinite(values))
        elif values.dtype == object:
            arrays[name] = pa.array(values, type=pa.string(), from_pandas=True)
        else:
            arrays[name] = pa.array(values)
    table = pa.table({name: arrays[name] for name in columns})
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _write_python(
    path: Path, tx: Transactions, agg: Aggregates, scores: ScoreFrame, columns: tuple[str, ...]
) -> None:
    src = _columns(agg, scores)
    cells: dict[str, list[str]] = {
        "customer_id": [str(i) for i in np.asarray(tx.customer_ids)[agg.present].tolist()],
        "total_spent": _decimal_text(agg.total_minor, tx.money_decimals),
    }
    for name in columns:
        if name in cells:
            continue
        values = src[name]
        if name in _INT_SCORES:
            cells[name] = [str(v) if v > 0 else "" for v in values.tolist()]
        elif name in _FLOAT_SCORES:
            cells[name] = [repr(v) if np.isfinite(v) else "" for v in values.tolist()]
        elif values.dtype.kind == "M":
            cells[name] = values.astype(str).tolist()
        else:
            cells[name] = ["" if v is None else str(v) for v in values.tolist()]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        writer.writerows(zip(*(cells[c] for c in columns), strict=True))
