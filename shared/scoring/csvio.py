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
    "Aggregates",
    "InputError",
    "ScoreWriter",
    "Transactions",
    "customer_frame",
    "read_cdnow",
    "read_transactions_csv",
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
        read_options = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=16 << 20)
    else:
        names = [f"c{i}" for i in range(len(first))]
        id_col, date_col, amount_col = names[0], names[1], names[2]
        read_options = pacsv.ReadOptions(column_names=names, block_size=16 << 20)

    def read(date_type: Any) -> Any:
        convert = pacsv.ConvertOptions(
            include_columns=[id_col, date_col, amount_col],
            column_types={id_col: pa.string(), date_col: date_type, amount_col: pa.float64()},
            strings_can_be_null=False,
        )
        return pacsv.read_csv(
            path,
            read_options=read_options,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=convert,
        )

    # Plain ISO dates parse straight to date32 in the reader; a time part or another format goes through
    # strptime on the strings.
    try:
        try:
            table = read(pa.string() if date_format is not None else pa.date32())
        except pa.ArrowInvalid as exc:
            if date_format is not None or "date32" not in str(exc):
                raise
            table = read(pa.string())
    except (pa.ArrowInvalid, ValueError) as exc:
        what = "cannot parse an amount" if "conversion error" in str(exc) else "cannot read the file"
        raise InputError(f"{path}: {what} ({exc})") from exc
    raw_dates = table.column(date_col)
    try:
        if raw_dates.type == pa.date32():
            stamps = raw_dates
        elif date_format is None:
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
    encoded = table.column(id_col).combine_chunks().dictionary_encode()
    del table
    pa.default_memory_pool().release_unused()  # hand the parser's buffers back to the system
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

    def take(self, index: NDArray[np.intp]) -> Aggregates:
        return Aggregates(self.frame.take(index), self.total_minor[index], self.present[index])


def customer_frame(tx: Transactions, as_of: date | None = None) -> Aggregates:
    """Customer aggregates (vectorised; one sort of the rows) of the transactions on or before ``as_of``.

    Customers whose first purchase is after ``as_of`` do not appear. The frame's ``customer_id`` holds the
    customer *codes* (cheap integers); :func:`write_scores` writes the ids.
    """
    if as_of is not None:
        tx = tx.until(as_of)
    if tx.n_rows == 0:
        return Aggregates(CustomerFrame.empty(), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.intp))
    n_codes = tx.n_customers
    code, day = tx.code, tx.day
    first_day = np.full(n_codes, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_day, code, day)
    last_day = np.full(n_codes, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_day, code, day)
    count = np.bincount(code, minlength=n_codes)
    present = np.flatnonzero(count > 0)
    minor = tx.minor.astype(np.float64)
    # Spend of the first purchase day: the rows on their customer's first day (no sort needed).
    first_minor = np.bincount(code, weights=np.where(day == first_day[code], minor, 0.0), minlength=n_codes)
    # Distinct purchase days: one sort of a (customer, day) key (numpy's SIMD sort; argsort is 10x slower).
    lo = int(day.min())
    span = int(day.max()) - lo + 1
    key = np.sort(code * span + (day - lo))
    distinct = np.empty(key.size, dtype=bool)
    distinct[0] = True
    np.not_equal(key[1:], key[:-1], out=distinct[1:])
    purchase_days_all = np.bincount(key[distinct] // span, minlength=n_codes)
    del key, distinct
    # Money sums of integers in float64 are exact below 2**53 minor units.
    total_minor = np.rint(np.bincount(code, weights=minor, minlength=n_codes))
    unit = 10.0**-tx.money_decimals
    frame = CustomerFrame(
        customer_id=present,
        first_purchase=_EPOCH + first_day[present].astype("timedelta64[D]"),
        last_purchase=_EPOCH + last_day[present].astype("timedelta64[D]"),
        purchase_days=purchase_days_all[present].astype(np.int64),
        purchase_count=count[present].astype(np.int64),
        total_spent=total_minor[present] * unit,
        first_day_spent=np.asarray(first_minor[present] * unit, dtype=np.float64),
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


class ScoreWriter:
    """Writes the score file in chunks of customers (bounded memory), one row per customer in ``columns``
    order; empty cells are not-applicable values. Use as a context manager."""

    def __init__(
        self,
        path: Path,
        customer_ids: Any,
        money_decimals: int,
        columns: tuple[str, ...],
        *,
        use_arrow: bool | None = None,
    ) -> None:
        self.path = path
        self.customer_ids = customer_ids
        self.money_decimals = money_decimals
        self.columns = columns
        self.use_arrow = HAVE_ARROW if use_arrow is None else use_arrow
        self.rows = 0
        self._arrow_writer: Any = None
        self._fh: Any = None
        self._csv: Any = None

    def __enter__(self) -> ScoreWriter:
        if not self.use_arrow:
            self._fh = self.path.open("w", newline="", encoding="utf-8")
            self._csv = csv.writer(self._fh)
            self._csv.writerow(self.columns)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._arrow_writer is not None:
            self._arrow_writer.close()
        elif self.use_arrow and self.rows == 0:
            self.path.write_text(",".join(self.columns) + "\n", encoding="utf-8")
        if self._fh is not None:
            self._fh.close()

    def write(self, agg: Aggregates, scores: ScoreFrame) -> None:
        if self.use_arrow:
            from pyarrow import csv as pacsv

            table = _arrow_table(self.customer_ids, self.money_decimals, agg, scores, self.columns)
            if self._arrow_writer is None:
                options = pacsv.WriteOptions(quoting_style="needed")
                self._arrow_writer = pacsv.CSVWriter(self.path, table.schema, write_options=options)
            self._arrow_writer.write_table(table)
        else:
            self._csv.writerows(
                _python_rows(self.customer_ids, self.money_decimals, agg, scores, self.columns)
            )
        self.rows += len(agg.frame)


def _arrow_table(
    customer_ids: Any, money_decimals: int, agg: Aggregates, scores: ScoreFrame, columns: tuple[str, ...]
) -> Any:
    import pyarrow as pa

    n = len(agg.frame)
    ids = customer_ids
    ids_arrow = ids.take(pa.array(agg.present)) if isinstance(ids, pa.Array) else pa.array(ids[agg.present])
    # decimal128 from the exact minor units: 16-byte little-endian two's complement per value.
    words = np.empty((n, 2), dtype=np.int64)
    words[:, 0] = agg.total_minor
    words[:, 1] = agg.total_minor >> 63
    money = pa.Array.from_buffers(pa.decimal128(38, money_decimals), n, [None, pa.py_buffer(words.tobytes())])
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
    return pa.table({name: arrays[name] for name in columns})


def _python_rows(
    customer_ids: Any, money_decimals: int, agg: Aggregates, scores: ScoreFrame, columns: tuple[str, ...]
) -> Any:
    src = _columns(agg, scores)
    cells: dict[str, list[str]] = {
        "customer_id": [str(i) for i in np.asarray(customer_ids)[agg.present].tolist()],
        "total_spent": _decimal_text(agg.total_minor, money_decimals),
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
    return zip(*(cells[c] for c in columns), strict=True)
