"""The first purchase day and its spend in the aggregates (Gamma-Gamma's repeat-only convention needs it):
exact when purchases arrive out of order, once per record when a stream batch is redelivered."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from infra.local.demo import Client
from infra.local.dispatcher import load_handler
from infra.local.lambda_context import LocalContext
from infra.local.stack import LocalStack
from shared.dal import customers
from shared.dal.models import CustomerModel, IdentityModel
from shared.services.scoring import _frame
from shared.tracking.aggregates import StoredInteraction, delta_of
from tests.helpers import unique


def _buy(client: Client, user: str, when: datetime, total: float) -> None:
    status, body, _ = client.call(
        "POST",
        "/v1/track",
        {
            "userId": user,
            "event": "Order Completed",
            "timestamp": when.isoformat(),
            "properties": {"order_id": unique("o"), "total": total},
        },
    )
    assert status == 200, body


def test_first_day_spend_is_exact_out_of_order(stack: LocalStack, client: Client) -> None:
    user = unique("firstday")
    base = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=30)
    # Arrival order: day 10, day 5, day 5 (same day), day 12, day 3, day 3, day 8.
    for offset, total in ((10, 20.0), (5, 7.25), (5, 3.5), (12, 50.0)):
        _buy(client, user, base + timedelta(days=offset), total)
        stack.drain()  # one at a time: each purchase is applied after the previous one
    customer_id = str(IdentityModel.get(f"user:{user}").customer_id)
    item = CustomerModel.get(customer_id, consistent_read=True)
    assert item.first_purchase_day == (base + timedelta(days=5)).date().isoformat()
    assert float(item.first_day_spent) == 10.75

    # An earlier day arrives late, with two orders, then a later day.
    for offset, total in ((3, 1.1), (3, 2.2), (8, 9.0)):
        _buy(client, user, base + timedelta(days=offset), total)
    stack.drain()
    item = CustomerModel.get(customer_id, consistent_read=True)
    assert item.first_purchase_day == (base + timedelta(days=3)).date().isoformat()
    assert float(item.first_day_spent) == 3.3
    assert float(item.total_spent) == 93.05
    assert len(item.purchase_days) == 5

    # The scoring run sees the repeat days' spend: total minus the first day.
    frame = _frame([item])
    assert frame.first_day_spent.tolist() == [3.3]
    assert frame.purchase_days.tolist() == [5]


def test_redelivered_batch_does_not_add_the_first_day_twice(stack: LocalStack, client: Client) -> None:
    user = unique("firstday-retry")
    when = datetime.now(UTC).replace(hour=9) - timedelta(days=2)
    _buy(client, user, when, 15.0)
    assert stack.dispatcher is not None
    cursor = next(c for f, c in stack.dispatcher._cursors if f == "aggregate")
    records = stack.dispatcher._read_stream(cursor)
    event = {"Records": [stack.dispatcher._lambda_stream_record(r, cursor.stream_arn) for r in records]}
    aggregate = load_handler("aggregate")
    for _ in range(3):
        assert aggregate(event, LocalContext("aggregate")) == {"batchItemFailures": []}
    stack.drain()
    _buy(client, user, when, 5.0)  # same day, later order
    stack.drain()
    item = CustomerModel.get(str(IdentityModel.get(f"user:{user}").customer_id), consistent_read=True)
    assert item.first_purchase_day == when.date().isoformat()
    assert float(item.first_day_spent) == 20.0
    assert float(item.total_spent) == 20.0


def test_purchases_counted_before_the_first_day_was_kept_stay_unknown(stack: LocalStack) -> None:
    """A profile whose purchases were counted before this field existed: its first day's spend is unknown,
    and a later (or earlier) purchase must not pretend to be the first day. Scoring falls back for it."""
    customer_id = unique("legacy")
    CustomerModel(customer_id, purchase_days={"2026-01-01"}, purchase_count=1, total_spent=5).save()
    for seq, day in (("100", 5), ("101", 1)):  # a later day, then an earlier one, each its own record
        item = StoredInteraction(
            customer_id, unique("e"), "purchase", datetime(2025, 12, day, 10, tzinfo=UTC), 7.0
        )
        assert customers.apply_aggregates(customer_id, delta_of([item], 30.0), seq, seq)
        assert not customers.apply_aggregates(customer_id, delta_of([item], 30.0), seq, seq)  # redelivery
    stored = CustomerModel.get(customer_id, consistent_read=True)
    assert stored.first_purchase_day is None
    assert stored.first_day_spent is None
    assert float(stored.total_spent) == 19.0
    assert math.isnan(_frame([stored]).first_day_spent[0])
