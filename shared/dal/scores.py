"""Scores table: latest scores per customer."""

from __future__ import annotations

from collections.abc import Iterator

from pynamodb.exceptions import DoesNotExist

from shared.dal import customers
from shared.dal.models import ScoreModel


def get(customer_id: str) -> ScoreModel | None:
    try:
        return ScoreModel.get(customer_id)
    except DoesNotExist:
        return None


def delete(customer_id: str) -> None:
    ScoreModel(customer_id).delete()


def batch_get(customer_ids: list[str]) -> dict[str, ScoreModel]:
    found: dict[str, ScoreModel] = {}
    for start in range(0, len(customer_ids), 100):
        for item in ScoreModel.batch_get(customer_ids[start : start + 100]):
            found[item.customer_id] = item
    return found


def save_all(items: list[ScoreModel]) -> int:
    """Write scores, keeping only those of customers still on record; returns how many were kept.

    A scoring run reads the customers long before it writes: a person erased meanwhile must not get a
    score back. Write first, then check (see :mod:`shared.dal.customers`): a score written before the
    erasure started is deleted by the erasure, one written after it is deleted here.
    """
    if not items:
        return 0
    with ScoreModel.batch_write() as batch:
        for item in items:
            batch.save(item)
    live = customers.live_ids(item.customer_id for item in items)
    gone = [item for item in items if item.customer_id not in live]
    if gone:
        with ScoreModel.batch_write() as batch:
            for item in gone:
                batch.delete(ScoreModel(item.customer_id))
    return len(items) - len(gone)


def scan_all(segment: int = 0, total_segments: int = 1) -> Iterator[ScoreModel]:
    yield from ScoreModel.scan(segment=segment, total_segments=total_segments)
