"""Campaign decisions table."""

from __future__ import annotations

from collections.abc import Iterator

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.update import Action

from shared.dal.errors import is_conditional_failure
from shared.dal.models import DecisionModel


def for_customer(customer_id: str) -> Iterator[DecisionModel]:
    yield from DecisionModel.query(customer_id)


def discard(customer_id: str, decision_key: str) -> None:
    """Delete one decision (one just recorded for a person whose erasure started meanwhile)."""
    try:
        DecisionModel(customer_id, decision_key).delete()
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


def record_delivery(customer_id: str, decision_key: str, outcome: str, reason: str | None) -> bool:
    """Turn a ``queued`` decision into what the channel did (``sent``, ``failed`` or ``skipped``), once;
    a ``failed`` one may still become ``sent`` (a retried or redriven message SES accepted). False if
    there is nothing to change (already resolved, or deleted by an erasure: nothing is recreated)."""
    actions: list[Action] = [DecisionModel.outcome.set(outcome)]
    if reason:
        actions.append(DecisionModel.reason.set(reason[:500]))
    else:
        actions.append(DecisionModel.reason.remove())
    try:
        DecisionModel(customer_id, decision_key).update(
            actions=actions, condition=DecisionModel.outcome.is_in("queued", "failed")
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True
