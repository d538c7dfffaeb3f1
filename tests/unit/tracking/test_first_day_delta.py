"""The first purchase day of a group of interactions and its spend (pure part of the aggregates)."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.tracking.aggregates import StoredInteraction, delta_of, first_purchase_day


def test_first_purchase_day_sums_the_orders_of_the_earliest_day() -> None:
    day = datetime(2026, 3, 10, 9, tzinfo=UTC)
    items = [
        StoredInteraction("c", "e1", "purchase", day.replace(day=12), 40.0),
        StoredInteraction("c", "e2", "purchase", day, 10.1),
        StoredInteraction("c", "e3", "purchase", day.replace(hour=23), 0.2),
        StoredInteraction("c", "e4", "page_view", day.replace(day=1)),  # not a purchase: ignored
        StoredInteraction("c", "e5", "purchase", day.replace(day=11), None),
    ]
    delta = delta_of(items, 30.0)
    assert delta.spent_by_day == {"2026-03-10": 10.3, "2026-03-11": 0.0, "2026-03-12": 40.0}
    assert first_purchase_day(delta) == ("2026-03-10", 10.3)
    assert delta.spent == 50.3


def test_no_purchase_no_first_day() -> None:
    delta = delta_of([StoredInteraction("c", "e1", "page_view", datetime(2026, 1, 1, tzinfo=UTC))], 30.0)
    assert first_purchase_day(delta) is None
