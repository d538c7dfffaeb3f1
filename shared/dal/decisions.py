"""Campaign decisions table."""

from __future__ import annotations

from collections.abc import Iterator

from shared.dal.models import DecisionModel


def for_customer(customer_id: str) -> Iterator[DecisionModel]:
    yield from DecisionModel.query(customer_id)


def delete_all(customer_id: str) -> int:
    deleted = 0
    with DecisionModel.batch_write() as batch:
        for item in DecisionModel.query(customer_id):
            batch.delete(item)
            deleted += 1
    return deleted
