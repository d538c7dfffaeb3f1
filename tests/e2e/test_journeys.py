"""Issue 18 item 4 on moto, through the real API, queue handlers, stores and email channel, with a
controllable clock (the service's ``now``): the prospect journey sends, waits and exits on conversion; the
hold-out is drawn at entry and measured; a branch on a purchase; consent withdrawn mid-journey."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.campaigns.catalogue import Catalogue, load_catalogue, parse_catalogue
from shared.campaigns.holdout import is_held_out
from shared.dal.models import DecisionModel, IdentityModel
from shared.events import LeadQualified
from shared.services import campaigns
from shared.services.tracking import unsubscribe_url
from tests.e2e.test_campaigns_over_time import _campaign_emails, _sign_up
from tests.helpers import daytime_zone

JOURNEY = "prospect-journey"


def state_item(customer_id: str, journey_id: str = JOURNEY) -> DecisionModel:
    return DecisionModel.get(customer_id, f"{journey_id}#journey", consistent_read=True)


def step_decisions(customer_id: str, journey_id: str = JOURNEY) -> dict[str, DecisionModel]:
    """The journey's send-step decisions of the person, by step id."""
    return {
        d.trigger_id.split(":", 1)[0]: d
        for d in DecisionModel.query(customer_id)
        if d.campaign_id == journey_id and d.journey_status is None
    }


def confirm_link(stack: LocalStack, email: str) -> str:
    mail = next(m for m in reversed(stack.sent_emails()) if m["To"] == email)
    link = re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", mail["Body"])
    assert link is not None
    return link.group(1)


def confirmed_prospect(stack: LocalStack, client: Client) -> tuple[str, str, datetime]:
    """A confirmed subscriber in the prospect journey's treated group; returns (customer id, email, the
    time the 3-day wait ends)."""
    customer_id, email, confirm = _sign_up(stack, client, JOURNEY)
    assert client.call("POST", confirm)[0] == 200
    stack.drain()
    state = state_item(customer_id)
    assert (state.journey_status, state.journey_path, state.outcome) == (
        "active",
        "qualified-at-entry wait-3-days",
        "deferred",
    )
    assert state.due_shard is not None
    assert state.send_after is not None
    due = datetime.fromisoformat(state.send_after)
    assert due - datetime.fromisoformat(state.decided_at) == timedelta(days=3)
    return customer_id, email, due


def order(client: Client, stack: LocalStack, email: str, total: float = 40.0) -> None:
    body = {
        "userId": email.split("@")[0],
        "event": "Order Completed",
        "properties": {"order_id": f"jo-{uuid.uuid4().hex[:8]}", "total": total},
    }
    assert client.call("POST", "/v1/track", body)[0] == 200
    stack.drain()


def test_the_journey_sends_waits_and_exits_on_conversion(stack: LocalStack, client: Client) -> None:
    customer_id, email, due = confirmed_prospect(stack, client)
    assert campaigns.sweep_due(due - timedelta(minutes=10), only={customer_id}) == {}  # still waiting
    # The first due sweep after the wait: the guide goes out, then the person waits for the case study.
    counts = campaigns.sweep_due(due + timedelta(minutes=5), only={customer_id})
    assert counts == {"journey_sent": 1, "journey_waiting": 1}
    stack.drain()
    [guide] = _campaign_emails(stack, email, JOURNEY)
    assert guide["Subject"]
    assert step_decisions(customer_id)["guide"].outcome == "sent"  # SES accepted it
    state = state_item(customer_id)
    assert state.journey_path == "qualified-at-entry wait-3-days guide wait-a-week"
    assert datetime.fromisoformat(str(state.send_after)) == due + timedelta(minutes=5) + timedelta(days=4)
    # A purchase ends the journey at once, wherever the person is (the bus event wakes it).
    order(client, stack, email)
    state = state_item(customer_id)
    assert (state.journey_status, state.reason, state.due_shard) == ("converted", "converted:purchase", None)
    assert campaigns.sweep_due(due + timedelta(days=5), only={customer_id}) == {}
    stack.drain()
    assert len(_campaign_emails(stack, email, JOURNEY)) == 1  # no case study after the conversion

    status, report, _ = client.call("GET", f"/v1/campaigns/{JOURNEY}/report", private=True)
    assert status == 200
    assert report["kind"] == "journey"
    funnel = report["funnel"]
    assert funnel["converted"] >= 1
    assert funnel["entered"] >= funnel["treated"] >= 1
    steps = {s["id"]: s for s in funnel["steps"]}
    assert steps["guide"]["sent"] >= 1
    assert steps["guide"]["reached"] >= 1
    assert steps["wait-3-days"]["reached"] >= steps["guide"]["reached"]


