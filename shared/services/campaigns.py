"""Campaign service: the live catalogue, decisions for bus events and the daily sweep, reports."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.campaigns.catalogue import Campaign, Catalogue, Journey, load_catalogue
from shared.campaigns.customer import CustomerView
from shared.campaigns.matching import CampaignMatch, match_event, sweep_matches
from shared.campaigns.report import CampaignReport, build_report
from shared.campaigns.rules import (
    Decision,
    DecisionRecord,
    StoredDecision,
    Trigger,
    decide,
    decide_without_person,
    resume_trigger,
)
from shared.dal import campaigns as store
from shared.dal import customers, decisions
from shared.dal.bus import publish
from shared.dal.campaigns import SweepProgress
from shared.events import BusEvent, CampaignSweepRequested
from shared.services import conversions, journeys
from shared.services.campaign_sends import (
    EventReads,
    confirmation_window,
    stored_outcome,
    triggered_event,
)
from shared.services.errors import NotFoundError


class CampaignNotFoundError(NotFoundError):
    kind = "campaign"


def sync_catalogue(now: datetime | None = None) -> Catalogue:
    """Load the packaged catalogue into the Campaigns table (keeping each campaign's enabled switch)."""
    now = now or datetime.now(UTC)
    catalogue = load_catalogue()
    existing = store.campaign_switches()
    entries: list[Campaign | Journey] = [*catalogue.campaigns, *catalogue.journeys]
    for campaign in entries:
        current = existing.get(campaign.id)
        if current is None or current.catalogue_version != catalogue.version:
            enabled = current.enabled if current is not None else campaign.enabled
            store.save_campaign(
                campaign.id, catalogue.version, enabled, campaign.model_dump(mode="json", by_alias=True), now
            )
    return live_catalogue()


def live_catalogue() -> Catalogue:
    """The packaged catalogue with the enabled switches of the Campaigns table."""
    catalogue = load_catalogue()
    switches = {c.campaign_id: c.enabled for c in store.campaign_switches().values()}
    live = [c.model_copy(update={"enabled": switches.get(c.id, c.enabled)}) for c in catalogue.campaigns]
    paths = [j.model_copy(update={"enabled": switches.get(j.id, j.enabled)}) for j in catalogue.journeys]
    return catalogue.model_copy(update={"campaigns": live, "journeys": paths})


def list_campaigns() -> list[dict[str, Any]]:
    catalogue = live_catalogue()
    version = catalogue.version
    listed = [
        {**c.model_dump(mode="json"), "kind": "campaign", "catalogue_version": version}
        for c in catalogue.campaigns
    ]
    return listed + [
        {**j.model_dump(mode="json", by_alias=True), "kind": "journey", "catalogue_version": version}
        for j in catalogue.journeys
    ]


def set_enabled(campaign_id: str, enabled: bool) -> dict[str, Any]:
    packaged = load_catalogue()
    if packaged.get(campaign_id) is None and packaged.journey(campaign_id) is None:
        raise CampaignNotFoundError(campaign_id)
    if not store.set_enabled(campaign_id, enabled, datetime.now(UTC)):
        sync_catalogue()
        store.set_enabled(campaign_id, enabled, datetime.now(UTC))
    return next(c for c in list_campaigns() if c["id"] == campaign_id)


def customer_view(customer_id: str) -> CustomerView | None:
    """The customer as campaigns see it; None if erased (or being erased) or merged into another."""
    return store.customer_view(customer_id)


def _recent(customer_id: str) -> list[DecisionRecord]:
    return store.recent_decisions(customer_id)


def _record(catalogue: Catalogue, decision: Decision, trigger: Trigger) -> bool:
    """Write the decision (once per trigger); False if it was already decided, or if the person was erased
    meanwhile."""
    recorded = store.record_decision(
        decision,
        outcome=stored_outcome(decision),
        catalogue_version=catalogue.version,
        trigger_occurred_at=trigger.occurred_at,
    )
    if not recorded:
        return False
    if decision.customer_id not in customers.live_ids([decision.customer_id]):
        # Erased while this was being decided: the erasure may already have deleted the decisions, so
        # this one would outlive the person (and its email must not go out).
        decisions.discard(decision.customer_id, decision.decision_key)
        return False
    return True


# A redelivered trigger republishes its decision's message within this window (shorter than the email
# channel's idempotency expiry, so a republished message is always recognised there).
REPUBLISH_WINDOW = timedelta(days=6)


def _recently_sent(customer_id: str, decision_key: str, now: datetime) -> bool:
    existing = store.get_decision(customer_id, decision_key)
    return (
        existing is not None
        and existing.outcome in ("sent", "queued")
        and now - existing.decided_at < REPUBLISH_WINDOW
    )


def _apply(
    matches: list[CampaignMatch], catalogue: Catalogue, now: datetime, reads: EventReads | None = None
) -> list[Decision]:
    reads = reads or EventReads()
    made: list[Decision] = []
    outgoing: list[BusEvent] = []
    for match in matches:
        customer_id, campaign = match.customer_id, match.campaign
        # Disabled or stale (a replayed order) needs nothing of the person but that they are still there.
        decision = decide_without_person(catalogue, campaign, match.trigger, customer_id, now)
        if decision is None:
            customer = reads.view(customer_id)
            if customer is None:
                continue  # erased or merged: nobody to contact
            recent = _recent(customer_id)
            window = confirmation_window()
            decision = decide(catalogue, campaign, match.trigger, customer, recent, now, window)
        elif not reads.contactable(customer_id):
            continue
        if not _record(catalogue, decision, match.trigger):
            # Already decided (a replayed or duplicated event), or the person was just erased. A recent
            # "sent" decision is published again: its first publish may have failed after the decision
            # was written (the channel sends each decision's message once).
            if _recently_sent(customer_id, decision.decision_key, now):
                customer = reads.view(customer_id)
                if customer is not None:
                    outgoing.append(triggered_event(campaign, decision, customer))
            continue
        made.append(decision)
        if decision.outcome == "sent":
            customer = reads.view(customer_id)
            if customer is not None:
                outgoing.append(triggered_event(campaign, decision, customer))
    if outgoing:
        publish(outgoing)
    return made


def handle_event(
    event: BusEvent, now: datetime | None = None, catalogue: Catalogue | None = None
) -> list[Decision]:
    """``catalogue``: the live catalogue when the caller already read it (once per batch of events)."""
    return handle(event, now, catalogue)[0]


def handle(
    event: BusEvent, now: datetime | None = None, catalogue: Catalogue | None = None
) -> tuple[list[Decision], dict[str, int]]:
    """A bus event: the single campaigns it triggers (their decisions), then the journeys it enters or
    moves on (counts of what they did)."""
    now = now or datetime.now(UTC)
    catalogue = catalogue or live_catalogue()
    reads = EventReads()  # the single campaigns and the journeys read each profile once
    made = _apply(match_event(catalogue, event, now), catalogue, now, reads)
    return made, dict(journeys.handle_event(event, catalogue, now, reads))


def sweep_due(
    now: datetime | None = None,
    only: Collection[str] | None = None,
    catalogue: Catalogue | None = None,
) -> dict[str, int]:
    """Frequent (every few minutes): deferred decisions whose send time came, read from the sparse due
    index (the cost is the number of due decisions). Each one is decided again with every check; one
    that must still wait (a pending consent, quiet hours) gets its new send time.

    Messages are published before the decisions are resolved, so a failed publish leaves them due for
    the next run (a message published twice is sent once: the channel keys it by decision).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    catalogue = catalogue or live_catalogue()
    window = confirmation_window()
    counts: dict[str, int] = defaultdict(int)
    outgoing: list[BusEvent] = []
    resolutions: list[tuple[StoredDecision, str, str | None]] = []
    journey_states: list[StoredDecision] = []
    for stored in store.due_deferred(now):
        if only is not None and stored.customer_id not in only:
            continue
        if stored.journey_status is not None:
            journey_states.append(stored)  # a journey whose wait or deferred step is due
            continue
        if stored.send_after is None:
            continue
        campaign = catalogue.get(stored.campaign_id)
        if campaign is None:  # removed from the catalogue since: nothing to send
            resolutions.append((stored, "skipped", "disabled"))
            continue
        customer = customer_view(stored.customer_id)
        if customer is None:  # merged into another profile (an erasure deletes its decisions)
            resolutions.append((stored, "skipped", "filtered"))
            continue
        trigger = resume_trigger(campaign, stored.trigger_id, stored.send_after)
        recent = [
            r
            for r in _recent(stored.customer_id)
            if not (r.campaign_id == stored.campaign_id and r.trigger_id == stored.trigger_id)
        ]
        decision = decide(catalogue, campaign, trigger, customer, recent, now, window)
        if decision.outcome == "deferred" and decision.send_after is not None:
            if store.defer_again(
                stored.customer_id, stored.decision_key, decision.send_after, stored.send_after
            ):
                counts["deferred_again"] += 1
            continue
        resolutions.append((stored, stored_outcome(decision), decision.reason))
        if decision.outcome == "sent":
            outgoing.append(triggered_event(campaign, decision, customer))
    if outgoing:
        publish(outgoing)
    for stored, outcome, reason in resolutions:
        if store.resolve_deferred(stored.customer_id, stored.decision_key, outcome, reason, now):
            counts[f"resumed_{'sent' if outcome == 'queued' else outcome}"] += 1
    for name, count in journeys.run_due(journey_states, catalogue, now).items():
        counts[name] += count
    return dict(counts)


def sweep_customers(
    now: datetime | None = None,
    only: Collection[str] | None = None,
    *,
    segment: int = 0,
    total_segments: int = 1,
    start_key: dict[str, Any] | None = None,
    budget: timedelta | None = None,
    catalogue: Catalogue | None = None,
    page_size: int | None = store.SWEEP_PAGE_SIZE,
) -> SweepProgress:
    """Inactivity and date triggers over one segment of a parallel scan of the Customers table.

    Each scanned profile is matched as it was read (no further read); only a customer some campaign
    matches is read again (consistently, with scores) and decided. With ``budget`` the worker stops
    between pages once it is spent and returns the key to go on from, so every worker stays within its
    time limit whatever the table size.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    catalogue = catalogue or live_catalogue()
    deadline = time.monotonic() + budget.total_seconds() if budget is not None else None
    counts: dict[str, int] = defaultdict(int)
    scanned = matched = 0
    capacity = 0.0
    page = store.sweep_page(segment, total_segments, start_key, page_size)
    while True:
        scanned += page.scanned
        capacity += page.capacity_units
        for view in page.customers:
            if only is not None and view.customer_id not in only:
                continue
            matches = sweep_matches(catalogue, view, now)
            if not matches:
                continue
            matched += 1
            for decision in _apply(matches, catalogue, now):
                counts[decision.outcome] += 1
        if page.next_key is None or (deadline is not None and time.monotonic() >= deadline):
            break
        page = store.sweep_page(segment, total_segments, page.next_key, page_size)
    return SweepProgress(
        segment=segment,
        total_segments=total_segments,
        scanned=scanned,
        matched=matched,
        counts=dict(counts),
        next_key=page.next_key,
        capacity_units=capacity,
    )


# The daily sweep's fan-out: segments of the parallel scan, each a message on the campaigns queue; a
# worker stops after SWEEP_BUDGET and hands the rest of its segment on (the queue's consumer timeout is 5
# minutes for a batch of 10 records, so one record must stay well under 30 s).
SWEEP_SEGMENTS = 16
SWEEP_BUDGET = timedelta(seconds=20)


def start_sweep(total_segments: int = SWEEP_SEGMENTS, sweep_id: str = "") -> int:
    """Daily: publish one ``CampaignSweepRequested`` per segment (they run in parallel on the queue)."""
    publish(
        [
            CampaignSweepRequested(segment=i, total_segments=total_segments, sweep_id=sweep_id)
            for i in range(total_segments)
        ]
    )
    return total_segments


def sweep_segment(
    request: CampaignSweepRequested,
    now: datetime | None = None,
    catalogue: Catalogue | None = None,
    budget: timedelta = SWEEP_BUDGET,
) -> SweepProgress:
    """One worker's share of a segment; if the budget ran out, the rest is published as a continuation
    (a retried record starts again from its own key: decisions already recorded are not made twice)."""
    progress = sweep_customers(
        now,
        segment=request.segment,
        total_segments=request.total_segments,
        start_key=request.start_key,
        budget=budget,
        catalogue=catalogue,
    )
    if progress.next_key is not None:
        publish([request.model_copy(update={"start_key": progress.next_key})])
    return progress


def sweep(now: datetime | None = None, only: Collection[str] | None = None) -> dict[str, int]:
    """Both sweeps in one call (tests, the local stack): inactivity/date triggers for every customer (or
    ``only`` these), then the deferred decisions now due."""
    now = now or datetime.now(UTC)
    catalogue = live_catalogue()
    counts: dict[str, int] = defaultdict(int)
    for outcome, count in sweep_customers(now, only, catalogue=catalogue).counts.items():
        counts[outcome] += count
    for outcome, count in sweep_due(now, only, catalogue=catalogue).items():
        counts[outcome] += count
    return dict(counts)


def report(campaign_id: str, as_of: datetime | None = None) -> CampaignReport:
    journey = load_catalogue().journey(campaign_id)
    if journey is not None:
        return journeys.report(journey, as_of)
    campaign = load_catalogue().get(campaign_id)
    if campaign is None:
        raise CampaignNotFoundError(campaign_id)
    records: list[DecisionRecord] = list(store.for_campaign(campaign_id))
    first_contact: dict[str, datetime] = {}
    for record in records:
        if record.outcome in ("sent", "held_out"):
            known = first_contact.get(record.customer_id)
            first_contact[record.customer_id] = min(known or record.decided_at, record.decided_at)
    purchases = conversions.since(first_contact, campaign_id, campaign.conversion)
    return build_report(campaign_id, records, purchases, campaign.attribution_window_days, as_of=as_of)
