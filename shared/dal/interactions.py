"""Interactions table: one conditional put per interaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError

from shared.dal.errors import is_conditional_failure
from shared.dal.models import InteractionModel
from shared.tracking.normalise import Interaction


def event_key(event_id: str) -> str:
    return f"evt#{event_id}"


def to_model(customer_id: str, interaction: Interaction, ttl_days: int) -> InteractionModel:
    expires = interaction.received_at + timedelta(days=ttl_days)
    return InteractionModel(
        customer_id,
        event_key(interaction.event_id),
        event_id=interaction.event_id,
        kind=interaction.kind,
        name=interaction.name,
        occurred_at=interaction.occurred_at.isoformat(),
        received_at=interaction.received_at.isoformat(),
        source=interaction.source,
        amount=interaction.amount,
        currency=interaction.currency,
        order_id=interaction.order_id,
        properties=interaction.properties or None,
        expires_at=int(expires.timestamp()),
    )


def put_new(item: InteractionModel) -> bool:
    """Store the interaction unless it is already stored (same customer and event id). True if new."""
    try:
        item.save(condition=InteractionModel.event_key.does_not_exist())
    except PutError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def exists(customer_id: str, event_id: str) -> bool:
    return InteractionModel.count(customer_id, InteractionModel.event_key == event_key(event_id)) > 0


def for_customer(customer_id: str) -> Iterator[InteractionModel]:
    yield from InteractionModel.query(customer_id)


def delete_all(customer_id: str) -> int:
    deleted = 0
    with InteractionModel.batch_write() as batch:
        for item in InteractionModel.query(
            customer_id, consistent_read=True, attributes_to_get=["customer_id", "event_key"]
        ):
            batch.delete(item)
            deleted += 1
    return deleted


def _move(item: InteractionModel, from_customer: str, to_customer: str) -> None:
    attributes: dict[str, Any] = item.attribute_values.copy()
    attributes.pop("customer_id", None)
    attributes.pop("event_key", None)
    attributes["merged_from"] = from_customer
    put_new(InteractionModel(to_customer, item.event_key, **attributes))
    delete_one(from_customer, item.event_key)


def move_all(from_customer: str, to_customer: str) -> int:
    """Copy a customer's interactions to another one (each once), then delete the originals.

    The copies enter the stream as new interactions of ``to_customer``, so its aggregates include them.
    Strongly consistent: every interaction stored before the merged profile was marked is moved; one
    stored after it is forwarded by the stream consumer (:func:`forward`).
    """
    moved = 0
    for item in InteractionModel.query(from_customer, consistent_read=True):
        _move(item, from_customer, to_customer)
        moved += 1
    return moved


def forward(from_customer: str, key: str, to_customer: str) -> bool:
    """Move one interaction of a merged customer to its survivor (False if it is no longer there)."""
    try:
        item = InteractionModel.get(from_customer, key, consistent_read=True)
    except DoesNotExist:
        return False
    _move(item, from_customer, to_customer)
    return True


def delete_one(customer_id: str, key: str) -> None:
    try:
        InteractionModel(customer_id, key).delete()
    except DeleteError as exc:
        if not is_conditional_failure(exc):
            raise


def recent_purchases(limit: int) -> Iterator[InteractionModel]:
    """Up to ``limit`` purchases (a sample for product recommendations)."""
    yield from InteractionModel.scan(InteractionModel.kind == "purchase", limit=limit)
