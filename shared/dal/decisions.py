"""Campaign decisions table."""

from __future__ import annotations

from collections.abc import Iterator

from pynamodb.exceptions import DeleteError

from shared.dal.errors import is_conditional_failure
from shared.dal.models import DecisionModel


def for_customer(customer_id: str) -> Iterator[DecisionModel]:
    yield from DecisionModel.query(customer_id)


def discard(item: DecisionModel) -> None:
    """Delete one decision (one just recorded for a person whose erasure started meanwhile)."""
    try:
        DecisionModel(item.customer_id, item.decision_key).delete()
    except DeleteError as exc:
        if not is_conditional_failure(exc):
            raise


def delete_all(customer_id: str) -> int:
    """Delete every decision of a customer (strongly consistent: none recorded just before is missed)."""
    deleted = 0
    with DecisionModel.batch_write() as batch:
        for item in DecisionModel.query(
            customer_id, consistent_read=True, attributes_to_get=["customer_id", "decision_key"]
        ):
            batch.delete(item)
            deleted += 1
    return deleted
