"""RejectedCalls table: calls the tracking API refused, one partition per day, expiring by TTL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from shared.dal.models import RejectedCallModel


def put_all(items: Iterable[RejectedCallModel]) -> None:
    with RejectedCallModel.batch_write() as batch:
        for item in items:
            batch.save(item)


def newest_of_day(day: str, limit: int) -> Iterator[RejectedCallModel]:
    """The day's rejected calls, newest first."""
    return RejectedCallModel.query(day, scan_index_forward=False, limit=limit)
