"""Issue 18 on moto, through the real API, queue handlers and stores, with a controllable clock (the
service's ``now``): triggers judged when due, pending consent waited for, replayed history never mailed,
quiet-hours deferrals sent from the due index, the daily sweep in resumable scan segments."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.campaigns.holdout import is_held_out
from shared.campaigns.rules import PENDING_CONSENT_RECHECK, Decision
from shared.dal.models import CustomerModel, DecisionModel, IdentityModel
from shared.events import SegmentChanged
from shared.services import campaigns
from tests.helpers import daytime_zone

# The day-3 nurture is the prospect journey's guide step now (issue 18 item 4: signup-nurture became it).
NURTURE = "prospect-journey"


def _decision(customer_id: str, campaign_id: str) -> DecisionModel:
    [decision] = [d for d in DecisionModel.query(customer_id) if d.campaign_id == campaign_id]
    return decision


def _sign_up(stack: LocalStack, client: Client, campaign_id: str = NURTURE) -> tuple[str, str, str]:
    """A person who signed up to the newsletter (double opt-in: consent pending), not in the campaign's
    hold-out group; returns (customer id, email, the confirmation link's path)."""
    while True:
        user = f"due-{uuid.uuid4().hex[:8]}"
        email = f"{user}@example.com"
        client.call(
            "POST", "/v1/identify", {"userId": user, "traits": {"email": email, "timezone": daytime_zone()}}
        )
        stack.drain()
        customer_id = str(IdentityModel.get(f"user:{user}").customer_id)
        if not is_held_out(campaign_id, customer_id, 10):
            break
    client.call("POST", "/v1/forms/newsletter", form={"email": email, "first_name": user})
    stack.drain()
    mail = next(m for m in reversed(stack.sent_emails()) if m["To"] == email)
    link = re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", mail["Body"])
    assert link is not None
    return customer_id, email, link.group(1)


def _campaign_emails(stack: LocalStack, email: str, campaign_id: str) -> list[dict[str, str]]:
    return [m for m in stack.sent_emails() if m["To"] == email and m.get("X-Campaign-Id") == campaign_id]


def _journey_state(customer_id: str) -> DecisionModel:
    return DecisionModel.get(customer_id, f"{NURTURE}#journey", consistent_read=True)


def _guide(customer_id: str) -> DecisionModel:
    [guide] = [
        d
        for d in DecisionModel.query(customer_id)
        if d.trigger_id.startswith("guide:") and d.campaign_id == NURTURE
    ]
    return guide


def test_confirmed_during_the_delay_receives_the_day_3_nurture(stack: LocalStack, client: Client) -> None:
    customer_id, email, confirm = _sign_up(stack, client)
    waiting = _journey_state(customer_id)
    # Entered at sign-up while consent was pending: waiting for the day-3 guide, nothing judged yet.
    assert (waiting.outcome, waiting.journey_status, waiting.reason) == ("deferred", "active", None)
    assert waiting.send_after is not None
    assert waiting.due_shard is not None
    due = datetime.fromisoformat(waiting.send_after)
    signed_up = datetime.fromisoformat(str(waiting.trigger_occurred_at))
    assert due - signed_up == timedelta(days=3)

    assert client.call("POST", confirm)[0] == 200  # confirmed "on day 1": before the due time
    stack.drain()
    assert campaigns.sweep_due(due - timedelta(minutes=10), only={customer_id}) == {}  # not due yet
    # The due sweep runs every 5 minutes: the first run after the due time sends it.
    counts = campaigns.sweep_due(due + timedelta(minutes=5), only={customer_id})
    assert counts == {"journey_sent": 1, "journey_waiting": 1}  # then waits for the case study
    stack.drain()
    assert _guide(customer_id).outcome == "sent"
    assert len(_campaign_emails(stack, email, NURTURE)) == 1
    # The next runs find nothing more to do.
    assert campaigns.sweep_due(due + timedelta(minutes=10), only={customer_id}) == {}


def test_never_confirmed_is_skipped_once_the_window_ends(stack: LocalStack, client: Client) -> None:
    customer_id, email, _ = _sign_up(stack, client)
    waiting = _journey_state(customer_id)
    assert waiting.send_after is not None
    at = datetime.fromisoformat(waiting.send_after) + timedelta(minutes=5)
    window_end = datetime.fromisoformat(str(waiting.trigger_occurred_at)) + campaigns.confirmation_window()
    outcomes: list[dict[str, int]] = []
    for _ in range(200):  # the wait is re-checked every PENDING_CONSENT_RECHECK until the window ends
        counts = campaigns.sweep_due(at, only={customer_id})
        outcomes.append(counts)
        stored = _journey_state(customer_id)
        if stored.journey_status != "active":
            break
        assert stored.send_after is not None
        assert datetime.fromisoformat(stored.send_after) <= max(at, window_end) + PENDING_CONSENT_RECHECK
        at = datetime.fromisoformat(stored.send_after) + timedelta(minutes=5)
    assert (stored.journey_status, stored.reason) == ("exited", "exited:unconfirmed")
    assert (_guide(customer_id).outcome, _guide(customer_id).reason) == ("skipped", "unconfirmed")
    assert outcomes[-1] == {"journey_exited": 1}
    stack.drain()
    assert _campaign_emails(stack, email, NURTURE) == []
    status, report, _ = client.call("GET", f"/v1/campaigns/{NURTURE}/report", private=True)
    assert status == 200
    assert report["skipped"]["unconfirmed"] >= 1


def test_a_replayed_old_order_sends_nothing_and_counts_as_stale(stack: LocalStack, client: Client) -> None:
    customer_id, email, confirm = _sign_up(stack, client, "cross-sell")
    assert client.call("POST", confirm)[0] == 200
    user = email.split("@")[0]
    order_id = f"1997-{uuid.uuid4().hex[:8]}"
    status, body, _ = client.call(
        "POST",
        "/v1/track",
        {
            "userId": user,
            "event": "Order Completed",
            "timestamp": "1997-03-25T10:00:00Z",
            "properties": {"order_id": order_id, "total": 42.0},
        },
    )
    assert status == 200, body
    stack.drain()
    stored = _decision(customer_id, "cross-sell")
    assert (stored.outcome, stored.reason, stored.due_shard) == ("skipped", "stale", None)
    # Nothing is waiting for it: a sweep long after its "due" time sends nothing.
    later = campaigns.sweep(datetime.now(UTC) + timedelta(days=15), only={customer_id})
    assert later.get("resumed_sent", 0) == 0
    stack.drain()
    assert _campaign_emails(stack, email, "cross-sell") == []
    status, report, _ = client.call("GET", "/v1/campaigns/cross-sell/report", private=True)
    assert report["skipped"]["stale"] >= 1


def deferred_at_night(stack: LocalStack, client: Client, days_ahead: int) -> tuple[str, str, Decision]:
    """A confirmed subscriber in Paris who becomes a Champion at 22:30 UTC ``days_ahead`` days from now:
    loyalty-reward's decision, deferred by the quiet hours. Returns (customer id, email, decision)."""
    customer_id, email, confirm = _sign_up(stack, client, "loyalty-reward")
    assert client.call("POST", confirm)[0] == 200
    paris = {"userId": email.split("@")[0], "traits": {"timezone": "Europe/Paris"}}
    client.call("POST", "/v1/identify", paris)
    stack.drain()
    night = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(
        hour=22, minute=30, second=0, microsecond=0
    )
    event = SegmentChanged(
        customer_id=customer_id,
        run_id=f"run-{uuid.uuid4().hex[:6]}",
        previous_segment="Loyal",
        segment="Champions",
        recency_score=5,
        frequency_score=5,
        monetary_score=5,
    )
    [decision] = campaigns.handle_event(event, now=night)
    return customer_id, email, decision


def test_quiet_hours_deferral_is_sent_within_minutes_of_its_time(stack: LocalStack, client: Client) -> None:
    customer_id, email, decision = deferred_at_night(stack, client, days_ahead=30)
    assert decision.outcome == "deferred"
    assert decision.send_after is not None
    # Any run of the 5-minute due sweep in the 5 minutes after the send time sends it (well within 15).
    # (The person's other deferred decisions, e.g. the sign-up nurture due a month earlier, are stale
    # by then: skipped.)
    tick = decision.send_after + timedelta(minutes=4, seconds=59)
    campaigns.sweep_due(decision.send_after - timedelta(seconds=1), only={customer_id})
    assert _decision(customer_id, "loyalty-reward").outcome == "deferred"
    assert campaigns.sweep_due(tick, only={customer_id}) == {"resumed_sent": 1}
    stack.drain()
    assert _decision(customer_id, "loyalty-reward").outcome == "sent"
    assert len(_campaign_emails(stack, email, "loyalty-reward")) == 1


def test_the_daily_sweep_runs_in_resumable_scan_segments(stack: LocalStack, client: Client) -> None:
    customer_id, email, confirm = _sign_up(stack, client, "first-purchase-anniversary")
    assert client.call("POST", confirm)[0] == 200
    first_purchase = datetime.now(UTC) - timedelta(days=400)
    order = {
        "userId": email.split("@")[0],
        "event": "Order Completed",
        "timestamp": first_purchase.isoformat(),
        "properties": {"order_id": f"anniv-{customer_id}", "total": 30},
    }
    assert client.call("POST", "/v1/track", order)[0] == 200
    stack.drain()
    anniversary = first_purchase.replace(year=first_purchase.year + 1, hour=12, minute=0)
    # Bare profiles, so that every segment holds several (whatever else the session's table holds).
    for i in range(12):
        CustomerModel(f"sweep-filler-{uuid.uuid4().hex[:6]}-{i}").save()
    seen = continuations = 0
    total_segments = 3
    for segment in range(total_segments):
        start_key = None
        while True:
            # Small pages and a zero budget: every worker stops after one page and hands the rest on.
            progress = campaigns.sweep_customers(
                anniversary,
                only={customer_id},
                segment=segment,
                total_segments=total_segments,
                start_key=start_key,
                budget=timedelta(0),
                page_size=1,
            )
            seen += progress.matched
            if progress.next_key is None:
                break
            start_key = progress.next_key
            continuations += 1
    assert seen == 1  # the person is in exactly one segment, matched once
    assert continuations > 0  # pages of one profile: every segment with a profile goes on
    stored = _decision(customer_id, "first-purchase-anniversary")
    assert stored.trigger_id == f"anniversary:first_purchase:{anniversary.year}"
