"""The Python client libraries people already use, pointed at the local stack with only a host and the
write key: ``segment-analytics-python`` (gzip off and on, batched and sync, all six call types) and
``rudder-sdk-python`` (its defaults: gzip, batches of up to 100 calls and 4 MiB). Every call must arrive,
checked through the private API (lookup by user id, email and anonymous id), traits and aggregates.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import requests
from rudderstack.analytics.client import Client as RudderClient
from segment.analytics.client import Client as SegmentClient

from infra.local.demo import WRITE_KEY, Client
from infra.local.stack import LocalStack
from tests.helpers import unique


def _lookup(client: Client, **query: str) -> dict[str, Any]:
    ((name, value),) = query.items()
    status, body, _ = client.call("GET", f"/v1/customers?{name}={requests.utils.quote(value)}", private=True)
    assert status == 200, body
    return dict(body)


class _Errors(list[tuple[Any, Any]]):
    """The SDKs' on_error callback: a call they failed to deliver lands here."""

    def __call__(self, error: Any, batch: Any) -> None:
        self.append((error, batch))


def _all_six_calls(sdk: Any, run: str) -> tuple[str, str, str]:
    """identify, track (a purchase), page, screen, group, alias: what a shop's back end sends."""
    user, anon, email = f"{run}-u", f"{run}-a", f"{run}@example.com"
    sdk.page(anonymous_id=anon, name="Pricing", properties={"path": "/pricing"})
    sdk.alias(previous_id=anon, user_id=user)
    sdk.identify(user_id=user, traits={"email": email, "firstName": "Ann", "plan": "pro"})
    sdk.track(
        user_id=user,
        event="Order Completed",
        properties={"order_id": f"{run}-o1", "total": 42.5, "currency": "EUR"},
    )
    sdk.screen(user_id=user, name="Basket", properties={"items": 2})
    sdk.group(
        user_id=user, group_id=f"{run}-g", traits={"name": "Acme", "industry": "retail", "employees": 120}
    )
    return user, anon, email


def _check_arrived(stack: LocalStack, client: Client, user: str, anon: str, email: str) -> None:
    stack.drain()
    found = _lookup(client, user_id=user)
    assert _lookup(client, email=email.upper())["customer_id"] == found["customer_id"]
    assert _lookup(client, anonymous_id=anon)["customer_id"] == found["customer_id"]  # alias linked it
    profile = found["profile"]
    assert profile["email"] == email
    assert profile["first_name"] == "Ann"
    assert profile["company"] == "Acme"  # group: the account's name is the person's company
    assert profile["traits"]["plan"] == "pro"
    assert profile["traits"]["company_industry"] == "retail"
    assert profile["traits"]["company_employees"] == 120
    assert profile["traits"]["group_id"].endswith("-g")
    aggregates = found["aggregates"]
    assert aggregates["purchase_count"] == 1
    assert aggregates["total_spent"] == 42.5
    assert aggregates["engagement"]["page_view"] == 2  # the anonymous page and the app screen
    assert aggregates["interaction_count"] == 6


@pytest.mark.parametrize("gzip_on", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("sync_mode", [False, True], ids=["batched", "sync"])
def test_segment_python_sdk_all_call_types(
    stack: LocalStack, client: Client, gzip_on: bool, sync_mode: bool
) -> None:
    errors = _Errors()
    sdk = SegmentClient(
        WRITE_KEY, host=stack.api_url, gzip=gzip_on, sync_mode=sync_mode, on_error=errors, max_retries=0
    )
    run = unique("seg")
    user, anon, email = _all_six_calls(sdk, run)
    sdk.flush()
    if not sync_mode:
        sdk.shutdown()  # joins the consumer thread (the SDK has none in sync mode)
    assert errors == []
    _check_arrived(stack, client, user, anon, email)


def test_rudderstack_python_sdk_defaults(stack: LocalStack, client: Client) -> None:
    errors = _Errors()
    sdk = RudderClient(WRITE_KEY, host=stack.api_url, on_error=errors, max_retries=0)  # gzip on by default
    assert sdk.gzip is True
    run = unique("rudder")
    # The RudderStack SDK sends identify traits only in context.traits.
    user, anon, email = _all_six_calls(sdk, run)
    sdk.flush()
    assert errors == []
    _check_arrived(stack, client, user, anon, email)

    # 100 calls of 8 KB: one batch of about 830 KB, within the SDK's own 4 MiB batch limit.
    for i in range(100):
        sdk.track(user_id=user, event="Viewed", properties={"i": i, "pad": "x" * 8000})
    sdk.flush()
    sdk.shutdown()
    assert errors == []
    stack.drain()
    assert _lookup(client, user_id=user)["aggregates"]["interaction_count"] == 106


def _post(stack: LocalStack, body: Any, *, path: str = "/v1/batch", **headers: str) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        stack.api_url + path,
        data=data,
        headers={"Content-Type": "application/json", **headers},
        auth=(WRITE_KEY, ""),
        timeout=30,
    )


