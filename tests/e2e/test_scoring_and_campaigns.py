"""End to end on moto: purchases tracked through the API -> scoring run -> segments on profiles,
SegmentChanged events on the bus (through an SQS target) -> campaigns decided, emailed, reported."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.dal.models import CustomerModel, DecisionModel, IdentityModel, InteractionModel
from shared.services import campaigns
from tests.helpers import bus_tap, daytime_zone, drain_queue, post_batches, prefixed_orders

AS_OF = "1998-06-30"


def _subscribe(stack: LocalStack, client: Client, user_id: str, email: str) -> None:
    """Identify, sign up to the newsletter, click the confirmation link: a customer with consent."""
    client.call(
        "POST", "/v1/identify", {"userId": user_id, "traits": {"email": email, "timezone": daytime_zone()}}
    )
    client.call("POST", "/v1/forms/newsletter", form={"email": email, "first_name": user_id})
    stack.drain()
    mail = next(m for m in reversed(stack.sent_emails()) if m["To"] == email)
    link = re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", mail["Body"])
    assert link is not None
    assert client.call("POST", link.group(1))[0] == 200  # the confirmation page's button


def test_purchases_to_segments_events_and_campaigns(stack: LocalStack, client: Client) -> None:
    run = uuid.uuid4().hex[:6]
    sqs, tap = bus_tap("SegmentChanged")
    calls = prefixed_orders(run, 80)
    users = sorted({c["userId"] for c in calls})
    for user in users[:40]:  # half of them subscribe to the newsletter: campaigns may email them
        _subscribe(stack, client, user, f"{user}@example.com")
    post_batches(client, calls)
    stack.drain()

    status, result, _ = client.call("POST", "/v1/scoring/runs", {"as_of": AS_OF, "segments": 3}, private=True)
    assert status == 202, result
    assert result["status"] == "succeeded"
    summary = result["summary"]
    assert summary["customers_scored"] >= len(users)
    assert 0.5 < summary["pareto_top20_revenue_share"] < 1
    assert summary["purchase_model"] == "mbgnbd"  # the default purchase model (issue 15)
    assert summary["purchase"]["r"] > 0
    status, again, _ = client.call("GET", f"/v1/scoring/runs/{result['run_id']}", private=True)
    assert again["summary"] == summary

    ids = {user: IdentityModel.get(f"user:{user}").customer_id for user in users}
    segments = {}
    for customer_id in ids.values():
        status, profile, _ = client.call("GET", f"/v1/customers/{customer_id}", private=True)
        scores = profile["scores"]
        assert scores["segment"] is not None
        assert 1 <= scores["recency_score"] <= 5
        assert scores["stage"] == "customer"
        assert 0 <= scores["p_alive"] <= 1
        segments[customer_id] = scores["segment"]
    assert len(set(segments.values())) >= 4  # 80 real customers spread over the grid

    changed = [e for e in drain_queue(sqs, tap) if e["detail"]["customer_id"] in segments]
    assert {e["detail"]["customer_id"]: e["detail"]["segment"] for e in changed} == segments
    assert all(e["detail"]["run_id"] == result["run_id"] for e in changed)

    # Campaigns: decided once per (campaign, customer, trigger), only with consent.
    stack.drain()
    decisions = [d for cid in segments for d in DecisionModel.query(cid)]
    by_campaign: dict[str, list[DecisionModel]] = {}
    for decision in decisions:
        by_campaign.setdefault(decision.campaign_id, []).append(decision)
    consented = {ids[u] for u in users[:40]}
    for decision in by_campaign.get("win-back", []) + by_campaign.get("loyalty-reward", []):
        if decision.customer_id not in consented:
            if decision.outcome == "deferred":
                # Issue 18: timing comes before every check on the person; at night (UTC, no zone) the
                # decision waits for the morning and is judged then: still no email address.
                assert decision.send_after is not None
                morning = datetime.fromisoformat(decision.send_after)
                campaigns.sweep_due(morning, only={decision.customer_id})
                decision = next(
                    d
                    for d in DecisionModel.query(decision.customer_id)
                    if d.decision_key == decision.decision_key
                )
            assert (decision.outcome, decision.reason) == (
                "skipped",
                "filtered",
            )  # no email address, no consent
        else:
            assert decision.outcome in {"sent", "held_out"}
    sent = [d for d in decisions if d.outcome == "sent" and d.campaign_id in {"win-back", "loyalty-reward"}]
    emails = [m for m in stack.sent_emails() if m.get("X-Campaign-Id") in {"win-back", "loyalty-reward"}]
    assert {m["To"] for m in emails} >= {
        f"{u}@example.com" for u in users[:40] if ids[u] in {d.customer_id for d in sent}
    }
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in emails)

    # A second run with nothing new: no score rewritten for these customers, no new events, no new sends.
    status, _, _ = client.call("POST", "/v1/scoring/runs", {"as_of": AS_OF, "segments": 2}, private=True)
    assert status == 202
    assert [e for e in drain_queue(sqs, tap) if e["detail"]["customer_id"] in segments] == []
    stack.drain()
    assert len([d for cid in segments for d in DecisionModel.query(cid)]) == len(decisions)


def test_campaign_report_measures_lift_against_the_hold_out(stack: LocalStack, client: Client) -> None:
    """Seeded: treatment 30/100 converted, control 10/100 -> lift 0.20 with a CI around it."""
    # Only a sweep over everyone triggers it (inactive for a year), which no other test runs.
    campaign = "re-permission"
    decided = datetime.now(UTC) - timedelta(days=40)
    run = uuid.uuid4().hex[:6]
    for group, size, converting in (("sent", 100, 30), ("held_out", 100, 10)):
        for i in range(size):
            customer_id = f"lift-{run}-{group}-{i}"
            DecisionModel(
                customer_id,
                f"{campaign}#seed:{run}",
                campaign_id=campaign,
                trigger_id=f"seed:{run}",
                decided_at=decided.isoformat(),
                outcome=group,
                channel="email",
            ).save()
            # The profile as the aggregates leave it: last seen at the order, or before the decision.
            last_seen = decided + timedelta(days=5) if i < converting else decided - timedelta(days=400)
            CustomerModel(customer_id, last_seen_at=last_seen.isoformat()).save()
            if i < converting:
                InteractionModel(
                    customer_id,
                    f"evt#order:{customer_id}",
                    event_id=f"order:{customer_id}",
                    kind="purchase",
                    occurred_at=(decided + timedelta(days=5)).isoformat(),
                    received_at=decided.isoformat(),
                    amount=50.0,
                ).save()
    assert stack.moto is not None
    queries_before = stack.moto.request_counts()["requests"].get("Query", 0)
    status, report, _ = client.call("GET", f"/v1/campaigns/{campaign}/report", private=True)
    queries = stack.moto.request_counts()["requests"].get("Query", 0) - queries_before
    assert status == 200
    # The interactions of the 40 people seen again since the decision are read, not those of all 200
    # contacted (the rest: the decisions' index pages, and whatever the background dispatcher reads).
    assert 40 <= queries < 80, queries
    assert (report["sent"], report["held_out"]) == (100, 100)
    assert (report["treatment"]["conversions"], report["control"]["conversions"]) == (30, 10)
    assert report["treatment"]["revenue"] == 1500
    assert report["absolute_lift"] == pytest.approx(0.2)
    assert report["lift_ci_low"] < 0.2 < report["lift_ci_high"]
    assert report["incremental_conversions"] == pytest.approx(20)
    assert client.call("GET", "/v1/campaigns/no-such/report", private=True)[0] == 404


def test_campaign_switch(client: Client) -> None:
    status, body, _ = client.call("PATCH", "/v1/campaigns/win-back", {"enabled": False}, private=True)
    assert (status, body["enabled"]) == (200, False)
    status, listing, _ = client.call("GET", "/v1/campaigns", private=True)
    assert next(c for c in listing["campaigns"] if c["id"] == "win-back")["enabled"] is False
    assert client.call("PATCH", "/v1/campaigns/win-back", {"enabled": True}, private=True)[0] == 200
    assert client.call("PATCH", "/v1/campaigns/nope", {"enabled": True}, private=True)[0] == 404
    assert client.call("PATCH", "/v1/campaigns/win-back", {"enabled": "perhaps"}, private=True)[0] == 422