def test_the_hold_out_is_drawn_at_entry_and_converts_in_the_control_group(
    stack: LocalStack, client: Client
) -> None:
    """A held-out prospect is recorded as entered, never sent anything, and their purchase counts for the
    control group of the journey's lift."""
    while True:
        user = f"hold-{uuid.uuid4().hex[:8]}"
        email = f"{user}@example.com"
        client.call(
            "POST", "/v1/identify", {"userId": user, "traits": {"email": email, "timezone": daytime_zone()}}
        )
        stack.drain()
        customer_id = str(IdentityModel.get(f"user:{user}").customer_id)
        if is_held_out(JOURNEY, customer_id, 10):
            break
    client.call("POST", "/v1/forms/newsletter", form={"email": email, "first_name": user})
    stack.drain()
    state = state_item(customer_id)
    assert (state.journey_status, state.journey_arm, state.journey_path) == (
        "active",
        "control",
        "qualified-at-entry wait-3-days",
    )
    assert state.send_after is not None
    due = datetime.fromisoformat(state.send_after)
    # Through the same waits as the treated group, sent nothing: the guide step is recorded held out.
    assert client.call("POST", confirm_link(stack, email))[0] == 200
    counts = campaigns.sweep_due(due + timedelta(minutes=5), only={customer_id})
    assert counts == {"journey_held_out_step": 1, "journey_waiting": 1}
    assert step_decisions(customer_id)["guide"].outcome == "held_out"
    before = client.call("GET", f"/v1/campaigns/{JOURNEY}/report", private=True)[1]
    order(client, stack, email, total=55.0)  # the goal ends the control group's journey too
    assert state_item(customer_id).journey_status == "converted"
    assert campaigns.sweep_due(due + timedelta(days=8), only={customer_id}) == {}
    stack.drain()
    assert _campaign_emails(stack, email, JOURNEY) == []
    after = client.call("GET", f"/v1/campaigns/{JOURNEY}/report", private=True)[1]
    assert after["funnel"]["held_out"] == before["funnel"]["held_out"]  # entered before the order
    assert after["funnel"]["held_out_converted"] == before["funnel"]["held_out_converted"] + 1
    assert after["held_out"] >= 1
    assert after["control"]["conversions"] == before["control"]["conversions"] + 1
    assert after["control"]["revenue"] == before["control"]["revenue"] + 55.0


def test_consent_withdrawn_mid_journey_ends_it(stack: LocalStack, client: Client) -> None:
    customer_id, email, due = confirmed_prospect(stack, client)
    assert campaigns.sweep_due(due + timedelta(minutes=5), only={customer_id})["journey_sent"] == 1
    stack.drain()
    assert len(_campaign_emails(stack, email, JOURNEY)) == 1  # the guide
    unsubscribe = "/" + unsubscribe_url(customer_id).split("/", 3)[3]
    assert client.call("POST", unsubscribe)[0] == 200
    stack.drain()
    counts = campaigns.sweep_due(due + timedelta(days=4, minutes=10), only={customer_id})
    assert counts == {"journey_exited": 1}
    state = state_item(customer_id)
    assert (state.journey_status, state.reason, state.due_shard) == ("exited", "exited:no_consent", None)
    assert step_decisions(customer_id)["case-study"].outcome == "skipped"
    # Nothing more, ever: a later sweep finds nothing and only the guide was mailed.
    assert campaigns.sweep_due(due + timedelta(days=90), only={customer_id}) == {}
    stack.drain()
    assert len(_campaign_emails(stack, email, JOURNEY)) == 1


def branching_catalogue() -> Catalogue:
    """The packaged catalogue plus a journey whose goal is a click, with a branch on a purchase: who bought
    during the wait leaves ("unless they bought"), the others get the case study."""
    packaged = load_catalogue()
    data = packaged.model_dump(mode="json", by_alias=True)
    data["journeys"].append(
        {
            "id": "branch-journey",
            "name": "Branch on a purchase",
            "entry": [{"type": "score_threshold", "event": "LeadQualified", "stages": ["lead"]}],
            "holdout_percent": 0,
            "goal": {"type": "event", "event": "email_click"},
            "steps": [
                {"id": "wait-a-day", "type": "wait", "days": 1},
                {
                    "id": "bought",
                    "type": "branch",
                    "if": {"type": "event", "event": "purchase"},
                    "then": "exit",
                },
                {"id": "case-study", "type": "send", "template": "nurture-lead"},
            ],
        }
    )
    return parse_catalogue(data)


def test_a_branch_on_a_purchase(stack: LocalStack, client: Client) -> None:
    catalogue = branching_catalogue()
    people = [confirmed_prospect(stack, client)[:2] for _ in range(2)]
    now = datetime.now(UTC)
    for customer_id, _ in people:
        event = LeadQualified(
            customer_id=customer_id, run_id="run-b", previous_stage="prospect", stage="lead", lead_score=30.0
        )
        _, counts = campaigns.handle(event, now=now, catalogue=catalogue)
        assert counts["journey_entered"] == 1
        assert counts["journey_waiting"] == 1
    buyer, other = people
    order(client, stack, buyer[1])
    at = now + timedelta(days=1, hours=1)
    for customer_id, _ in people:
        campaigns.sweep_due(at, only={customer_id}, catalogue=catalogue)
    stack.drain()
    bought = state_item(buyer[0], "branch-journey")
    assert (bought.journey_status, bought.reason) == ("exited", "exited:branch:bought")
    assert _campaign_emails(stack, buyer[1], "branch-journey") == []
    went_on = state_item(other[0], "branch-journey")
    assert (went_on.journey_status, went_on.journey_path) == ("completed", "wait-a-day bought case-study")
    assert len(_campaign_emails(stack, other[1], "branch-journey")) == 1


def test_an_order_placed_before_entry_leaves_the_journey_as_it_was(stack: LocalStack, client: Client) -> None:
    """A replayed old order is not the journey's goal (it counts only after entry) and moves nothing."""
    customer_id, email, _ = confirmed_prospect(stack, client)
    before = state_item(customer_id)
    body = {
        "userId": email.split("@")[0],
        "event": "Order Completed",
        "timestamp": "1997-03-01T10:00:00Z",
        "properties": {"order_id": f"old-{uuid.uuid4().hex[:8]}", "total": 30.0},
    }
    assert client.call("POST", "/v1/track", body)[0] == 200
    stack.drain()
    after = state_item(customer_id)
    assert (after.journey_status, after.journey_version, after.journey_path) == (
        before.journey_status,
        before.journey_version,
        before.journey_path,
    )
