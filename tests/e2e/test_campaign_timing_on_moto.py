"""Campaign timing on moto, through the real service and stores: quiet hours defer (never drop), the
daily sweep sends what became due, cooldown blocks a second send, the date trigger fires on the day."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.campaigns.holdout import is_held_out
from shared.dal.models import DecisionModel, IdentityModel
from shared.events import SegmentChanged
from shared.services import campaigns
from tests.e2e.test_scoring_and_campaigns import _subscribe


def _subscribed_customer(stack: LocalStack, client: Client, timezone: str | None = None) -> tuple[str, str]:
    """A confirmed subscriber who is not in loyalty-reward's hold-out group (the hash is deterministic)."""
    while True:
        user = f"timing-{uuid.uuid4().hex[:8]}"
        _subscribe(stack, client, user, f"{user}@example.com")
        # The welcome email is decided now, in the daytime zone _subscribe set: after the zone below
        # changes, it would be deferred at night in Paris and resumed by the sweeps of these tests.
        stack.drain()
        customer_id = str(IdentityModel.get(f"user:{user}").customer_id)
        if not is_held_out("loyalty-reward", customer_id, 10):
            break
    if timezone:
        client.call("POST", "/v1/identify", {"userId": user, "traits": {"timezone": timezone}})
    stack.drain()
    return customer_id, user


def _champions(customer_id: str, run_id: str) -> SegmentChanged:
    return SegmentChanged(
        customer_id=customer_id,
        run_id=run_id,
        previous_segment="Loyal",
        segment="Champions",
        recency_score=5,
        frequency_score=5,
        monetary_score=5,
    )


def _decision(customer_id: str, campaign_id: str) -> list[DecisionModel]:
    return [d for d in DecisionModel.query(customer_id) if d.campaign_id == campaign_id]


def test_quiet_hours_defer_then_the_sweep_sends(stack: LocalStack, client: Client) -> None:
    customer_id, user = _subscribed_customer(stack, client, timezone="Europe/Paris")
    # 22:30 UTC in January is 23:30 in Paris: inside the default quiet hours (21:00-08:00).
    late = (datetime.now(UTC) + timedelta(days=30)).replace(hour=22, minute=30, second=0, microsecond=0)
    [decision] = campaigns.handle_event(_champions(customer_id, f"run-{uuid.uuid4().hex[:6]}"), now=late)
    assert decision.outcome == "deferred"
    assert decision.send_after is not None
    paris_morning = decision.send_after.astimezone(ZoneInfo("Europe/Paris"))
    assert (paris_morning.hour, paris_morning.minute) == (8, 0)
    assert paris_morning.date() == (late + timedelta(days=1)).date()

    emails_before = len(stack.sent_emails())
    counts = campaigns.sweep(now=decision.send_after - timedelta(minutes=5), only={customer_id})
    assert counts.get("resumed_sent", 0) == 0  # not due yet
    counts = campaigns.sweep(now=decision.send_after + timedelta(minutes=5), only={customer_id})
    assert counts["resumed_sent"] == 1
    [stored] = _decision(customer_id, "loyalty-reward")
    assert stored.outcome == "queued"  # until SES accepted the message
    stack.drain()
    [stored] = _decision(customer_id, "loyalty-reward")
    assert stored.outcome == "sent"
    sent = [m for m in stack.sent_emails()[emails_before:] if m.get("X-Campaign-Id") == "loyalty-reward"]
    assert [m["To"] for m in sent] == [f"{user}@example.com"]


def test_cooldown_blocks_a_second_send_of_the_same_campaign(stack: LocalStack, client: Client) -> None:
    customer_id, _ = _subscribed_customer(stack, client, timezone="Etc/GMT")
    noon = (datetime.now(UTC) + timedelta(days=60)).replace(hour=12, minute=0, second=0, microsecond=0)
    [first] = campaigns.handle_event(_champions(customer_id, "run-a"), now=noon)
    assert first.outcome == "sent"
    # The same event again (a replay): nothing new is decided.
    assert campaigns.handle_event(_champions(customer_id, "run-a"), now=noon) == []
    # A new entry into Champions 10 days later: within the 90-day cooldown.
    [second] = campaigns.handle_event(_champions(customer_id, "run-b"), now=noon + timedelta(days=10))
    assert (second.outcome, second.reason) == ("skipped", "cooldown")
    stack.drain()  # the email channel records that SES accepted the first message
    assert sorted(d.outcome for d in _decision(customer_id, "loyalty-reward")) == ["sent", "skipped"]


def test_first_purchase_anniversary_fires_from_the_daily_sweep(stack: LocalStack, client: Client) -> None:
    customer_id, user = _subscribed_customer(stack, client, timezone="Etc/GMT")
    first_purchase = datetime.now(UTC) - timedelta(days=400)
    _, body, _ = client.call(
        "POST",
        "/v1/track",
        {
            "userId": user,
            "event": "Order Completed",
            "timestamp": first_purchase.isoformat(),
            "properties": {"order_id": f"anniv-{customer_id}", "total": 30},
        },
    )
    assert body["customer_id"] == customer_id
    stack.drain()
    anniversary = first_purchase.replace(year=first_purchase.year + 1, hour=12, minute=0)
    campaigns.sweep(now=anniversary, only={customer_id})
    decisions = _decision(customer_id, "first-purchase-anniversary")
    assert len(decisions) == 1
    assert decisions[0].trigger_id == f"anniversary:first_purchase:{anniversary.year}"
    assert decisions[0].outcome in {"queued", "held_out"}  # queued: sent once SES accepted it
    campaigns.sweep(
        now=anniversary + timedelta(hours=1), only={customer_id}
    )  # the sweep again the same day: nothing new
    assert len(_decision(customer_id, "first-purchase-anniversary")) == 1
