"""Journeys: a person's way through a multi-step nurture, decided step by step (pure: no clock, no I/O).

A journey (:class:`~shared.campaigns.catalogue.Journey`) is entered like a campaign fires: an entry
trigger (a bus event) and the journey's audience. :func:`enter` draws the hold-out there, once, with
:func:`shared.campaigns.holdout.is_held_out` keyed on the journey id. A held-out person (``arm:
control``) is recorded as entered and goes through the same waits, branches and checks, but is sent
nothing (a send step that would have been sent is recorded ``held_out``), except steps marked
``also_held_out`` (an operational message such as the hand-over to sales, which is not what the journey
measures). So the control group is everyone who would have been nurtured, its conversions end its
journeys too, and lift is measured per journey (intention to treat: a person counts in their arm from
entry, whatever happens later).

The state of one person in one journey is a :class:`JourneyState`: the index of the step they are at, a
version bumped on every change (the data access writes a new state only if the version it read is still
there: one conditional write per step, so a retried or concurrent advance cannot act twice), the steps
they reached (``path``) and, while active, when to look again (``send_after``: the due sweep reads it from
the ``due`` index like a deferred campaign decision).

:func:`advance` takes a state and what is known now and returns the next :class:`Advance` (or None when
nothing is due). It walks steps until something must be written:

- the **goal** first: the goal event happened since entry -> ``converted`` (wherever the person is);
- **send**: judged by :func:`shared.campaigns.rules.decide` as a single campaign would be, at the moment
  of sending (audience of the step campaign, reachability, suppression, consent -- pending consent is
  waited for, then ``unconfirmed`` --, frequency cap, quiet hours, stale). ``sent``: the step's decision
  is recorded and the person moves on; ``deferred``: the state waits until ``send_after``; skipped for
  the frequency cap: the message is skipped and the journey goes on; skipped for any other reason
  (consent revoked, unsubscribed, suppressed, stale...): the journey ends (``exited`` with that reason),
  so a person who withdrew consent mid-journey gets nothing more;
- **wait**: arriving sets its deadline; it ends at the deadline or, for ``until``, as soon as the signal
  holds (an event wakes the journey early, see the service);
- **branch**: evaluated on arrival, jumps forward (``then``/``otherwise``: a step id, ``next``, ``exit``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from shared.campaigns.catalogue import (
    AudienceSignal,
    BranchStep,
    Campaign,
    Catalogue,
    EventSignal,
    InteractionTrigger,
    Journey,
    SegmentSignal,
    SendStep,
    StageSignal,
    WaitStep,
)
from shared.campaigns.customer import CustomerView, UtcDatetime
from shared.campaigns.funnel import FunnelStep, JourneyFunnel
from shared.campaigns.holdout import is_held_out
from shared.campaigns.rules import (
    DEFAULT_CONFIRMATION_WINDOW,
    Decision,
    DecisionRecord,
    Trigger,
    decide,
    matches_audience,
)

Status = Literal["active", "completed", "converted", "exited"]
Arm = Literal["treated", "control"]
EventKind = Literal["purchase", "email_click"]
# Skips after which the journey goes on without the message (the person may still hear from it later).
PASSING_SKIPS: Final = frozenset({"frequency_cap", "cooldown"})
# At most this many steps are walked in one advance (a journey only jumps forward, so this is a guard).
MAX_STEPS_PER_ADVANCE: Final = 64
STATE_TRIGGER: Final = "journey"


class JourneyState(BaseModel):
    """One person in one journey (what the state item stores)."""

    model_config = ConfigDict(frozen=True)

    journey_id: str
    customer_id: str
    entry_trigger_id: str
    entered_at: UtcDatetime
    status: Status
    arm: Arm = "treated"
    step: int = 0
    version: int = 0
    path: tuple[str, ...] = ()
    send_after: UtcDatetime | None = None
    reason: str | None = None

    @property
    def state_key(self) -> str:
        return state_key(self.journey_id)

    @property
    def finished(self) -> bool:
        return self.status not in ("active",)


def state_key(journey_id: str) -> str:
    """The state item's sort key among the person's decisions (``{campaign id}#{trigger id}`` shape)."""
    return f"{journey_id}#{STATE_TRIGGER}"


def step_trigger_id(step_id: str, entry_trigger_id: str) -> str:
    """A send step's decision is ``{journey id}#{step id}:{entry trigger id}``: once per entry and step."""
    return f"{step_id}:{entry_trigger_id}"


def step_of(trigger_id: str | None) -> str | None:
    """The step id of a step decision's trigger id (None for the state item)."""
    if not trigger_id or ":" not in trigger_id:
        return None
    return trigger_id.split(":", 1)[0]


class EntryOutcome(BaseModel):
    """What an entry trigger does: a new state to record, or why the person does not enter."""

    model_config = ConfigDict(frozen=True)

    state: JourneyState | None = None
    skipped: str | None = None


def enter(
    catalogue: Catalogue, journey: Journey, trigger: Trigger, customer: CustomerView, now: datetime
) -> EntryOutcome:
    """Whether ``customer`` enters ``journey`` on ``trigger`` at ``now``, and in which arm.

    Not entered: a disabled journey, a stale interaction (replayed history: older than the maximum trigger
    age), a profile outside the audience. Consent is not judged here: it is judged by each send step when
    it is due (a sign-up's consent is still pending at entry).
    """
    now = now.astimezone(UTC)
    if not journey.enabled:
        return EntryOutcome(skipped="disabled")
    days = journey.max_trigger_age_days or catalogue.max_trigger_age_days
    if now - trigger.occurred_at > timedelta(days=days):
        return EntryOutcome(skipped="stale")
    if not matches_audience(journey.audience, customer, now):
        return EntryOutcome(skipped="filtered")
    held_out = journey.holdout_percent > 0 and is_held_out(
        journey.id, customer.customer_id, journey.holdout_percent
    )
    state = JourneyState(
        journey_id=journey.id,
        customer_id=customer.customer_id,
        entry_trigger_id=trigger.trigger_id,
        entered_at=now,
        status="active",
        arm="control" if held_out else "treated",
        send_after=now,
    )
    return EntryOutcome(state=state)


def step_campaign(journey: Journey, step: SendStep) -> Campaign:
    """The single campaign a send step is judged as: the journey's audience, checked again at the send (a
    prospect who became a customer by other means is no longer nurtured); no hold-out (drawn at entry);
    no cooldown (the decision key makes each step once per entry)."""
    channel = step.channel or journey.channel
    consent = step.consent_required if step.channel else journey.consent_required
    return Campaign(
        id=journey.id,
        name=f"{journey.name}: {step.id}",
        trigger=InteractionTrigger(type="interaction", kind="journey-step"),
        audience=journey.audience,  # judged again at each send, like a campaign's at its send time
        channel=channel,
        template=step.template,
        consent_required=consent,
        holdout_percent=0.0,
        attribution_window_days=journey.attribution_window_days,
        recommend_products=step.recommend_products,
        conversion=journey.goal.event,
        quiet_hours=step.quiet_hours,
        max_trigger_age_days=journey.max_trigger_age_days,
    )


def signal_holds(
    signal: EventSignal | SegmentSignal | StageSignal | AudienceSignal,
    customer: CustomerView,
    events: Collection[str],
    now: datetime,
) -> bool:
    """``events``: the kinds of goal events (purchase, email_click) that happened since entry."""
    if isinstance(signal, EventSignal):
        return signal.event in events
    if isinstance(signal, SegmentSignal):
        return customer.segment in signal.segments
    if isinstance(signal, StageSignal):
        return customer.stage in signal.stages
    return matches_audience(signal.conditions, customer, now)


def events_used(journey: Journey) -> set[EventKind]:
    """The event kinds the journey looks at (its goal, event branches and waits)."""
    kinds: set[EventKind] = {journey.goal.event}
    for step in journey.steps:
        signal = step.if_ if isinstance(step, BranchStep) else getattr(step, "until", None)
        if isinstance(signal, EventSignal):
            kinds.add(signal.event)
    return kinds


class Advance(BaseModel):
    """One conditional write: the new state, and the send step's decision to record with it (if any)."""

    model_config = ConfigDict(frozen=True)

    state: JourneyState
    decision: Decision | None = None
    campaign: Campaign | None = None

    @property
    def sends(self) -> bool:
        return self.decision is not None and self.decision.outcome == "sent"


def advance(
    catalogue: Catalogue,
    journey: Journey,
    state: JourneyState,
    customer: CustomerView,
    recent: Sequence[DecisionRecord],
    events: Collection[str],
    now: datetime,
    confirmation_window: timedelta = DEFAULT_CONFIRMATION_WINDOW,
) -> Advance | None:
    """The next write for ``state`` at ``now`` (see the module docstring); None: nothing to do yet."""
    now = now.astimezone(UTC)
    if state.status != "active":
        return None
    version = state.version + 1

    def finish(status: Status, path: tuple[str, ...], reason: str | None = None, **extra: object) -> Advance:
        new = state.model_copy(
            update={"status": status, "version": version, "path": path, "send_after": None, "reason": reason}
        )
        return Advance(state=new, **extra)

    if journey.goal.event in events:
        return finish("converted", state.path, journey.goal.event)
    if not journey.enabled:
        return finish("exited", state.path, "disabled")

    index, path = state.step, state.path
    # When the current step became due: a send judged long after it (an outage) is stale, like a campaign's.
    since = min(state.send_after or now, now)
    for _ in range(MAX_STEPS_PER_ADVANCE):
        if index >= len(journey.steps):
            return finish("completed", path)
        step = journey.steps[index]
        arrived = not path or path[-1] != step.id
        if arrived:
            path = (*path, step.id)
        if isinstance(step, BranchStep):
            target = step.then if signal_holds(step.if_, customer, events, now) else step.otherwise
            if target == "exit":
                return finish("exited", path, f"branch:{step.id}")
            index = index + 1 if target == "next" else journey.step_index(target)
            continue
        if isinstance(step, WaitStep):
            if step.until is not None and signal_holds(step.until, customer, events, now):
                index, since = index + 1, now
                continue
            if arrived:
                deadline = now + step.duration
                new = state.model_copy(
                    update={"step": index, "version": version, "path": path, "send_after": deadline}
                )
                return Advance(state=new)
            if state.send_after is not None and now >= state.send_after:
                index, since = index + 1, state.send_after
                continue
            return None  # still waiting (woken by an event whose signal does not hold)
        # A send step: judged as a single campaign at the moment of sending.
        if not arrived and state.send_after is not None and now < state.send_after:
            return None  # deferred (quiet hours, pending consent) and not due yet
        campaign = step_campaign(journey, step)
        trigger = Trigger(trigger_id=step_trigger_id(step.id, state.entry_trigger_id), occurred_at=since)
        decision = decide(catalogue, campaign, trigger, customer, recent, now, confirmation_window)
        if decision.outcome == "sent" and state.arm == "control" and not step.also_held_out:
            # The hold-out is judged exactly like the treated group (audience, consent, cap, timing...)
            # and only the message itself is withheld: the two arms stay comparable.
            decision = decision.model_copy(update={"outcome": "held_out"})
        if decision.outcome == "deferred":
            new = state.model_copy(
                update={"step": index, "version": version, "path": path, "send_after": decision.send_after}
            )
            return Advance(state=new)
        if decision.outcome == "skipped" and decision.reason not in PASSING_SKIPS:
            return finish("exited", path, decision.reason, decision=decision, campaign=campaign)
        moved = state.model_copy(
            update={"step": index + 1, "version": version, "path": path, "send_after": now}
        )
        if index + 1 >= len(journey.steps):
            moved = moved.model_copy(update={"status": "completed", "send_after": None})
        return Advance(state=moved, decision=decision, campaign=campaign)
    raise RuntimeError(f"journey {journey.id} walked more than {MAX_STEPS_PER_ADVANCE} steps at once")


# --- the funnel -------------------------------------------------------------------------------------


def build_funnel(
    journey: Journey, states: Iterable[JourneyState], step_decisions: Iterable[DecisionRecord]
) -> JourneyFunnel:
    states = list(states)
    treated = [s for s in states if s.arm == "treated"]
    control = Counter(s.status for s in states if s.arm == "control")
    status = Counter(s.status for s in treated)
    reached = Counter(step for s in treated for step in set(s.path))
    at = Counter(
        journey.steps[s.step].id for s in treated if s.status == "active" and s.step < len(journey.steps)
    )
    outcomes: dict[str, Counter[str]] = {step.id: Counter() for step in journey.steps}
    skipped: dict[str, Counter[str]] = {step.id: Counter() for step in journey.steps}
    held: Counter[str | None] = Counter()
    for record in step_decisions:
        step_id = step_of(record.trigger_id)
        if record.outcome == "held_out":
            held[step_id] += 1
            continue
        if step_id not in outcomes:
            continue
        outcomes[step_id][record.outcome] += 1
        if record.outcome == "skipped":
            skipped[step_id][record.reason or "unknown"] += 1
    steps = [
        FunnelStep(
            id=step.id,
            type=step.type,
            template=step.template if isinstance(step, SendStep) else None,
            reached=reached[step.id],
            at=at[step.id],
            sent=outcomes[step.id]["sent"],
            queued=outcomes[step.id]["queued"],
            failed=outcomes[step.id]["failed"],
            skipped=dict(sorted(skipped[step.id].items())),
            held_out=held[step.id],
        )
        for step in journey.steps
    ]
    return JourneyFunnel(
        journey_id=journey.id,
        goal=journey.goal.event,
        entered=len(states),
        treated=len(treated),
        held_out=len(states) - len(treated),
        held_out_converted=control["converted"],
        active=status["active"],
        completed=status["completed"],
        converted=status["converted"],
        exited=dict(sorted(Counter(s.reason or "unknown" for s in treated if s.status == "exited").items())),
        steps=steps,
    )


def as_group_records(states: Iterable[JourneyState]) -> list[DecisionRecord]:
    """Entries as the campaign report's groups: treated -> ``sent``, held out -> ``held_out``, dated at
    entry, so :func:`shared.campaigns.report.build_report` measures the lift of the whole journey."""
    return [
        DecisionRecord(
            campaign_id=s.journey_id,
            customer_id=s.customer_id,
            outcome="held_out" if s.arm == "control" else "sent",
            decided_at=s.entered_at,
            trigger_id=s.entry_trigger_id,
        )
        for s in states
    ]
