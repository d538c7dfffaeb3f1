"""Consent is the person's, changes are published once, and suppression outlives erasure (issue 17, edge).

Through the local HTTP server on moto with the real handlers: profiles that share an address (a subscriber
merged into a shop account keeps its own address and consent record), ``ConsentChanged`` read off the bus
by a consumer's queue, SES events injected on the default bus (and the very same event redelivered), and
an erasure through the admin API followed by a scan of every table.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import boto3

from infra.local.demo import Client
from infra.local.ses_feedback import put_on_default_bus
from infra.local.stack import LocalStack
from shared.dal.models import CustomerModel, IdentityModel
from shared.events import ConsentChanged
from shared.services.tracking import unsubscribe_url
from shared.settings import get_settings
from tests.helpers import bus_tap, daytime_zone, drain_queue, emails_to, unique

CONFIRM = re.compile(r"http://[^/\s]+(/v1/consent/confirm\?token=\S+)")


def _inject(stack: LocalStack, kind: str, to: str) -> dict[str, Any]:
    from urllib import request

    req = request.Request(
        f"{stack.api_url}/local/ses-events",
        data=json.dumps({"kind": kind, "to": to}).encode(),
        headers={"x-api-key": stack.api_key, "Content-Type": "application/json"},
        method="POST",
    )
    with request.urlopen(req, timeout=30) as response:
        event: dict[str, Any] = json.loads(response.read())
    stack.drain()
    return event


def _subscribed(stack: LocalStack, client: Client, email: str) -> str:
    status, body, _ = client.call(
        "POST", "/v1/forms/newsletter", form={"email": email, "consent_email": "on", "first_name": "Ida"}
    )
    assert status == 200, body
    stack.drain()
    match = CONFIRM.search(emails_to(stack, email)[-1]["Body"])
    assert match is not None
    assert client.call("POST", match.group(1))[0] == 200
    stack.drain()
    return str(body["customer_id"])


def _two_profiles(stack: LocalStack, client: Client) -> tuple[str, str, str, str]:
    """A confirmed subscriber, then a shop account of the same person that gives the address: the
    subscriber is merged into the shop account, and both profiles carry the address and a granted
    consent. Returns (email, user id, subscriber, shop)."""
    email = f"{unique('both')}@example.com"
    user_id = unique("shop")
    subscriber = _subscribed(stack, client, email)
    _, body, _ = client.call(
        "POST", "/v1/identify", {"userId": user_id, "traits": {"timezone": daytime_zone()}}
    )
    shop = str(body["customer_id"])
    client.call("POST", "/v1/identify", {"userId": user_id, "traits": {"email": email}})
    assert IdentityModel.get(f"email:{email}").customer_id == shop
    for cid in (subscriber, shop):
        profile = CustomerModel.get(cid)
        assert profile.email == email
        assert profile.consent_email is not None
        assert profile.consent_email.as_dict()["status"] == "granted"
    assert CustomerModel.get(subscriber).merged_into == shop
    return email, user_id, subscriber, shop


def _status(customer_id: str) -> str:
    record = CustomerModel.get(customer_id, consistent_read=True).consent_email
    assert record is not None
    return str(record.as_dict()["status"])


def _changes(sqs: Any, tap: str, *customer_ids: str) -> list[ConsentChanged]:
    """The ConsentChanged events of these customers the consumer's queue received, parsed strictly."""
    found = []
    for body in drain_queue(sqs, tap):
        assert body["source"] == "rm.engine"
        assert body["detail-type"] == "ConsentChanged"
        event = ConsentChanged.model_validate(body["detail"])
        if event.customer_id in customer_ids:
            found.append(event)
    return found


def test_a_segment_unsubscribed_revokes_every_profile_holding_the_address(
    stack: LocalStack, client: Client
) -> None:
    email, user_id, subscriber, shop = _two_profiles(stack, client)
    sqs, tap = bus_tap("ConsentChanged")
    call = {"userId": user_id, "event": "Unsubscribed", "messageId": unique("unsub")}
    assert client.call("POST", "/v1/track", call)[0] == 200
    assert (_status(shop), _status(subscriber)) == ("revoked", "revoked")
    # The same call retried: nothing changes, nothing is published again.
    assert client.call("POST", "/v1/track", call)[0] == 200
    changes = _changes(sqs, tap, shop, subscriber)
    assert [(c.customer_id, c.status, c.channel) for c in changes] == [(shop, "revoked", "email")]
    assert changes[0].source
    assert changes[0].source.startswith("segment:")
    # No campaign email reaches either profile's address from now on.
    sent = len(emails_to(stack, email))
    client.call("POST", "/v1/track", {"userId": user_id, "event": "Order Completed", "properties": {}})
    stack.drain()
    assert len(emails_to(stack, email)) == sent


def test_an_unsubscribe_link_of_either_profile_revokes_both(stack: LocalStack, client: Client) -> None:
    _, _, subscriber, shop = _two_profiles(stack, client)
    link = "/" + unsubscribe_url(subscriber).split("/", 3)[3]
    assert client.call("POST", link, form={"List-Unsubscribe": "One-Click"})[0] == 200
    assert (_status(shop), _status(subscriber)) == ("revoked", "revoked")


