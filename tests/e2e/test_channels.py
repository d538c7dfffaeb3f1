"""Channels that close the loop, end to end on the local stack (issue 13).

SES events are injected in AWS's format on moto's default bus (``infra.local.ses_feedback``), routed by
the same rule as in the cloud to the real ``ses_events`` handler; the webhook goes through the API
destination stand-in to a real HTTP receiver. Emails are checked on the exact bytes SES received, with
the standard library's strict parser.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib import request

import boto3

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.dal.models import DecisionModel, IdentityModel, InteractionModel, ScoreModel
from shared.events import LeadQualified
from shared.settings import get_settings
from tests.helpers import daytime_zone, emails_to, raw_emails, unique, wire_headers

JOURNEY = "prospect-journey"  # the sales hand-over is its last step (issue 18 item 4)


def _strict(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.strict).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    assert not message.defects
    return message


def _raw_to(stack: LocalStack, address: str) -> list[bytes]:
    return [raw for raw in raw_emails(stack) if wire_headers(raw)["to"] == [address.encode()]]


def _sign_up(stack: LocalStack, client: Client, user: str, email: str, **traits: Any) -> str:
    """Identify (with traits), post the newsletter form: a confirmation email goes out. Returns the id."""
    status, body, _ = client.call(
        "POST",
        "/v1/identify",
        {"userId": user, "traits": {"email": email, "timezone": daytime_zone(), **traits}},
    )
    assert status == 200, body
    client.call("POST", "/v1/forms/newsletter", form={"email": email, "first_name": user})
    stack.drain()
    return str(IdentityModel.get(f"user:{user}").customer_id)


def _confirm(stack: LocalStack, client: Client, email: str) -> None:
    mail = emails_to(stack, email)[-1]
    link = re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", mail["Body"])
    assert link is not None
    assert client.call("POST", link.group(1))[0] == 200
    stack.drain()


def _profile(client: Client, customer_id: str) -> dict[str, Any]:
    status, profile, _ = client.call("GET", f"/v1/customers/{customer_id}", private=True)
    assert status == 200, profile
    return dict(profile)


def _inject(stack: LocalStack, kind: str, to: str, **kwargs: Any) -> dict[str, Any]:
    """Through the local endpoint the command-line tool uses (``python -m infra.local.ses_feedback``)."""
    req = request.Request(
        f"{stack.api_url}/local/ses-events",
        data=json.dumps({"kind": kind, "to": to, **kwargs}).encode(),
        headers={"x-api-key": stack.api_key, "Content-Type": "application/json"},
        method="POST",
    )
    with request.urlopen(req, timeout=30) as response:
        event: dict[str, Any] = json.loads(response.read())
    stack.drain()
    return event


def test_a_permanent_bounce_stops_every_later_email_confirmations_included(
    stack: LocalStack, client: Client
) -> None:
    user = unique("bounce")
    email = f"{user}@example.com"
    customer_id = _sign_up(stack, client, user, email)
    assert len(emails_to(stack, email)) == 1  # the confirmation
    event = _inject(stack, "bounce", email)
    assert event["detail"]["bounce"]["bounceType"] == "Permanent"

    profile = _profile(client, customer_id)["profile"]
    assert profile["email_suppressed_address"] == email
    assert profile["email_suppressed_reason"] == "hard_bounce"
    assert profile["email_suppressed_detail"] == "General"
    assert profile["email_suppressed_at"]

    # The person still confirms (the link was read before the bounce): the welcome campaign skips them.
    _confirm(stack, client, email)
    welcome = DecisionModel.get(
        customer_id,
        next(d.decision_key for d in DecisionModel.query(customer_id) if d.campaign_id == "welcome"),
    )
    assert (welcome.outcome, welcome.reason) == ("skipped", "suppressed")
    # A new sign-up asks for no second confirmation of a granted consent; one from another profile
    # holding the same address (a second user id) would: it is not sent either.
    other = unique("bounce-other")
    client.call("POST", "/v1/forms/newsletter", form={"email": email, "first_name": other})
    stack.drain()
    assert len(emails_to(stack, email)) == 1
    # The same event delivered twice changes nothing more.
    _inject(stack, "bounce", email)
    assert _profile(client, customer_id)["profile"]["email_suppressed_reason"] == "hard_bounce"


def test_a_soft_bounce_is_counted_and_suppresses_nothing(stack: LocalStack, client: Client) -> None:
    user = unique("soft")
    email = f"{user}@example.com"
    customer_id = _sign_up(stack, client, user, email)
    _inject(stack, "bounce", email, transient=True)
    profile = _profile(client, customer_id)["profile"]
    assert profile["email_transient_bounces"] == 1
    assert "email_suppressed_address" not in profile
    _confirm(stack, client, email)
    assert [m["Subject"] for m in emails_to(stack, email)][-1] == f"Welcome aboard, {user}"


def test_a_complaint_revokes_consent_and_suppresses(stack: LocalStack, client: Client) -> None:
    user = unique("complaint")
    email = f"{user}@example.com"
    customer_id = _sign_up(stack, client, user, email)
    _confirm(stack, client, email)
    assert _profile(client, customer_id)["consent"]["email"]["status"] == "granted"
    _inject(stack, "complaint", email)  # on the welcome email
    profile = _profile(client, customer_id)
    assert profile["consent"]["email"]["status"] == "revoked"
    assert profile["consent"]["email"]["source"] == "ses-complaint"
    assert profile["profile"]["email_suppressed_reason"] == "complaint"
    kinds = {i.kind for i in InteractionModel.query(customer_id)}
    assert {"unsubscribe", "email_complained"} <= kinds


def test_a_click_counts_as_the_welcome_campaigns_conversion_and_as_engagement(
    stack: LocalStack, client: Client
) -> None:
    user = unique("click")
    email = f"{user}@example.com"
    customer_id = _sign_up(stack, client, user, email)
    _confirm(stack, client, email)
    welcome = emails_to(stack, email)[-1]
    assert welcome["X-Campaign-Id"] == "welcome"
    before = client.call("GET", "/v1/campaigns/welcome/report", private=True)[1]

    _inject(stack, "delivery", email)
    _inject(stack, "open", email)
    _inject(stack, "click", email, link="https://shop.example.com/new")
    _inject(stack, "click", email, link="https://shop.example.com/new")  # the same link again: one click

    stored = {i.kind: i for i in InteractionModel.query(customer_id)}
    assert {"email_delivered", "email_opened", "email_clicked"} <= set(stored)
    assert stored["email_clicked"].properties is not None
    assert stored["email_clicked"].properties.as_dict()["campaign_id"] == "welcome"
    engagement = _profile(client, customer_id)["aggregates"]["engagement"]
    assert engagement["email_click"] == 1
    assert engagement["other"] == 1  # the open

    after = client.call("GET", "/v1/campaigns/welcome/report", private=True)[1]
    assert after["treatment"]["conversions"] == before["treatment"]["conversions"] + 1


def test_a_click_raises_the_lead_score(stack: LocalStack, client: Client) -> None:
    """Two prospects alike but for one click in the welcome email: the scoring run scores the clicker higher
    (email_click weighs 3 in the lead score)."""
    people = {}
    for role in ("clicker", "other"):
        user = unique(f"lead-{role}")
        email = f"{user}@example.com"
        people[role] = _sign_up(stack, client, user, email)
        _confirm(stack, client, email)
        if role == "clicker":
            _inject(stack, "click", email, link="https://shop.example.com/guide")
    status, run, _ = client.call("POST", "/v1/scoring/runs", {"segments": 2}, private=True)
    assert status == 202, run
    assert run["status"] == "succeeded"
    scores = {role: _profile(client, cid)["scores"] for role, cid in people.items()}
    assert scores["clicker"]["lead_score"] > scores["other"]["lead_score"]


def test_a_person_with_locale_fr_gets_the_french_templates_on_strictly_parsed_bytes(
    stack: LocalStack, client: Client
) -> None:
    user = unique("fr")
    email = f"{user}@example.com"
    _sign_up(stack, client, user, email, locale="fr-CA", first_name="<b>Zoé</b>")
    raw = _raw_to(stack, email)[-1]
    message = _strict(raw)
    assert message["Subject"] == "Merci de confirmer votre inscription"
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    assert html is not None
    assert text is not None
    assert "Merci de confirmer" in text.get_content()
    _confirm(stack, client, email)
    raw = _raw_to(stack, email)[-1]
    message = _strict(raw)
    assert message["Subject"].startswith("Bienvenue")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    assert "&lt;b&gt;" in html_part.get_content() or "<b>" not in html_part.get_content()
    headers = wire_headers(raw)
    assert headers["list-unsubscribe-post"] == [b"List-Unsubscribe=One-Click"]


def test_sales_handover_reaches_the_crm_once_per_decision_and_is_retried_after_a_500(
    stack: LocalStack, client: Client
) -> None:
    user = unique("mql")
    status, _, _ = client.call(
        "POST",
        "/v1/identify",
        {
            "userId": user,
            "traits": {"email": f"{user}@example.com", "company": "ACME", "phone": "+33123456789"},
        },
    )
    assert status == 200
    stack.drain()
    customer_id = str(IdentityModel.get(f"user:{user}").customer_id)
    receiver = stack.channels.receiver
    receiver.fail_next = 1  # the CRM fails once
    settings = get_settings()
    run_id = unique("run")
    # Scoring writes the stage, then publishes LeadQualified: the prospect journey enters on it and, the
    # person being qualified already, hands them over at once (its hand-over step; issue 18 item 4).
    ScoreModel(
        customer_id, run_id=run_id, scored_at=datetime.now(UTC).isoformat(), stage="marketing_qualified"
    ).save()
    event = LeadQualified(
        customer_id=customer_id,
        run_id=run_id,
        previous_stage="lead",
        stage="marketing_qualified",
        lead_score=45.0,
    )
    events = boto3.client("events", region_name=settings.region)
    events.put_events(Entries=[event.to_entry(settings.event_bus_name)])
    stack.drain()

    mine = [r for r in receiver.requests if r.body.get("customer_id") == customer_id]
    assert [r.status for r in mine] == [500, 200]  # retried after the 500, then delivered once
    key = mine[0].headers["idempotency-key"]
    assert mine[1].headers["idempotency-key"] == key
    assert mine[1].headers["x-rm-campaign-id"] == JOURNEY
    assert mine[1].headers["x-api-key"] == receiver.api_key  # the connection's credentials
    lead = receiver.accepted[key]
    assert (lead["campaign_id"], lead["channel"], lead["customer_id"]) == (
        JOURNEY,
        "webhook",
        customer_id,
    )
    assert lead["email"] == f"{user}@example.com"

    # The same LeadQualified again (a retried scoring phase): still one decision. The campaigns function
    # publishes the decision's event again (at least once, like EventBridge itself), with the same key:
    # the CRM keeps one lead per decision.
    events.put_events(Entries=[event.to_entry(settings.event_bus_name)])
    stack.drain()
    mine = [r for r in receiver.requests if r.body.get("customer_id") == customer_id]
    assert {r.headers["idempotency-key"] for r in mine} == {key}
    assert [k for k, v in receiver.accepted.items() if v.get("customer_id") == customer_id] == [key]
    decisions = [
        d for d in DecisionModel.query(customer_id) if d.campaign_id == JOURNEY and d.journey_status is None
    ]
    assert len(decisions) == 1
    assert decisions[0].outcome == "sent"
    assert decisions[0].trigger_id.startswith("hand-over:")
