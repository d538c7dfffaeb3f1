"""Trigger matching: bus events and the scheduled sweep, with idempotent trigger ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.campaigns.catalogue import (
    Catalogue,
    InteractionTrigger,
    ScoreThresholdTrigger,
    SegmentEntryTrigger,
)
from shared.campaigns.matching import CampaignMatch, match_event, sweep_matches
from shared.campaigns.rules import decide
from shared.events import ConsentChanged, InteractionTracked, LeadQualified, SegmentChanged

from ._support import NOON, paris, retired_campaign
from .conftest import CustomerFactory


def _ids(matches: list[CampaignMatch]) -> list[str]:
    return sorted(m.campaign.id for m in matches)


def _interaction(
    kind: str, name: str | None = None, occurred_at: str = "2026-01-14T09:30:00Z"
) -> InteractionTracked:
    return InteractionTracked(
        customer_id="c-1", event_id="ev-1", kind=kind, name=name, occurred_at=occurred_at
    )


def _segment(segment: str, previous: str | None, run_id: str = "run-1") -> SegmentChanged:
    return SegmentChanged(
        customer_id="c-1",
        run_id=run_id,
        previous_segment=previous,
        segment=segment,
        recency_score=2,
        frequency_score=4,
        monetary_score=4,
    )


def _lead(stage: str, previous: str | None = None, score: float = 60.0) -> LeadQualified:
    return LeadQualified(
        customer_id="c-1", run_id="run-7", previous_stage=previous, stage=stage, lead_score=score
    )


# --- bus events -------------------------------------------------------------------------------------


def test_interaction_events(catalogue: Catalogue) -> None:
    welcome = match_event(catalogue, _interaction("consent_granted"), NOON)
    assert _ids(welcome) == ["welcome"]
    (match,) = welcome
    assert match.customer_id == "c-1"
    assert match.trigger.trigger_id == "event:ev-1"
    assert match.trigger.occurred_at == datetime(2026, 1, 14, 9, 30, tzinfo=UTC)
    assert match.decision_key == "welcome#event:ev-1"

    assert _ids(match_event(catalogue, _interaction("purchase", "Order Completed"), NOON)) == ["cross-sell"]
    # A sign-up enters the prospect journey (shared.services.journeys), no single campaign any more.
    assert match_event(catalogue, _interaction("signup"), NOON) == []
    assert match_event(catalogue, _interaction("page_view"), NOON) == []


def test_interaction_name_filter_and_timestamps(catalogue: Catalogue) -> None:
    cross_sell = catalogue.get("cross-sell")
    assert cross_sell is not None
    named = cross_sell.model_copy(
        update={"trigger": InteractionTrigger(type="interaction", kind="purchase", name="Order Completed")}
    )
    custom = catalogue.model_copy(update={"campaigns": [named]})
    assert len(match_event(custom, _interaction("purchase", "Order Completed"), NOON)) == 1
    assert match_event(custom, _interaction("purchase", "Order Refunded"), NOON) == []
    # A timestamp from a client clock running ahead is clamped to now; an unparsable one becomes now.
    (ahead,) = match_event(custom, _interaction("purchase", "Order Completed", "2030-01-01T00:00:00Z"), NOON)
    assert ahead.trigger.occurred_at == NOON
    (garbage,) = match_event(custom, _interaction("purchase", "Order Completed", "yesterday"), NOON)
    assert garbage.trigger.occurred_at == NOON


def test_segment_entry(catalogue: Catalogue) -> None:
    at_risk = match_event(catalogue, _segment("At risk", "Loyal"), NOON)
    assert _ids(at_risk) == ["win-back"]
    assert at_risk[0].trigger.trigger_id == "segment:At risk:run-1"
    assert at_risk[0].trigger.occurred_at == NOON
    assert _ids(match_event(catalogue, _segment("Can't lose them", "Champions"), NOON)) == ["win-back"]
    assert _ids(match_event(catalogue, _segment("Champions", None), NOON)) == ["loyalty-reward"]
    assert match_event(catalogue, _segment("Champions", "Champions"), NOON) == []  # no entry
    assert match_event(catalogue, _segment("Hibernating", "At risk"), NOON) == []


def test_segment_entry_from_segments(catalogue: Catalogue) -> None:
    win_back = catalogue.get("win-back")
    assert win_back is not None
    rule = SegmentEntryTrigger(
        type="segment_entry", segments=["At risk"], from_segments=["Champions", "Loyal"]
    )
    custom = catalogue.model_copy(update={"campaigns": [win_back.model_copy(update={"trigger": rule})]})
    assert len(match_event(custom, _segment("At risk", "Loyal"), NOON)) == 1
    assert match_event(custom, _segment("At risk", "Need attention"), NOON) == []
    assert match_event(custom, _segment("At risk", None), NOON) == []


def test_lead_qualified(catalogue: Catalogue) -> None:
    # The lead stages are the prospect journey's now: its entry and its hand-over step.
    assert match_event(catalogue, _lead("lead", "subscriber"), NOON) == []
    handover = retired_campaign("sales-handover")
    lead = match_event(
        catalogue.model_copy(update={"campaigns": [handover]}), _lead("marketing_qualified"), NOON
    )
    assert _ids(lead) == ["sales-handover"]
    assert lead[0].trigger.trigger_id == "stage:marketing_qualified:run-7"
    assert (
        match_event(catalogue.model_copy(update={"campaigns": [handover]}), _lead("lead", "lead"), NOON) == []
    )

    rule = ScoreThresholdTrigger(type="score_threshold", stages=["marketing_qualified"], min_lead_score=70)
    custom = catalogue.model_copy(update={"campaigns": [handover.model_copy(update={"trigger": rule})]})
    assert match_event(custom, _lead("marketing_qualified", score=65), NOON) == []
    assert len(match_event(custom, _lead("marketing_qualified", score=75), NOON)) == 1


def test_disabled_campaigns_and_other_events(catalogue: Catalogue) -> None:
    win_back = catalogue.get("win-back")
    assert win_back is not None
    off = catalogue.model_copy(update={"campaigns": [win_back.model_copy(update={"enabled": False})]})
    assert match_event(off, _segment("At risk", "Loyal"), NOON) == []
    assert len(match_event(off, _segment("At risk", "Loyal"), NOON, include_disabled=True)) == 1
    consent = ConsentChanged(customer_id="c-1", channel="email", status="granted")
    assert match_event(catalogue, consent, NOON) == []


def test_redelivered_event_gives_the_same_trigger(catalogue: Catalogue) -> None:
    first = match_event(catalogue, _segment("At risk", "Loyal"), NOON)
    again = match_event(catalogue, _segment("At risk", "Loyal"), NOON + timedelta(minutes=5))
    assert [m.decision_key for m in first] == [m.decision_key for m in again]


# --- scheduled sweep --------------------------------------------------------------------------------


def test_inactivity_for_a_year(catalogue: Catalogue, make_customer: CustomerFactory) -> None:
    quiet = make_customer(last_seen_at="2024-12-01T10:00:00Z", purchase_days=["2024-03-10", "2024-12-01"])
    now = datetime(2026, 1, 14, 3, 0, tzinfo=UTC)
    matches = [m for m in sweep_matches(catalogue, quiet, now) if m.campaign.id == "re-permission"]
    assert len(matches) == 1
    trigger = matches[0].trigger
    assert trigger.trigger_id == "inactivity:2024-12-01"
    assert trigger.occurred_at == datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
    # The sweep a month later (or a re-run) yields the same occurrence: idempotent.
    later = [
        m
        for m in sweep_matches(catalogue, quiet, now + timedelta(days=31))
        if m.campaign.id == "re-permission"
    ]
    assert [m.trigger.trigger_id for m in later] == ["inactivity:2024-12-01"]
    # Active customers do not match; a recent purchase or a recent visit is enough to be active.
    assert "re-permission" not in _ids(sweep_matches(catalogue, make_customer(), now))
    visited = make_customer(last_seen_at="2025-11-01T10:00:00Z", purchase_days=["2024-03-10"])
    assert "re-permission" not in _ids(sweep_matches(catalogue, visited, now))
    # A new spell of inactivity after coming back is a new occurrence.
    came_back = make_customer(last_seen_at="2025-01-05T10:00:00Z", purchase_days=["2025-01-05"])
    ids = [
        m.trigger.trigger_id
        for m in sweep_matches(catalogue, came_back, now)
        if m.campaign.id == "re-permission"
    ]
    assert ids == ["inactivity:2025-01-05"]


def test_inactivity_of_prospects_and_only_customers(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    now = datetime(2026, 1, 14, 3, 0, tzinfo=UTC)
    prospect = make_customer(
        purchase_days=None,
        is_customer=False,
        created_at="2024-06-01T00:00:00Z",
        first_seen_at="2024-06-01T00:00:00Z",
        last_seen_at=None,
    )
    (match,) = [m for m in sweep_matches(catalogue, prospect, now) if m.campaign.id == "re-permission"]
    assert match.trigger.trigger_id == "inactivity:2024-06-01"

    repermission = catalogue.get("re-permission")
    assert repermission is not None
    rule = repermission.trigger.model_copy(update={"only_customers": True})
    custom = catalogue.model_copy(update={"campaigns": [repermission.model_copy(update={"trigger": rule})]})
    assert sweep_matches(custom, prospect, now) == []
    nobody_knows = make_customer(purchase_days=None, is_customer=None, created_at=None, first_seen_at=None)
    assert sweep_matches(catalogue, nobody_knows, now) == []


def test_first_purchase_anniversary(catalogue: Catalogue, make_customer: CustomerFactory) -> None:
    customer = make_customer(purchase_days=["2024-03-10", "2025-06-01"])

    def anniversary(now: datetime) -> list[str]:
        return [
            m.trigger.trigger_id
            for m in sweep_matches(catalogue, customer, now)
            if m.campaign.id == "first-purchase-anniversary"
        ]

    assert anniversary(paris(2026, 3, 10, 0, 5)) == ["anniversary:first_purchase:2026"]
    assert anniversary(paris(2026, 3, 13, 9, 0)) == ["anniversary:first_purchase:2026"]  # grace days
    assert anniversary(paris(2026, 3, 14, 9, 0)) == []
    assert anniversary(paris(2026, 3, 9, 23, 0)) == []
    assert anniversary(paris(2025, 3, 10, 9, 0)) == ["anniversary:first_purchase:2025"]
    assert anniversary(paris(2024, 3, 10, 9, 0)) == []  # the purchase itself is no anniversary
    (match,) = [
        m
        for m in sweep_matches(catalogue, customer, paris(2026, 3, 11, 9))
        if m.campaign.id.startswith("first")
    ]
    assert match.trigger.occurred_at == paris(2026, 3, 10, 0, 0)


def test_anniversary_uses_local_dates_and_leap_days(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    # 23:30 UTC on 9 March is 10 March in Paris.
    late = make_customer(first_purchase_at="2024-03-09T23:30:00Z", purchase_days=None)
    hits = sweep_matches(catalogue, late, paris(2026, 3, 10, 10))
    assert "first-purchase-anniversary" in _ids(hits)
    leap = make_customer(purchase_days=["2024-02-29"], timezone="UTC")
    hits = sweep_matches(catalogue, leap, datetime(2027, 2, 28, 12, tzinfo=UTC))
    assert [m.trigger.trigger_id for m in hits if m.campaign.id.startswith("first")] == [
        "anniversary:first_purchase:2027"
    ]
    never_bought = make_customer(purchase_days=None)
    assert "first-purchase-anniversary" not in _ids(
        sweep_matches(catalogue, never_bought, paris(2026, 3, 10, 10))
    )


def test_anniversary_grace_across_new_year(make_customer: CustomerFactory, catalogue: Catalogue) -> None:
    customer = make_customer(purchase_days=["2023-12-30"], timezone="UTC")
    hits = sweep_matches(catalogue, customer, datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert [m.trigger.trigger_id for m in hits if m.campaign.id.startswith("first")] == [
        "anniversary:first_purchase:2025"
    ]


def test_match_then_decide_end_to_end(catalogue: Catalogue, make_customer: CustomerFactory) -> None:
    customer = make_customer(customer_id="c-7", segment="At risk")
    (match,) = match_event(catalogue, _segment("At risk", "Loyal"), NOON)
    decision = decide(catalogue, match.campaign, match.trigger, customer, [], NOON)
    assert decision.outcome in ("sent", "held_out")
    assert decision.decision_key == match.decision_key