def test_a_complaint_revokes_every_profile_and_each_change_is_published_once(
    stack: LocalStack, client: Client
) -> None:
    email, _, subscriber, shop = _two_profiles(stack, client)
    sqs, tap = bus_tap("ConsentChanged")
    event = _inject(stack, "complaint", email)
    assert (_status(shop), _status(subscriber)) == ("revoked", "revoked")
    # SES delivers at least once: the very same event again changes and publishes nothing.
    put_on_default_bus(event, get_settings().region)
    stack.drain()
    changes = _changes(sqs, tap, shop, subscriber)
    assert Counter((c.customer_id, c.status) for c in changes) == {
        (shop, "revoked"): 1,
        (shop, "suppressed"): 1,
    }
    [suppressed] = [c for c in changes if c.status == "suppressed"]
    assert (suppressed.reason, suppressed.source, suppressed.channel) == ("complaint", "ses", "email")
    assert len({c.change_id for c in changes}) == 2


def test_consent_changed_once_per_change_through_a_whole_life(stack: LocalStack, client: Client) -> None:
    """Sign-up (pending), confirmation (granted), unsubscribe (revoked), bounce (suppressed); every link
    pressed twice and the bounce delivered twice: one event per change, in order."""
    sqs, tap = bus_tap("ConsentChanged")
    email = f"{unique('life')}@example.com"
    form = {"email": email, "consent_email": "on", "first_name": "Ode"}
    status, body, _ = client.call("POST", "/v1/forms/newsletter", form=form)
    assert status == 200
    customer_id = str(body["customer_id"])
    stack.drain()
    confirm = CONFIRM.search(emails_to(stack, email)[-1]["Body"])
    assert confirm is not None
    for _ in range(2):
        assert client.call("POST", confirm.group(1))[0] == 200
    stack.drain()
    link = "/" + unsubscribe_url(customer_id).split("/", 3)[3]
    for _ in range(2):
        assert client.call("POST", link, form={"List-Unsubscribe": "One-Click"})[0] == 200
    bounce = _inject(stack, "bounce", email)
    put_on_default_bus(bounce, get_settings().region)
    stack.drain()
    changes = _changes(sqs, tap, customer_id)
    assert [c.status for c in changes] == ["pending", "granted", "revoked", "suppressed"]
    assert [c.source for c in changes] == ["form:newsletter", "confirmation-link", "unsubscribe-link", "ses"]
    assert len({c.change_id for c in changes}) == 4
    assert all(c.occurred_at and c.schema_version == 1 for c in changes)


def _tables_holding(text: str) -> dict[str, int]:
    """Every table of the stack, scanned whole: how many items contain ``text`` anywhere."""
    dynamodb = boto3.client("dynamodb", region_name=get_settings().region)
    found: dict[str, int] = {}
    for name in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            hits = sum(text in json.dumps(item) for item in page["Items"])
            if hits:
                found[name] = found.get(name, 0) + hits
    return found


def test_a_bounced_address_stays_suppressed_after_erasure_as_a_keyed_hash_only(
    stack: LocalStack, client: Client
) -> None:
    user = unique("gone")
    email = f"{user}@example.com"
    status, body, _ = client.call(
        "POST", "/v1/forms/newsletter", form={"email": email, "consent_email": "on", "first_name": "Ana"}
    )
    customer_id = str(body["customer_id"])
    stack.drain()
    assert len(emails_to(stack, email)) == 1  # the confirmation
    _inject(stack, "bounce", email)
    assert CustomerModel.get(customer_id).email_suppressed_reason == "hard_bounce"
    assert _tables_holding(email)  # before: the profile, its alias, ...

    status, body, _ = client.call("DELETE", f"/v1/customers/{customer_id}", private=True)
    assert status == 200, body
    assert _tables_holding(email) == {}  # nothing in plaintext, in any table
    assert _tables_holding(email.upper()) == {}

    # The same address signs up again, as a new person: no email goes out while it is suppressed.
    sqs, tap = bus_tap("ConsentChanged")
    status, body, _ = client.call(
        "POST", "/v1/forms/newsletter", form={"email": email, "consent_email": "on", "first_name": "Ana"}
    )
    assert status == 200
    newcomer = str(body["customer_id"])
    assert newcomer != customer_id
    stack.drain()
    assert len(emails_to(stack, email)) == 1
    profile = CustomerModel.get(newcomer)
    assert profile.email_suppressed_address == email
    assert profile.email_suppressed_reason == "hard_bounce"
    assert profile.email_suppressed_detail == "do-not-contact list"  # the reason, shown on the profile
    changes = _changes(sqs, tap, newcomer)
    assert [(c.status, c.reason, c.source) for c in changes] == [
        ("suppressed", "hard_bounce", "do-not-contact"),
        ("pending", None, "form:newsletter"),
    ]
    # A Segment identify with the address under a new user id: the same new person, still suppressed.
    client.call("POST", "/v1/identify", {"userId": unique("u"), "traits": {"email": email}})
    stack.drain()
    assert len(emails_to(stack, email)) == 1