def test_a_batch_stores_every_valid_call_and_lists_the_rejected_ones(
    stack: LocalStack, client: Client
) -> None:
    user = unique("mixed")
    calls: list[Any] = [
        {"type": "track", "userId": user, "messageId": f"{user}-{i}", "event": "Viewed"} for i in range(10)
    ]
    calls[2] = {"type": "track", "userId": user, "event": "Order Completed", "properties": {"total": -1}}
    calls[5] = {"type": "unknown", "userId": user}
    calls[7] = {"type": "identify", "userId": user, "traits": {"email": "not-an-email"}}
    calls[8] = {"type": "track", "userId": user, "event": "Big", "properties": {"n": "HUGE"}}
    calls[9] = "not a call"
    # An integer of 5,000 digits (more than Python's int() takes) in one call's properties.
    response = _post(stack, json.dumps({"batch": calls}).replace('"HUGE"', "9" * 5000).encode())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stored"] == 5
    rejected = {r["index"]: r for r in body["rejected"]}
    assert sorted(rejected) == [2, 5, 7, 8, 9]
    assert rejected[2]["code"] == "invalid_call"
    assert "order_id" in rejected[2]["message"]
    assert rejected[5]["code"] == "unknown_type"
    assert rejected[7]["code"] == "invalid_email"
    assert "out of range" in rejected[8]["message"]
    stack.drain()
    assert _lookup(client, user_id=user)["aggregates"]["interaction_count"] == 5

    # The refused calls are kept (7 days) where a developer can read them, with the call as sent.
    status, listed, _ = client.call("GET", "/v1/rejected-calls?days=1&limit=1000", private=True)
    assert status == 200
    mine = {c["index"]: c for c in listed["calls"] if user in c["call"]}
    assert sorted(mine) == [2, 5, 7, 8]  # index 9 ("not a call") names no user
    assert {c["code"] for c in mine.values()} == {"invalid_call", "unknown_type", "invalid_email"}
    assert all(c["path"] == "/v1/batch" and c["source"].startswith("key:") for c in mine.values())
    assert json.loads(mine[7]["call"])["traits"] == {"email": "not-an-email"}


def test_a_call_over_32_kb_in_a_batch_is_rejected_alone(stack: LocalStack) -> None:
    """RudderStack's SDK sends calls of up to 4 MB; ours take 32 KB (Segment's limit) each."""
    user = unique("large")
    calls = [
        {"type": "track", "userId": user, "event": "Big", "context": {"pad": "x" * 40_000}},
        {"type": "track", "userId": user, "event": "Small"},
    ]
    response = _post(stack, {"batch": calls})
    assert response.status_code == 200
    body = response.json()
    assert body["stored"] == 1
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [(0, "call_too_large")]


def test_every_error_has_a_code_and_bad_bodies_are_400(stack: LocalStack) -> None:
    malformed = _post(stack, b'{"batch": [')
    assert (malformed.status_code, malformed.json()["code"]) == (400, "malformed_json")
    single = _post(stack, b'{"userId": "u", "event": ', path="/v1/track")
    assert (single.status_code, single.json()["code"]) == (400, "malformed_json")
    huge = _post(
        stack, b'{"userId": "u", "event": "E", "properties": {"n": ' + b"9" * 5000 + b"}}", path="/v1/t"
    )
    assert (huge.status_code, huge.json()["code"]) == (422, "invalid_call")
    not_gzip = _post(stack, b"not gzip at all", **{"Content-Encoding": "gzip"})
    assert not_gzip.status_code == 415
    assert not_gzip.json()["code"] == "unsupported_media_type"
    bomb = _post(stack, gzip.compress(b" " * (11 * 1024 * 1024)), **{"Content-Encoding": "gzip"})
    assert (bomb.status_code, bomb.json()["code"]) == (413, "body_too_large")
    no_key = requests.post(stack.api_url + "/v1/track", json={"userId": "u", "event": "E"}, timeout=30)
    assert (no_key.status_code, no_key.json()["code"]) == (401, "missing_write_key")
    wrong = requests.post(
        stack.api_url + "/v1/track", json={"userId": "u", "event": "E"}, auth=("wrong", ""), timeout=30
    )
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_write_key")
    unknown = requests.get(stack.api_url + "/v1/nowhere", timeout=30)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


def test_text_plain_with_the_write_key_in_the_body(stack: LocalStack, client: Client) -> None:
    """What analytics.js sends: text/plain JSON to a short path, the write key inside the body."""
    user = unique("plain")
    for path, call in (
        ("/v1/i", {"userId": user, "traits": {"email": f"{user}@example.com"}}),
        ("/v1/p", {"userId": user, "name": "Home"}),
        ("/v1/t", {"userId": user, "event": "Signed Up"}),
    ):
        response = requests.post(
            stack.api_url + path,
            data=json.dumps({**call, "writeKey": WRITE_KEY}),
            headers={"Content-Type": "text/plain"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
    stack.drain()
    found = _lookup(client, email=f"{user}@example.com")
    assert found["aggregates"]["interaction_count"] == 3


def test_customer_lookup(client: Client) -> None:
    status, body, _ = client.call("GET", "/v1/customers?email=nobody-here@example.com", private=True)
    assert (status, body["code"]) == (404, "not_found")
    status, body, _ = client.call("GET", "/v1/customers?email=a@b.co&user_id=u", private=True)
    assert (status, body["code"]) == (422, "validation_error")
    status, body, _ = client.call("GET", "/v1/customers?email=not-an-email", private=True)
    assert (status, body["code"]) == (422, "invalid_email")
    status, _, _ = client.call("GET", "/v1/customers?email=a@b.co")
    assert status == 403
