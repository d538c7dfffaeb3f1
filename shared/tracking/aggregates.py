"""Customer aggregates: what a group of new interactions adds to a customer's record (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from shared.tracking.engagement import decay_weight, engagement_kind


@dataclass(frozen=True)
class StoredInteraction:
    """The fields of an interaction that aggregates need (as read from the stream's new image)."""

    customer_id: str
    event_id: str
    kind: str
    occurred_at: datetime
    amount: float | None = None


@dataclass
class AggregateDelta:
    interactions: int = 0
    purchases: int = 0
    spent: float = 0.0
    purchase_days: set[str] = field(default_factory=set)
    # Spend per purchase day of this delta (Gamma-Gamma needs the spend of the customer's *first* day).
    spent_by_day: dict[str, float] = field(default_factory=dict)
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    engagement_counts: dict[str, int] = field(default_factory=dict)
    engagement_weights: dict[str, float] = field(default_factory=dict)


def delta_of(interactions: Iterable[StoredInteraction], half_life_days: float) -> AggregateDelta:
    delta = AggregateDelta()
    for item in interactions:
        delta.interactions += 1
        when = item.occurred_at
        delta.first_seen = when if delta.first_seen is None else min(delta.first_seen, when)
        delta.last_seen = when if delta.last_seen is None else max(delta.last_seen, when)
        if item.kind == "purchase":
            delta.purchases += 1
            delta.spent += item.amount or 0.0
            day = when.date().isoformat()
            delta.purchase_days.add(day)
            delta.spent_by_day[day] = delta.spent_by_day.get(day, 0.0) + (item.amount or 0.0)
        bucket = engagement_kind(item.kind)
        if bucket is not None:
            delta.engagement_counts[bucket] = delta.engagement_counts.get(bucket, 0) + 1
            delta.engagement_weights[bucket] = delta.engagement_weights.get(bucket, 0.0) + decay_weight(
                when, half_life_days
            )
    delta.spent = round(delta.spent, 2)
    delta.spent_by_day = {day: round(v, 2) for day, v in delta.spent_by_day.items()}
    return delta


def first_purchase_day(delta: AggregateDelta) -> tuple[str, float] | None:
    """The earliest purchase day of ``delta`` and its spend (``None`` without purchases)."""
    if not delta.spent_by_day:
        return None
    day = min(delta.spent_by_day)
    return day, delta.spent_by_day[day]
