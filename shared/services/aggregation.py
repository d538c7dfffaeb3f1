"""Aggregation service: apply one stored interaction to its customer's aggregates, exactly once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.dal import customers, interactions
from shared.events import InteractionTracked
from shared.settings import get_settings
from shared.tracking.aggregates import StoredInteraction, delta_of
from shared.tracking.engagement import CAMPAIGN_RELEVANT_KINDS, NOT_ACTIVITY_KINDS


def stored_interaction(image: Mapping[str, Any]) -> StoredInteraction:
    amount = image.get("amount")
    return StoredInteraction(
        customer_id=str(image["customer_id"]),
        event_id=str(image["event_id"]),
        kind=str(image["kind"]),
        occurred_at=datetime.fromisoformat(str(image["occurred_at"])),
        amount=float(amount) if amount is not None else None,
    )


def apply_together(records: Sequence[tuple[Mapping[str, Any], str]]) -> bool:
    """Count several new interactions of one customer, given in stream order with their sequence numbers,
    in one update of their aggregates; True when they are counted.

    False when nothing was written: some of them were counted already (a redelivered batch), or the
    profile is merged, being erased or gone. The caller then applies each with :func:`apply`, which
    recognises what was counted and forwards or deletes what must be (the same outcome as one by one:
    the update's condition and its first purchase day branch cover the group as they cover one record).
    """
    items = [stored_interaction(image) for image, _ in records]
    counted = [item for item in items if item.kind not in NOT_ACTIVITY_KINDS]
    if not counted:
        return True  # nothing of theirs is counted: each is only turned into its event
    customer_ids = {item.customer_id for item in items}
    if len(customer_ids) != 1:
        raise ValueError(f"records of several customers counted together: {sorted(customer_ids)}")
    delta = delta_of(counted, get_settings().engagement_half_life_days)
    return customers.apply_aggregates(counted[0].customer_id, delta, records[0][1], records[-1][1])


def event_of(image: Mapping[str, Any]) -> InteractionTracked | None:
    """The bus event of a counted interaction, when campaigns may react to it."""
    item = stored_interaction(image)
    if item.kind not in CAMPAIGN_RELEVANT_KINDS or image.get("merged_from"):
        return None
    properties = image.get("properties") or {}
    products = properties.get("products") or []
    return InteractionTracked(
        customer_id=item.customer_id,
        event_id=item.event_id,
        kind=item.kind,
        name=image.get("name"),
        occurred_at=item.occurred_at.isoformat(),
        amount=item.amount,
        currency=image.get("currency"),
        order_id=image.get("order_id"),
        product_ids=[
            str(p.get("product_id") or p.get("sku"))
            for p in products
            if isinstance(p, Mapping) and (p.get("product_id") or p.get("sku"))
        ],
    )


def apply(image: Mapping[str, Any], sequence_number: str) -> InteractionTracked | None:
    """Count a new interaction in its customer's aggregates (a no-op when already counted).

    Returns the bus event to publish when campaigns may react to it, also when the record was already
    counted: a record is only redelivered when its batch failed, possibly before or while its events
    were published, so publishing is at least once (consumers key their work on ``event_id``).
    """
    item = stored_interaction(image)
    if item.kind in NOT_ACTIVITY_KINDS:
        return None  # kept as a record of the channel, not counted as the person's activity
    delta = delta_of([item], get_settings().engagement_half_life_days)
    applied = customers.apply_aggregates(item.customer_id, delta, sequence_number, sequence_number)
    if not applied:
        state = customers.state(item.customer_id)
        if state.merged_into:
            # Stored for a profile merged meanwhile: it belongs to the survivor (counted there, once).
            interactions.forward(item.customer_id, str(image["event_key"]), state.merged_into)
            return None
        if not state.live:
            # Erased (or being erased) since it was resolved: a late write that must not outlive the
            # person. The erased id is never reused, so deleting it here loses nobody else's data.
            interactions.delete_one(item.customer_id, str(image["event_key"]))
            return None
    return event_of(image)
