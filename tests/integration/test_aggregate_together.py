"""The stream consumer counts a customer's records of one batch in one update, with the same aggregates as
record by record: out of order, redelivered, and when part of the batch was counted by an earlier one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local.demo import Client
from infra.local.dispatcher import load_handler
from infra.local.lambda_context import LocalContext
from infra.local.stack import LocalStack
from shared.dal.models import CustomerModel, IdentityModel
from tests.helpers import unique

BASE = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=40)
# Arrival order: days out of order, two orders on one day, a page view and a contact form between them.
ACTIVITY: list[tuple[str, int, float | None]] = [
    ("purchase", 10, 20.0),
    ("page", 11, None),
    ("purchase", 4, 7.25),
    ("purchase", 4, 3.5),
    ("contact", 2, None),
    ("purchase", 12, 50.0),
]
AGGREGATES = (
    "interaction_count",
    "purchase_count",
    "total_spent",
    "purchase_days",
    "first_purchase_day",
    "first_day_spent",
    "first_seen_at",
    "last_seen_at",
    "cnt_page_view",
    "cnt_other",
)


def _act(client: Client, user: str) -> None:
    for kind, day, total in ACTIVITY:
        when = (BASE + timedelta(days=day)).isoformat()
        if kind == "purchase":
            path = "/v1/track"
            body: dict[str, Any] = {
                "userId": user,
                "event": "Order Completed",
                "timestamp": when,
                "properties": {"order_id": unique("o"), "total": total},
            }
        elif kind == "page":
            path, body = "/v1/page", {"userId": user, "name": "Home", "timestamp": when}
        else:
            path = "/v1/track"
            body = {"userId": user, "event": "Contact Requested", "timestamp": when}
        status, answer, _ = Client.call(client, "POST", path, body)
        assert status == 200, answer


def _stream_records(stack: LocalStack) -> tuple[list[dict[str, Any]], str]:
    """The aggregate consumer's pending stream records, as Lambda would deliver them (not delivered)."""
    assert stack.dispatcher is not None
    cursor = next(c for f, c in stack.dispatcher._cursors if f == "aggregate")
    records = stack.dispatcher._read_stream(cursor)
    return [stack.dispatcher._lambda_stream_record(r, cursor.stream_arn) for r in records], cursor.stream_arn


def _customer_of(user: str) -> str:
    return str(IdentityModel.get(f"user:{user}").customer_id)


def _records_of(records: list[dict[str, Any]], customer_id: str) -> list[dict[str, Any]]:
    inserts = [r for r in records if r["eventName"] == "INSERT"]
    return [r for r in inserts if r["dynamodb"]["NewImage"]["customer_id"]["S"] == customer_id]


def _aggregates(customer_id: str) -> dict[str, Any]:
    item = CustomerModel.get(customer_id, consistent_read=True)
    return {name: getattr(item, name) for name in AGGREGATES} | {
        "eng_page_view": round(float(item.eng_page_view or 0), 9)
    }


def _deliver(records: list[dict[str, Any]]) -> None:
    aggregate = load_handler("aggregate")
    assert aggregate({"Records": records}, LocalContext("aggregate")) == {"batchItemFailures": []}


def _updates(stack: LocalStack) -> int:
    assert stack.moto is not None
    return int(stack.moto.request_counts()["requests"].get("UpdateItem", 0))


@pytest.fixture
def two_people(stack: LocalStack, client: Client) -> tuple[str, str, list[dict[str, Any]]]:
    """Two people with the same activity, stored and not yet counted; their stream records."""
    stack.drain()  # nothing of other tests left on the stream
    together, alone = unique("together"), unique("alone")
    _act(client, together)
    _act(client, alone)
    records, _ = _stream_records(stack)
    return _customer_of(together), _customer_of(alone), records


def test_one_batch_is_counted_in_one_update_with_the_aggregates_of_one_by_one(
    stack: LocalStack, two_people: tuple[str, str, list[dict[str, Any]]]
) -> None:
    together, alone, records = two_people
    assert len(_records_of(records, together)) == len(ACTIVITY)
    before = _updates(stack)
    _deliver(_records_of(records, together))
    # One update counts the six records; out-of-order times may need their seen bounds put back (two
    # more at most). Record by record it is six updates at least.
    assert _updates(stack) - before <= 3
    for record in _records_of(records, alone):
        _deliver([record])
    assert _aggregates(together) == _aggregates(alone)
    assert _aggregates(together)["purchase_count"] == 4
    assert float(_aggregates(together)["first_day_spent"]) == 10.75
    stack.drain()


def test_a_redelivered_batch_counts_nothing_twice(
    stack: LocalStack, two_people: tuple[str, str, list[dict[str, Any]]]
) -> None:
    together, alone, records = two_people
    for _ in range(3):
        _deliver(_records_of(records, together))
    _deliver(_records_of(records, alone))
    assert _aggregates(together) == _aggregates(alone)
    assert _aggregates(together)["interaction_count"] == len(ACTIVITY)
    stack.drain()


def test_a_batch_partly_counted_before_counts_the_rest_once(
    stack: LocalStack, two_people: tuple[str, str, list[dict[str, Any]]]
) -> None:
    """A retried batch can start before records an earlier invocation counted: those are recognised by
    their sequence numbers, and the rest are counted one by one."""
    together, alone, records = two_people
    mine = _records_of(records, together)
    _deliver(mine[:3])
    _deliver(mine)
    _deliver(_records_of(records, alone))
    assert _aggregates(together) == _aggregates(alone)
    assert _aggregates(together)["total_spent"] == 80.75
    stack.drain()
