"""The tracking API through the local HTTP server, on moto: forms, consent, exactly-once, errors."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from typing import Any

from infra.local.demo import Client
from infra.local.dispatcher import load_handler
from infra.local.lambda_context import LocalContext
from infra.local.stack import LocalStack
from shared.dal.models import IdentityModel, InteractionModel
from shared.services import tracking
from shared.tracking.identity import Identifiers
from shared.tracking.normalise import Interaction
from tests.helpers import daytime_zone, emails_to, unique


def _profile(client: Client, customer_id: str) -> dict[str, Any]:
    status, body, _ = client.call("GET", f"/v1/customers/{customer_id}", private=True)
    assert status == 200, body
    return dict(body)


def _customer_of_user(user_id: str) -> str:
    return str(IdentityModel.get(f"user:{user_id}").customer_id)


def test_html_form_double_opt_in_confirm_and_unsubscribe(stack: LocalStack, client: Client) -> None:
    email = f"{unique('ann')}@example.com"
    status, body, headers = client.call(
        "POST",
        "/v1/forms/newsletter",
        form={
            "email": email.upper(),
            "first_name": "Ann",
            "consent_email": "on",
            "redirect": f"{stack.api_url}/ok",
        },
    )
    assert status == 303
    assert headers["Location"] == f"{stack.api_url}/ok"
    stack.drain()

    # A time zone where it is day now: quiet hours would rightly defer the welcome email at night.
    traits = {"email": email, "timezone": daytime_zone()}
    status, body, _ = client.call("POST", "/v1/identify", {"userId": unique("u"), "traits": traits})
    customer_id = body["customer_id"]
    profile = _profile(client, customer_id)
    assert profile["profile"]["email"] == email
    assert profile["consent"]["email"]["status"] == "pending"
    assert profile["consent"]["email"]["wording_version"] == "newsletter-v1"
    assert profile["consent"]["email"]["source"] == "form:newsletter"

    [confirmation] = emails_to(stack, email)
    confirm_path = re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", confirmation["Body"])
    assert confirm_path is not None
    status, page, _ = client.call("GET", confirm_path.group(1))  # a page with a button: changes nothing
    assert status == 200
    assert "<button" in page
    assert _profile(client, customer_id)["consent"]["email"]["status"] == "pending"
    status, page, _ = client.call("POST", confirm_path.group(1))  # the button
    assert status == 200
    assert "confirmed" in page
    stack.drain()
    assert _profile(client, customer_id)["consent"]["email"]["status"] == "granted"

    # Confirming granted consent made the welcome campaign send an email with RFC 8058 headers.
    welcome = [m for m in emails_to(stack, email) if m.get("X-Campaign-Id") == "welcome"]
    assert len(welcome) == 1
    assert welcome[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.match(r"<http://[^/]+(/v1/unsubscribe\?token=\S+)>", welcome[0]["List-Unsubscribe"])
    assert unsubscribe is not None

    status, _, _ = client.call("POST", unsubscribe.group(1))  # one-click
    assert status == 200
    assert _profile(client, customer_id)["consent"]["email"]["status"] == "revoked"
    status, _, _ = client.call("GET", unsubscribe.group(1))  # the link again: still fine
    assert status == 200

    # The confirmation button pressed again after unsubscribing does nothing, and the page says so.
    status, page, _ = client.call("POST", confirm_path.group(1))
    assert status == 409
    assert "unsubscribed after" in page
    assert _profile(client, customer_id)["consent"]["email"]["status"] == "revoked"
    stack.drain()
    assert len([m for m in emails_to(stack, email) if m.get("X-Campaign-Id") == "welcome"]) == 1


def test_forged_or_expired_links_are_refused(client: Client) -> None:
    status, page, _ = client.call("GET", "/v1/consent/confirm?token=abcdefghijklmnop.qrstuv")
    assert status == 400
    assert "does not work" in page
    status, _, _ = client.call("POST", "/v1/unsubscribe?token=")
    assert status == 422


def _mixed_events(run: str, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i in range(count):
        user = f"{run}-user-{i % 50}"
        kind = i % 4
        if kind == 0:
            events.append(
                {
                    "type": "track",
                    "userId": user,
                    "event": "Order Completed",
                    "properties": {"order_id": f"{run}-o{i}", "total": 10 + i % 7},
                }
            )
        elif kind == 1:
            events.append({"type": "page", "userId": user, "messageId": f"{run}-p{i}", "name": "Home"})
        elif kind == 2:
            events.append(
                {"type": "track", "userId": user, "messageId": f"{run}-c{i}", "event": "Email Link Clicked"}
            )
        else:
            events.append(
                {"type": "identify", "userId": user, "messageId": f"{run}-i{i}", "traits": {"plan": "x"}}
            )
    return events


def _totals(client: Client, run: str) -> tuple[int, int, float]:
    interactions = purchases = 0
    spent = 0.0
    for n in range(50):
        aggregates = _profile(client, _customer_of_user(f"{run}-user-{n}"))["aggregates"]
        interactions += aggregates["interaction_count"]
        purchases += aggregates["purchase_count"]
        spent += aggregates["total_spent"]
    return interactions, purchases, round(spent, 2)


def test_replaying_1000_mixed_events_twice_changes_nothing(stack: LocalStack, client: Client) -> None:
    run = unique("replay")
    events = _mixed_events(run, 1000)
    for attempt in range(2):
        stored = 0
        for start in range(0, len(events), 100):
            status, body, _ = client.call("POST", "/v1/batch", {"batch": events[start : start + 100]})
            assert status == 200, body
            stored += body["stored"]
        assert stored == (1000 if attempt == 0 else 0)
        stack.drain()
    interactions, purchases, spent = _totals(client, run)
    assert purchases == 250
    assert spent == sum(10 + i % 7 for i in range(0, 1000, 4))
    assert interactions == 1000


def test_a_retried_stream_batch_is_not_counted_twice(stack: LocalStack, client: Client) -> None:
    user = unique("retry")
    _status, body, _ = client.call(
        "POST",
        "/v1/track",
        {"userId": user, "event": "Order Completed", "properties": {"order_id": user, "total": 42}},
    )
    customer_id = body["customer_id"]
    assert stack.dispatcher is not None
    cursor = next(c for f, c in stack.dispatcher._cursors if f == "aggregate")
    before = cursor.after_sequence
    records = stack.dispatcher._read_stream(cursor)
    event = {"Records": [stack.dispatcher._lambda_stream_record(r, cursor.stream_arn) for r in records]}
    aggregate = load_handler("aggregate")
    for _ in range(3):  # Lambda delivering the same batch again after a timeout
        assert aggregate(event, LocalContext("aggregate")) == {"batchItemFailures": []}
    stack.drain()
    assert cursor.after_sequence != before
    aggregates = _profile(client, customer_id)["aggregates"]
    assert (aggregates["purchase_count"], aggregates["total_spent"]) == (1, 42)


def test_50_concurrent_updates_to_one_customer_lose_nothing(stack: LocalStack, client: Client) -> None:
    user = unique("busy")
    now = datetime.now(UTC)
    errors: list[BaseException] = []

    def post_over_http(i: int) -> None:
        try:
            status, body, _ = client.call(
                "POST",
                "/v1/track",
                {
                    "userId": user,
                    "event": "Order Completed",
                    "properties": {"order_id": f"{user}-h{i}", "total": 1},
                },
            )
            assert status == 200, body
        except BaseException as exc:  # collected: assertions in threads do not fail the test by themselves
            errors.append(exc)

    def call_service(i: int) -> None:
        try:
            tracking.track(
                [
                    Interaction(
                        event_id=f"msg:{user}-s{i}",
                        kind="page_view",
                        occurred_at=now,
                        received_at=now,
                        identifiers=Identifiers(user_id=user),
                        source="test",
                        profile={"first_name": f"Name{i}"},
                    )
                ]
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=post_over_http, args=(i,)) for i in range(50)]
    threads += [threading.Thread(target=call_service, args=(i,)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stack.drain()
    aggregates = _profile(client, _customer_of_user(user))["aggregates"]
    assert aggregates["purchase_count"] == 50
    assert aggregates["total_spent"] == 50
    assert aggregates["engagement"]["page_view"] == 50
    assert aggregates["interaction_count"] == 100


def test_identify_links_anonymous_history_to_the_customer(stack: LocalStack, client: Client) -> None:
    anonymous, user = unique("anon"), unique("known")
    for i in range(3):
        client.call(
            "POST", "/v1/page", {"anonymousId": anonymous, "messageId": f"{anonymous}-{i}", "name": "Pricing"}
        )
    status, known, _ = client.call(
        "POST",
        "/v1/track",
        {"userId": user, "event": "Order Completed", "properties": {"order_id": f"{user}-1", "total": 30}},
    )
    stack.drain()
    status, linked, _ = client.call(
        "POST",
        "/v1/identify",
        {"userId": user, "anonymousId": anonymous, "traits": {"email": f"{user}@example.com"}},
    )
    assert status == 200
    assert linked["customer_id"] == known["customer_id"]
    stack.drain()
    aggregates = _profile(client, known["customer_id"])["aggregates"]
    assert aggregates["engagement"]["page_view"] == 3
    assert aggregates["purchase_count"] == 1
    assert IdentityModel.get(f"anon:{anonymous}").customer_id == known["customer_id"]
    # A later anonymous page view lands on the known customer directly.
    client.call("POST", "/v1/page", {"anonymousId": anonymous, "messageId": f"{anonymous}-late"})
    stack.drain()
    assert _profile(client, known["customer_id"])["aggregates"]["engagement"]["page_view"] == 4


def test_bad_input_gets_a_clear_4xx_and_stores_nothing(client: Client) -> None:
    user = unique("bad")
    no_key = Client(client.base_url, client.api_key)
    no_key.write_auth = ""
    status, body, headers = no_key.call("POST", "/v1/track", {"userId": user, "event": "x"})
    assert status == 401
    assert "write key" in body["message"]
    assert headers["WWW-Authenticate"].startswith("Basic")

    wrong = Client(client.base_url, client.api_key)
    wrong.write_auth = "Basic d3Jvbmc6"  # "wrong:"
    assert wrong.call("POST", "/v1/track", {"userId": user, "event": "x"})[0] == 401

    batch = [
        {"type": "track", "userId": user, "messageId": f"{user}-ok", "event": "Fine"},
        {
            "type": "track",
            "userId": user,
            "event": "Order Completed",
            "properties": {"order_id": "o", "total": -3},
        },
    ]
    # Per-call validation, as Segment does: the valid call is stored, the invalid one reported by index.
    status, body, _ = client.call("POST", "/v1/batch", {"batch": batch})
    assert status == 200
    assert body["stored"] == 1
    [rejected] = body["rejected"]
    assert rejected["index"] == 1
    assert "properties.total" in rejected["message"]
    assert len(list(InteractionModel.scan(InteractionModel.event_id == f"msg:{user}-ok"))) == 1

    status, body, _ = client.call(
        "POST",
        "/v1/track",
        {
            "userId": user,
            "event": "Order Completed",
            "properties": {"order_id": "o", "total": 3, "currency": "ABC"},
        },
    )
    assert status == 422
    assert "currency" in body["message"]

    # Batches may be 4 MiB (RudderStack's SDK default limit): 100 calls of 45 KB are too large.
    big = {"batch": [{"type": "page", "userId": user, "properties": {"pad": "x" * 45000}}] * 100}
    status, body, _ = client.call("POST", "/v1/batch", big)
    assert status == 413
    assert "at most" in body["message"]

    status, body, _ = client.call("POST", "/v1/forms/no-such-form", form={"email": "a@b.co"})
    assert status == 404
    status, body, _ = client.call("POST", "/v1/forms/newsletter", form={"email": "not-an-email"})
    assert status == 422
    assert "email" in body["message"]
    status, body, _ = client.call(
        "POST", "/v1/forms/newsletter", form={"email": "a@b.co", "redirect": "https://evil.example.net/x"}
    )
    assert status == 422
    assert "redirect" in body["message"]
    status, body, _ = client.call("POST", "/v1/track", "not json at all")
    assert status in (400, 422)


def test_honeypot_stores_nothing(client: Client) -> None:
    email = f"{unique('bot')}@example.com"
    status, body, _ = client.call(
        "POST", "/v1/forms/contact", form={"email": email, "website": "http://spam"}
    )
    assert status == 200
    assert body["stored"] == 0
    assert list(IdentityModel.scan(IdentityModel.alias == f"email:{email}")) == []


def test_private_routes_need_the_api_key(client: Client) -> None:
    status, _, _ = client.call("GET", "/v1/customers/c_anything")
    assert status == 403
    status, _body, _ = client.call("GET", "/v1/customers/c_missing", private=True)
    assert status == 404


def test_erasure_removes_the_person_everywhere(stack: LocalStack, client: Client) -> None:
    user = unique("erase")
    email = f"{user}@example.com"
    client.call("POST", "/v1/forms/contact", form={"email": email, "message": "call me", "consent_sms": "on"})
    _, body, _ = client.call(
        "POST",
        "/v1/track",
        {
            "userId": user,
            "context": {"traits": {"email": email}},
            "event": "Order Completed",
            "properties": {"order_id": f"{user}-o", "total": 9},
        },
    )
    customer_id = body["customer_id"]
    stack.drain()
    status, export, _ = client.call("GET", f"/v1/customers/{customer_id}/export", private=True)
    assert status == 200
    assert {i["kind"] for i in export["interactions"]} == {"contact_request", "purchase"}
    assert f"email:{email}" in export["aliases"]

    status, body, _ = client.call("DELETE", f"/v1/customers/{customer_id}", private=True)
    assert status == 200
    assert body["erased"]["interactions"] == 2
    stack.drain()
    assert client.call("GET", f"/v1/customers/{customer_id}", private=True)[0] == 404
    assert list(InteractionModel.query(customer_id)) == []
    assert list(IdentityModel.scan(IdentityModel.customer_id == customer_id)) == []
    assert client.call("DELETE", f"/v1/customers/{customer_id}", private=True)[0] == 404


def test_openapi_document_is_served_and_up_to_date(client: Client) -> None:
    from functions import openapi

    assert openapi.main(["--check"]) == 0
    status, document, _ = client.call("GET", "/v1/openapi.json")
    assert status == 200
    assert "/v1/forms/{form_id}" in document["paths"]
    assert (
        json.dumps(document["paths"]["/v1/customers/{customer_id}"]["get"]["security"])
        == '[{"ApiKey": []}, {"ConsoleToken": []}]'
    )
