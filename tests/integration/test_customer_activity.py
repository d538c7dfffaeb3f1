"""The profile page's data (GET /v1/customers/{id}/activity) on the local stack: a newsletter sign-up
shows as a pending email consent with its form and wording version, the confirmation as a grant from the
link, newest first; interactions and decisions are listed; the answer matches its response model."""

from __future__ import annotations

import re
import uuid

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.services.views import CustomerActivity


def test_consent_timeline_from_sign_up_to_confirmation(stack: LocalStack, client: Client) -> None:
    email = f"activity-{uuid.uuid4().hex[:8]}@example.com"
    status, _, _ = client.call("POST", "/v1/forms/newsletter", form={"email": email})
    assert status in (200, 303)
    stack.drain()
    status, found, _ = client.call("GET", f"/v1/customers?email={email}", private=True)
    assert status == 200, found
    customer = found["customer_id"]

    status, pending, _ = client.call("GET", f"/v1/customers/{customer}/activity", private=True)
    assert status == 200, pending
    CustomerActivity.model_validate(pending)
    assert [
        (c["channel"], c["status"], c["source"], c["wording_version"]) for c in pending["consent_timeline"]
    ] == [("email", "pending", "form:newsletter", "newsletter-v1")]
    assert [i["event"] for i in pending["interactions"]] == ["form:newsletter"]

    links = [
        m.group(1)
        for mail in stack.sent_emails()
        if email in mail.get("To", "")
        for m in [re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", mail["Body"])]
        if m
    ]
    assert links
    status, _, _ = client.call("POST", links[-1])
    assert status in (200, 303)
    stack.drain()
    status, granted, _ = client.call("GET", f"/v1/customers/{customer}/activity", private=True)
    assert status == 200
    timeline = granted["consent_timeline"]
    assert (timeline[0]["status"], timeline[0]["source"], timeline[0]["wording_version"]) == (
        "granted",
        "confirmation-link",
        "newsletter-v1",
    )
    assert granted["interactions_total"] == len(granted["interactions"]) == 2
    assert granted["suppression"] is None


def test_unknown_customer_is_404(client: Client) -> None:
    status, body, _ = client.call("GET", "/v1/customers/c_nobody/activity", private=True)
    assert status == 404
    assert body["code"] == "not_found"
