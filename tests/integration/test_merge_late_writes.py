"""A write that lands on a profile just merged away is counted on the survivor, for every kind of event.

The race, as Lambda runs it: a request resolves the anonymous visitor's profile, then another request
merges that profile into the known customer's, then the first request stores its interaction on the
merged profile. The stream consumer must forward it to the survivor. (Found by the concurrency rounds of
``tests/e2e/test_concurrency.py``: a purchase stayed on the merged profile, its batch failing until the
stream gave it up, while a page view was forwarded.) Here the race is made certain: the request is made
to resolve the visitor after the merge has happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.dal.models import CustomerModel, InteractionModel
from shared.services import tracking
from tests.helpers import unique


@pytest.fixture
def settled(stack: LocalStack) -> Iterator[LocalStack]:
    stack.drain()
    yield stack
    stack.drain()


def _post(client: Client, path: str, body: dict[str, Any]) -> str:
    status, answer, _ = client.call("POST", path, body)
    assert status == 200, answer
    customer_id: str = answer["customer_id"]
    return customer_id


@pytest.mark.parametrize(
    ("event", "properties", "purchases", "spent"),
    [
        ("Order Completed", {"order_id": "late-order", "total": 42.5}, 1, 42.5),
        ("Product Viewed", {"product_id": "p-1"}, 0, 0.0),
    ],
)
def test_a_late_write_on_a_merged_profile_is_counted_on_the_survivor(
    settled: LocalStack,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    event: str,
    properties: dict[str, Any],
    purchases: int,
    spent: float,
) -> None:
    anonymous, user = unique("late-anon"), unique("late-known")
    visitor = _post(client, "/v1/page", {"anonymousId": anonymous, "name": "Home"})
    known = _post(client, "/v1/identify", {"userId": user})
    survivor = _post(client, "/v1/identify", {"userId": user, "anonymousId": anonymous})
    settled.drain()
    assert survivor == known
    assert CustomerModel.get(visitor, consistent_read=True).merged_into == known
    before = CustomerModel.get(known, consistent_read=True)

    # The request resolved the visitor before the merge and stores after it.
    monkeypatch.setattr(tracking, "_resolve_customer", lambda *args, **kwargs: (visitor, 0))
    stored_for = _post(
        client, "/v1/track", {"anonymousId": anonymous, "event": event, "properties": properties}
    )
    assert stored_for == visitor
    dead_before = len(settled.dispatcher.log.dead_lettered) if settled.dispatcher else 0
    settled.drain()

    assert settled.dispatcher is not None
    assert settled.dispatcher.log.dead_lettered[dead_before:] == []
    assert list(InteractionModel.query(visitor, consistent_read=True)) == []
    moved = [i for i in InteractionModel.query(known, consistent_read=True) if i.name == event]
    assert [i.merged_from for i in moved] == [visitor]
    after = CustomerModel.get(known, consistent_read=True)
    assert (after.interaction_count or 0) == (before.interaction_count or 0) + 1
    assert (after.purchase_count or 0) == (before.purchase_count or 0) + purchases
    assert float(after.total_spent or 0) == pytest.approx(float(before.total_spent or 0) + spent)
