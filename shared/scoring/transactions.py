"""Customer aggregates from a transaction log (the offline path; the cloud keeps them up to date on write).

``frame_from_transactions`` turns parallel arrays ``(customer_id, date, amount)`` into a
:class:`~shared.scoring.engine.CustomerFrame`: first and last purchase day, distinct purchase days, number
of transactions, total spent, and the spend of the first purchase day (Gamma-Gamma uses the repeat days).
Transactions after ``as_of`` are dropped (calibration period, as lifetimes'
``summary_data_from_transaction_data`` with ``observation_period_end``); customers whose first purchase is
after ``as_of`` therefore do not appear.
"""

from __future__ import annotations

from datetime import date

import numpy as np
from numpy.typing import ArrayLike

from shared.scoring.engine import CustomerFrame

__all__ = ["frame_from_transactions"]


def frame_from_transactions(
    customer_ids: ArrayLike,
    dates: ArrayLike,
    amounts: ArrayLike,
    *,
    as_of: date | None = None,
) -> CustomerFrame:
    """Aggregate transactions per customer (vectorised). ``dates`` are anything ``datetime64[D]`` accepts."""
    ids = np.asarray(customer_ids).astype(str).reshape(-1)
    days = np.asarray(dates).astype("datetime64[D]").reshape(-1)
    spent = np.asarray(amounts, dtype=np.float64).reshape(-1)
    if not (ids.shape == days.shape == spent.shape):
        raise ValueError("customer_ids, dates and amounts must have the same length")
    if np.any(np.isnat(days)):
        raise ValueError("every transaction needs a date")
    if as_of is not None:
        keep = days <= np.datetime64(as_of, "D")
        ids, days, spent = ids[keep], days[keep], spent[keep]
    if ids.size == 0:
        return CustomerFrame.empty()

    unique_ids, cust = np.unique(ids, return_inverse=True)
    cust = cust.reshape(-1).astype(np.int64)
    n = unique_ids.size
    day_num = (days - np.datetime64("1970-01-01", "D")).astype(np.int64)
    lo = int(day_num.min())
    span = int(day_num.max()) - lo + 1
    # Distinct (customer, day), sorted by customer then day, and the spend of each.
    pair, pair_of_row = np.unique(cust * span + (day_num - lo), return_inverse=True)
    pair_spent = np.bincount(pair_of_row.reshape(-1), weights=spent, minlength=pair.size)
    pair_cust = pair // span
    pair_day = pair % span + lo
    purchase_days = np.bincount(pair_cust, minlength=n).astype(np.int64)
    starts = np.searchsorted(pair_cust, np.arange(n), side="left")
    ends = np.searchsorted(pair_cust, np.arange(n), side="right") - 1
    epoch = np.datetime64("1970-01-01", "D")
    return CustomerFrame(
        customer_id=unique_ids.astype(object),
        first_purchase=epoch + pair_day[starts].astype("timedelta64[D]"),
        last_purchase=epoch + pair_day[ends].astype("timedelta64[D]"),
        purchase_days=purchase_days,
        purchase_count=np.bincount(cust, minlength=n).astype(np.int64),
        total_spent=np.asarray(np.bincount(cust, weights=spent, minlength=n), dtype=np.float64),
        first_day_spent=np.asarray(pair_spent[starts], dtype=np.float64),
    )
