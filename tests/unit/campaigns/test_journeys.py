"""Journeys as data and the pure step logic (issue 18 item 4): validation at load, entry and hold-out,
waits, branches, the goal, sends judged like single campaigns, and the funnel."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from shared.campaigns.catalogue import Catalogue, CatalogueError, Journey, parse_catalogue
from shared.campaigns.journeys import (
    JourneyState,
    advance,
    build_funnel,
    enter,
    step_trigger_id,
)
from shared.campaigns.rules import Trigger

from ._support import NOON, customer_id_in, record
from .conftest import CustomerFactory

JOURNEY: dict[str, Any] = {
    "id": "nurture",
    "name": "Nurture",
    "entry": [{"type": "interaction", "kind": "signup"}],
    "audience": [{"field": "purchase_count", "op": "eq", "value": 0}],
    "holdout_percent": 10,
    "goal": {"type": "event", "event": "purchase"},
    "steps": [
        {"id": "wait", "type": "wait", "days": 3},
        {"id": "guide", "type": "send", "template": "nurture-signup"},
        {"id": "clicked", "type": "branch", "if": {"type": "event", "event": "email_click"}, "then": "exit"},
        {"id": "case-study", "type": "send", "template": "nurture-lead"},
        {
            "id": "hand-over",
            "type": "send",
            "channel": "webhook",
            "template": "crm-lead",
            "consent_required": None,
            "also_held_out": True,
        },
    ],
}


def _catalogue(journey: dict[str, Any] | None = None) -> Catalogue:
    return parse_catalogue({"version": "t-1", "journeys": [journey or JOURNEY]})


def _problems(journey: dict[str, Any]) -> str:
    with pytest.raises(CatalogueError) as info:
        _catalogue(journey)
    return str(info.value)


def _changed(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(JOURNEY)
    data.update(changes)
    return data


def _steps(*steps: dict[str, Any]) -> dict[str, Any]:
    return _changed(steps=list(steps))


def test_the_packaged_prospect_journey_is_valid(catalogue: Catalogue) -> None:
    journey = catalogue.journey("prospect-journey")
    assert journey is not None
    assert [s.type for s in journey.steps].count("send") == 3
    assert journey.goal.event == "purchase"
    assert journey.holdout_percent == 10


@pytest.mark.parametrize(
    ("journey", "message"),
    [
        (
            _steps({"id": "a", "type": "branch", "if": {"type": "event", "event": "purchase"}, "then": "zz"}),
            "unknown step 'zz'",
        ),
        (
            _steps(
                {"id": "a", "type": "wait", "days": 1},
                {"id": "b", "type": "branch", "if": {"type": "stage", "stages": ["lead"]}, "then": "a"},
            ),
            "may only go forward",
        ),
        (_steps({"id": "a", "type": "wait"}), "set days and/or hours"),
        (
            _steps({"id": "a", "type": "wait", "days": 1, "until": {"type": "stage", "stages": ["x"]}}),
            "timeout_days",
        ),
        (
            _steps({"id": "a", "type": "send", "template": "t", "channel": "email"}),
            "must set consent_required",
        ),
        (
            _steps({"id": "a", "type": "wait", "days": 1}, {"id": "a", "type": "wait", "days": 2}),
            "duplicate step",
        ),
        (_changed(entry=[{"type": "interaction", "kind": "signup", "delay_days": 3}]), "no delay_days"),
        (_steps({"id": "a", "type": "fly"}), "expected tags: 'send', 'wait', 'branch'"),
        (
            _steps({"id": "a", "type": "branch", "if": {"type": "segment", "segments": ["Nope"]}}),
            "unknown segment",
        ),
    ],
)
def test_invalid_journeys_are_refused_at_load(journey: dict[str, Any], message: str) -> None:
    problems = _problems(journey)
    assert "journeys[nurture]" in problems
    assert message in problems


def test_a_journey_id_may_not_be_a_campaign_id_too() -> None:
    data = {
        "version": "t",
        "campaigns": [
            {
                "id": "nurture",
                "name": "n",
                "trigger": {"type": "interaction", "kind": "x"},
                "channel": "webhook",
                "template": "t",
                "consent_required": None,
            }
        ],
        "journeys": [JOURNEY],
    }
    with pytest.raises(CatalogueError, match="both a campaign and a journey"):
        parse_catalogue(data)


def _prospect(make_customer: CustomerFactory, held_out: bool = False, **fields: Any) -> Any:
    fields.setdefault("customer_id", customer_id_in("nurture", 10, held_out=held_out))
    return make_customer(purchase_days=[], is_customer=False, stage="lead", **fields)


def _entered(catalogue: Catalogue, customer: Any) -> tuple[Journey, JourneyState]:
    journey = catalogue.journeys[0]
    outcome = enter(catalogue, journey, Trigger(trigger_id="event:s-1", occurred_at=NOON), customer, NOON)
    assert outcome.state is not None
    return journey, outcome.state


def test_entry_draws_the_hold_out_and_skips_stale_and_filtered(make_customer: CustomerFactory) -> None:
    catalogue = _catalogue()
    journey = catalogue.journeys[0]
    trigger = Trigger(trigger_id="event:s-1", occurred_at=NOON)
    treated = enter(catalogue, journey, trigger, _prospect(make_customer), NOON).state
    control = enter(catalogue, journey, trigger, _prospect(make_customer, held_out=True), NOON).state
    assert treated is not None
    assert control is not None
    assert (treated.arm, control.arm) == ("treated", "control")
    assert (treated.status, treated.send_after) == ("active", NOON)
    old = Trigger(trigger_id="event:s-0", occurred_at=NOON - timedelta(days=400))
    assert enter(catalogue, journey, old, _prospect(make_customer), NOON).skipped == "stale"
    assert enter(catalogue, journey, trigger, make_customer(), NOON).skipped == "filtered"  # a buyer


def test_a_journey_waits_sends_and_branches(make_customer: CustomerFactory) -> None:
    catalogue = _catalogue()
    person = _prospect(make_customer)
    journey, state = _entered(catalogue, person)
    first = advance(catalogue, journey, state, person, [], set(), NOON)
    assert first is not None
    assert first.decision is None
    assert (first.state.path, first.state.send_after, first.state.version) == (
        ("wait",),
        NOON + timedelta(days=3),
        1,
    )
    # Not due: nothing to write (an event woke it, say).
    assert advance(catalogue, journey, first.state, person, [], set(), NOON + timedelta(days=1)) is None
    due = NOON + timedelta(days=3, minutes=5)
    guide = advance(catalogue, journey, first.state, person, [], set(), due)
    assert guide is not None
    assert guide.decision is not None
    assert (guide.decision.outcome, guide.decision.trigger_id) == (
        "sent",
        step_trigger_id("guide", "event:s-1"),
    )
    assert guide.decision.decision_key == "nurture#guide:event:s-1"
    assert guide.state.step == 2
    # A click on the guide: the branch exits the journey.
    out = advance(catalogue, journey, guide.state, person, [], {"email_click"}, due)
    assert out is not None
    assert (out.state.status, out.state.reason, out.state.path[-1]) == ("exited", "branch:clicked", "clicked")
    # No click: the case study, then the hand-over (a webhook: no consent needed), then completed.
    case = advance(catalogue, journey, guide.state, person, [], set(), due)
    assert case is not None
    assert case.decision is not None
    assert case.decision.outcome == "sent"
    handover = advance(catalogue, journey, case.state, person, [], set(), due)
    assert handover is not None
    assert handover.decision is not None
    assert (handover.decision.channel, handover.state.status) == ("webhook", "completed")


def test_the_goal_ends_the_journey_wherever_the_person_is(make_customer: CustomerFactory) -> None:
    catalogue = _catalogue()
    person = _prospect(make_customer)
    journey, state = _entered(catalogue, person)
    waiting = advance(catalogue, journey, state, person, [], set(), NOON)
    assert waiting is not None
    converted = advance(
        catalogue, journey, waiting.state, person, [], {"purchase"}, NOON + timedelta(hours=1)
    )
    assert converted is not None
    assert (converted.state.status, converted.state.reason, converted.state.send_after) == (
        "converted",
        "purchase",
        None,
    )
    assert advance(catalogue, journey, converted.state, person, [], set(), NOON + timedelta(days=9)) is None


def test_every_send_keeps_the_single_campaign_guarantees(make_customer: CustomerFactory) -> None:
    catalogue = _catalogue()
    due = NOON + timedelta(days=3, minutes=5)
    pending = {"email": {"status": "pending", "at": (due - timedelta(hours=1)).isoformat()}}
    for consent, outcome, status in [
        ({"email": {"status": "revoked"}}, "skipped", "exited"),  # withdrawn mid-journey: nothing more
        (pending, None, "active"),  # waited for like a pending campaign send
    ]:
        person = _prospect(make_customer, consent=consent)
        journey, state = _entered(catalogue, person)
        waiting = advance(catalogue, journey, state, person, [], set(), NOON)
        assert waiting is not None
        step = advance(catalogue, journey, waiting.state, person, [], set(), due)
        assert step is not None
        assert step.state.status == status
        assert (step.decision.outcome if step.decision else None) == outcome
    # The frequency cap skips the message and the journey goes on.
    person = _prospect(make_customer)
    journey, state = _entered(catalogue, person)
    waiting = advance(catalogue, journey, state, person, [], set(), NOON)
    assert waiting is not None
    recent = [record(c, 1, now=due) for c in ("welcome", "win-back", "cross-sell")]
    capped = advance(catalogue, journey, waiting.state, person, recent, set(), due)
    assert capped is not None
    assert capped.decision is not None
    assert (capped.decision.reason, capped.state.status, capped.state.step) == ("frequency_cap", "active", 2)
    # Quiet hours: 23:30 in Paris defers to 08:00.
    night = NOON.replace(hour=22, minute=30) + timedelta(days=3)
    deferred = advance(catalogue, journey, waiting.state, person, [], set(), night)
    assert deferred is not None
    assert deferred.decision is None
    assert deferred.state.send_after is not None
    assert deferred.state.send_after.hour == 7


def test_the_hold_out_goes_through_without_messages_except_operational_steps(
    make_customer: CustomerFactory,
) -> None:
    catalogue = _catalogue()
    person = _prospect(make_customer, held_out=True)
    journey, state = _entered(catalogue, person)
    due = NOON + timedelta(days=3, minutes=5)
    outcomes = []
    current = advance(catalogue, journey, state, person, [], set(), NOON)
    while current is not None and current.state.status == "active":
        current = advance(catalogue, journey, current.state, person, [], set(), due)
        assert current is not None
        outcomes.append(current.decision.outcome if current.decision else None)
    assert outcomes == ["held_out", "held_out", "sent"]  # guide, case study held out; the hand-over sent


def test_the_funnel_counts_people_and_messages(make_customer: CustomerFactory) -> None:
    catalogue = _catalogue()
    journey = catalogue.journeys[0]
    base = {"journey_id": "nurture", "entry_trigger_id": "e", "entered_at": NOON}
    states = [
        JourneyState(customer_id="a", status="active", step=0, path=("wait",), **base),
        JourneyState(customer_id="b", status="converted", step=2, path=("wait", "guide"), **base),
        JourneyState(
            customer_id="c", status="exited", step=1, path=("wait", "guide"), reason="no_consent", **base
        ),
        JourneyState(customer_id="d", status="converted", arm="control", path=("wait", "guide"), **base),
    ]
    decisions = [
        record("nurture", 0, "sent", customer_id="b").model_copy(update={"trigger_id": "guide:e"}),
        record("nurture", 0, "skipped", customer_id="c").model_copy(
            update={"trigger_id": "guide:e", "reason": "no_consent"}
        ),
        record("nurture", 0, "held_out", customer_id="d").model_copy(update={"trigger_id": "guide:e"}),
    ]
    funnel = build_funnel(journey, states, decisions)
    assert (funnel.entered, funnel.treated, funnel.held_out) == (4, 3, 1)
    assert (funnel.active, funnel.converted, funnel.held_out_converted) == (1, 1, 1)
    assert funnel.exited == {"no_consent": 1}
    steps = {s.id: s for s in funnel.steps}
    assert (steps["wait"].reached, steps["wait"].at, steps["guide"].reached) == (3, 1, 2)
    assert (steps["guide"].sent, steps["guide"].skipped, steps["guide"].held_out) == (1, {"no_consent": 1}, 1)


def test_the_audience_is_judged_again_at_each_send(make_customer: CustomerFactory) -> None:
    """A prospect whose history shows a purchase by the time of the send (an import of old orders, not a
    conversion since entry) is no longer in the audience: the journey ends, nothing is sent."""
    catalogue = _catalogue()
    person = _prospect(make_customer)
    journey, state = _entered(catalogue, person)
    waiting = advance(catalogue, journey, state, person, [], set(), NOON)
    assert waiting is not None
    bought_long_ago = make_customer(customer_id=person.customer_id, purchase_days=["1997-03-25"])
    step = advance(
        catalogue, journey, waiting.state, bought_long_ago, [], set(), NOON + timedelta(days=3, hours=1)
    )
    assert step is not None
    assert step.decision is not None
    assert (step.decision.outcome, step.decision.reason) == ("skipped", "filtered")
    assert (step.state.status, step.state.reason) == ("exited", "filtered")


def test_the_hold_out_is_judged_like_the_treated_group(make_customer: CustomerFactory) -> None:
    """Only the message is withheld: a held-out person without consent leaves the journey like a treated
    one would (else the control group would keep people the treated group loses, and bias the lift)."""
    catalogue = _catalogue()
    person = _prospect(make_customer, held_out=True, consent={"email": {"status": "revoked"}})
    journey, state = _entered(catalogue, person)
    waiting = advance(catalogue, journey, state, person, [], set(), NOON)
    assert waiting is not None
    step = advance(catalogue, journey, waiting.state, person, [], set(), NOON + timedelta(days=3, hours=1))
    assert step is not None
    assert step.decision is not None
    assert (step.decision.outcome, step.state.status, step.state.reason) == (
        "skipped",
        "exited",
        "no_consent",
    )
