"""Journey service: entries on bus events, steps advanced when due (the campaigns' due sweep) or woken by
an event (a purchase, a segment or stage change), and the journey's report with its funnel.

Each advance reads the state (consistently), decides the next write with
:func:`shared.campaigns.journeys.advance` and writes it conditionally on the version it read. A send is
published *before* its write, as the due sweep does for deferred campaign decisions: if the write then
loses a race, the message was published with the same key as the winner's, and the email channel sends
each key once; if the publish fails, nothing was written and the step is still due. So overlapping
sweeps, a redelivered event or a retried batch never send a step twice, and never skip it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from shared.campaigns.catalogue import (
    AudienceSignal,
    BranchStep,
    Campaign,
    Catalogue,
    Journey,
    SegmentSignal,
    StageSignal,
)
from shared.campaigns.customer import CustomerView, to_utc
from shared.campaigns.journeys import (
    JourneyState,
    advance,
    as_group_records,
    build_funnel,
    enter,
    events_used,
)
from shared.campaigns.matching import match_event
from shared.campaigns.report import CampaignReport, build_report
from shared.campaigns.rules import StoredDecision
from shared.dal import campaigns as store
from shared.dal import customers, decisions
from shared.dal import journeys as journey_store
from shared.dal.bus import publish
from shared.events import BusEvent, InteractionTracked, LeadQualified, SegmentChanged
from shared.services import conversions
from shared.services.campaign_sends import (
    EventReads,
    confirmation_window,
    stored_outcome,
    triggered_event,
)

# A guard on the steps taken for one person in one call (a journey only moves forward).
MAX_WRITES_PER_RUN = 16
# People whose due journey steps one sweep runs at once (see run_due).
SWEEP_CONCURRENCY = 8


def _entry_campaigns(journey: Journey) -> list[Campaign]:
    """Each entry trigger as a campaign, so entries are matched by the campaigns' own matcher."""
    return [
        Campaign(
            id=journey.id,
            name=journey.name,
            enabled=journey.enabled,
            trigger=trigger,
            channel="webhook",  # only the trigger is used: the entry itself contacts nobody
            template="journey-entry",
            consent_required=None,
        )
        for trigger in journey.entry
    ]


def _events_since(journey: Journey, state: JourneyState, now: datetime) -> set[str]:
    """The goal/branch event kinds (purchase, a click in a journey email) since the person entered."""
    found = store.conversions_by_kind(state.customer_id, journey.id, events_used(journey))
    since = state.entered_at
    return {kind for kind, seen in found.items() if any(since <= p.occurred_at <= now for p in seen)}


def run(
    catalogue: Catalogue,
    journey: Journey,
    state: JourneyState,
    now: datetime,
    reads: EventReads | None = None,
) -> Counter[str]:
    """Advance one person's journey as far as it goes at ``now`` (each step one conditional write).
    ``reads``: the profiles the caller has read already (an entry reads the person before running)."""
    counts: Counter[str] = Counter()
    window = confirmation_window()
    reads = reads or EventReads()
    # The first step uses the profile the caller read; each later one reads it again (an erasure or a
    # merge meanwhile stops the run). The person's interactions are read once: this run's writes do not
    # change them. The decisions are read before every step (caps and cooldowns count the step just made).
    events: set[str] | None = None
    for taken in range(MAX_WRITES_PER_RUN):
        customer = reads.view(state.customer_id) if taken == 0 else store.customer_view(state.customer_id)
        if customer is None:
            break  # erased (its state went with its decisions) or merged into another profile
        recent = store.recent_decisions(state.customer_id)
        if events is None:
            events = _events_since(journey, state, now)
        step = advance(catalogue, journey, state, customer, recent, events, now, window)
        if step is None:
            break
        decision = step.decision
        if step.sends and decision is not None and step.campaign is not None:
            publish([triggered_event(step.campaign, decision, customer)])
        outcome = stored_outcome(decision) if decision is not None else None
        if not journey_store.try_write(state.version, step.state, decision, outcome, catalogue.version):
            counts["journey_raced"] += 1  # another advance wrote this step first
            break
        counts.update(_counted(step.state, decision.outcome if decision else None))
        state = step.state
        if state.status != "active" or state.send_after is None or state.send_after > now:
            break
    return counts


def _counted(after: JourneyState, outcome: str | None) -> Iterable[str]:
    """``journey_sent`` / ``journey_skipped_<reason>`` for a send step's decision, ``journey_waiting`` for a
    new time to look again (a wait, or a send deferred by quiet hours or a pending consent), and the end."""
    if outcome == "sent":
        yield "journey_sent"
    elif outcome == "held_out":
        yield "journey_held_out_step"  # a message the hold-out is not sent
    elif outcome is not None and after.status == "active":
        yield f"journey_skipped_{outcome}"
    if after.status != "active":
        yield f"journey_{after.status}"
    elif outcome is None:
        yield "journey_waiting"


def _signals(journey: Journey) -> list[object]:
    found: list[object] = [journey.goal]
    for step in journey.steps:
        found.append(step.if_ if isinstance(step, BranchStep) else getattr(step, "until", None))
    return found


def _wakes(journey: Journey, event: BusEvent) -> bool:
    """Whether the event may change what a person's journey does now (its goal, a branch or a wait)."""
    if isinstance(event, InteractionTracked):
        return event.kind == "purchase" and "purchase" in events_used(journey)
    wanted = SegmentSignal if isinstance(event, SegmentChanged) else StageSignal
    return any(isinstance(s, wanted | AudienceSignal) for s in _signals(journey))


