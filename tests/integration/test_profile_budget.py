"""A bounded profile: a client that keeps sending new trait names cannot grow a customer's item towards
DynamoDB's 400 KB limit (after which every write to the person would fail); the profile keeps its
budget of traits, kept traits stay updatable, and events keep being accepted and counted."""

from __future__ import annotations

import json
from decimal import Decimal

import boto3

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.dal.customers import MAX_PROFILE_TRAITS, MAX_TRAIT_VALUE_BYTES
from shared.dal.models import CustomerModel
from shared.settings import get_settings
from tests.helpers import unique

CALLS = 32
KEYS_PER_CALL = 15
VALUE = "x" * 900  # 32 calls x 15 new names x ~0.9 KB: about 430 KB of traits without a budget


def _raw_item(customer_id: str) -> dict[str, object]:
    client = boto3.client("dynamodb", region_name=get_settings().region)
    item: dict[str, object] = client.get_item(
        TableName=CustomerModel.Meta.table_name, Key={"customer_id": {"S": customer_id}}, ConsistentRead=True
    )["Item"]
    return item


def test_a_profile_hammered_with_new_trait_keys_stays_within_its_budget(
    stack: LocalStack, client: Client
) -> None:
    user = unique("chatty")
    customer_id = ""
    for call in range(CALLS):
        traits = {f"t{call:02d}_{key:02d}": VALUE for key in range(KEYS_PER_CALL)}
        if call == 3:
            traits["oversize"] = "y" * (MAX_TRAIT_VALUE_BYTES + 1)
        status, body, _ = client.call("POST", "/v1/identify", {"userId": user, "traits": traits})
        assert status == 200, body
        customer_id = body["customer_id"]

    # Still accepting events, and counting them.
    order = {"userId": user, "event": "Order Completed", "properties": {"order_id": unique("o"), "total": 42}}
    status, body, _ = client.call("POST", "/v1/track", order)
    assert status == 200, body
    assert body["customer_id"] == customer_id
    # A kept trait can still be changed once the budget is full.
    status, _, _ = client.call("POST", "/v1/identify", {"userId": user, "traits": {"t00_00": "changed"}})
    assert status == 200
    stack.drain()

    customer = CustomerModel.get(customer_id, consistent_read=True)
    traits = customer.traits.as_dict() if customer.traits is not None else {}
    assert len(traits) == MAX_PROFILE_TRAITS
    # The first names in are the ones kept (a new name beyond the budget is dropped), oversize never.
    names_in_order = [f"t{c:02d}_{k:02d}" for c in range(CALLS) for k in range(KEYS_PER_CALL)]
    assert set(traits) == set(names_in_order[:MAX_PROFILE_TRAITS])
    assert "oversize" not in traits
    assert traits["t00_00"] == "changed"
    assert customer.purchase_count == 1
    assert Decimal(str(customer.total_spent)) == Decimal(42)
    # The item's size stays far below DynamoDB's 400 KB item limit.
    assert len(json.dumps(_raw_item(customer_id)).encode()) < 150 * 1024
