"""RejectedCalls table: calls the tracking API refused, one partition per day, expiring by TTL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from shared.dal.models import RejectedCallModel
from shared.dal.records import RejectedCallRecord, record_of


def put_all(records: Iterable[RejectedCallRecord]) -> None:
    with RejectedCallModel.batch_write() as batch:
        for record in records:
            batch.save(RejectedCallModel(**record.model_dump()))


def newest_of_day(day: str, limit: int) -> Iterator[RejectedCallRecord]:
    """The day's rejected calls, newest first."""
    for item in RejectedCallModel.query(day, scan_index_forward=False, limit=limit):
        yield record_of(RejectedCallRecord, item)