def _before_entry(event: BusEvent, state: JourneyState) -> bool:
    """An interaction that happened before the person entered (a replayed order, say): goals and branches
    count only what happens after entry, so it cannot move the journey on."""
    if not isinstance(event, InteractionTracked):
        return False
    occurred = to_utc(event.occurred_at)
    return isinstance(occurred, datetime) and occurred < state.entered_at


def handle_event(
    event: BusEvent, catalogue: Catalogue, now: datetime, reads: EventReads | None = None
) -> Counter[str]:
    """Entries (an entry trigger of an enabled journey), and wake-ups of people already in a journey.
    ``reads``: the profiles the event's single campaigns have read already."""
    now = now.astimezone(UTC)
    reads = reads or EventReads()
    counts: Counter[str] = Counter()
    customer_id = getattr(event, "customer_id", None)
    if not catalogue.journeys or not isinstance(event, InteractionTracked | SegmentChanged | LeadQualified):
        return counts
    assert customer_id is not None
    for journey in catalogue.journeys:
        entries = match_event(
            catalogue.model_copy(update={"campaigns": _entry_campaigns(journey)}), event, now
        )
        entered = False
        customer: CustomerView | None = None
        if entries:
            customer = reads.view(customer_id)
            if customer is None:
                continue  # erased or merged: nobody to nurture
            outcome = enter(catalogue, journey, entries[0].trigger, customer, now)
            if outcome.state is None:
                counts[f"journey_not_entered_{outcome.skipped}"] += 1
            elif journey_store.enter(outcome.state, catalogue.version):
                if customer_id not in customers.live_ids([customer_id]):
                    # Erased while entering: the erasure may have deleted the decisions before this one.
                    decisions.discard(customer_id, outcome.state.state_key)
                    continue
                entered = True
                counts["journey_held_out" if outcome.state.arm == "control" else "journey_entered"] += 1
                if outcome.state.status == "active":
                    counts.update(run(catalogue, journey, outcome.state, now, reads))
        if not entered and (entries or _wakes(journey, event)):
            state = journey_store.get(customer_id, journey.id)
            if state is not None and state.status == "active" and not _before_entry(event, state):
                counts.update(run(catalogue, journey, state, now, reads))
    return counts


def run_due(due: Iterable[StoredDecision], catalogue: Catalogue, now: datetime) -> Counter[str]:
    """The journey state items the due sweep found (``send_after`` reached).

    Up to :data:`SWEEP_CONCURRENCY` people at once: each step waits on DynamoDB far longer than it
    computes, and a wait step ending for a whole cohort makes thousands due in one sweep. One person's
    items run one after another, so their caps and cooldowns see their previous step.
    """
    by_person: dict[str, list[StoredDecision]] = {}
    for stored in due:
        by_person.setdefault(stored.customer_id, []).append(stored)
    counts: Counter[str] = Counter()
    if len(by_person) <= 1:
        for items in by_person.values():
            counts.update(_run_due_of_one(items, catalogue, now))
        return counts
    with ThreadPoolExecutor(min(SWEEP_CONCURRENCY, len(by_person)), thread_name_prefix="sweep") as pool:
        for made in pool.map(lambda items: _run_due_of_one(items, catalogue, now), by_person.values()):
            counts.update(made)
    return counts


def _run_due_of_one(due: list[StoredDecision], catalogue: Catalogue, now: datetime) -> Counter[str]:
    counts: Counter[str] = Counter()
    for stored in due:
        journey = catalogue.journey(stored.campaign_id)
        state = journey_store.get(stored.customer_id, stored.campaign_id)
        if state is None or state.status != "active":
            continue
        if journey is None:  # removed from the catalogue since: the person leaves it
            gone = state.model_copy(
                update={
                    "status": "exited",
                    "version": state.version + 1,
                    "send_after": None,
                    "reason": "removed",
                }
            )
            if journey_store.try_write(state.version, gone, None, None, catalogue.version):
                counts["journey_exited"] += 1
            continue
        counts.update(run(catalogue, journey, state, now))
    return counts


def report(journey: Journey, as_of: datetime | None = None) -> CampaignReport:
    """The journey's lift (treated vs held out, from entry: every entered person counts in their arm) and
    its funnel (entered, at each step, converted, exited, completed)."""
    states, step_decisions = journey_store.for_journey(journey.id)
    entered: dict[str, datetime] = {}
    for state in states:
        entered[state.customer_id] = min(entered.get(state.customer_id, state.entered_at), state.entered_at)
    purchases = conversions.since(entered, journey.id, journey.goal.event)
    lift = build_report(
        journey.id, as_group_records(states), purchases, journey.attribution_window_days, as_of=as_of
    )
    outcomes = Counter(d.outcome for d in step_decisions)
    skipped = Counter(d.reason or "unknown" for d in step_decisions if d.outcome == "skipped")
    failed = Counter(d.reason or "unknown" for d in step_decisions if d.outcome == "failed")
    return lift.model_copy(
        update={
            "kind": "journey",
            "decisions": len(step_decisions),
            "sent": outcomes["sent"],
            "queued": outcomes["queued"],
            "failed": dict(sorted(failed.items())),
            "skipped": dict(sorted(skipped.items())),
            "deferred": sum(1 for s in states if s.status == "active"),
            "funnel": build_funnel(journey, states, step_decisions),
        }
    )
