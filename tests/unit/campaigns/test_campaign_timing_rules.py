"""Issue 18: triggers judged when due, pending consent waited for, stale triggers never mailed."""

from __future__ import annotations

from datetime import timedelta

from shared.campaigns.catalogue import Campaign, Catalogue, InteractionTrigger
from shared.campaigns.rules import (
    DEFAULT_CONFIRMATION_WINDOW,
    PENDING_CONSENT_RECHECK,
    Trigger,
    decide,
    decide_without_person,
    resume_trigger,
)

from ._support import NOON, customer_id_in, paris, retired_campaign
from .conftest import CustomerFactory


def _campaign(catalogue: Catalogue, campaign_id: str, **changes: object) -> Campaign:
    # The campaigns the prospect journey replaced are test fixtures now (see _support.RETIRED_CAMPAIGNS).
    campaign = catalogue.get(campaign_id) or retired_campaign(campaign_id)
    return campaign.model_copy(update=changes)


def _sign_up(campaign: Campaign, make_customer: CustomerFactory, **fields: object) -> dict[str, object]:
    fields.setdefault("customer_id", customer_id_in(campaign.id, campaign.holdout_percent, held_out=False))
    fields.setdefault("purchase_days", [])
    fields.setdefault("is_customer", False)
    return fields


def test_a_delayed_trigger_with_pending_consent_is_deferred_not_skipped(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    campaign = _campaign(catalogue, "signup-nurture")
    pending = {"email": {"status": "pending", "at": NOON.isoformat()}}
    person = make_customer(**_sign_up(campaign, make_customer, consent=pending))
    trigger = Trigger(trigger_id="event:signup-1", occurred_at=NOON)
    first = decide(catalogue, campaign, trigger, person, [], NOON)
    assert first.outcome == "deferred"
    assert first.send_after is not None
    assert first.send_after - NOON == timedelta(days=3)  # 3 days later, 14:00 in Paris: not quiet


def test_consent_confirmed_during_the_delay_is_sent_at_the_due_time(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    campaign = _campaign(catalogue, "signup-nurture")
    trigger = Trigger(trigger_id="event:signup-1", occurred_at=NOON)
    granted = {"email": {"status": "granted", "at": (NOON + timedelta(days=1)).isoformat()}}
    person = make_customer(**_sign_up(campaign, make_customer, consent=granted))
    due = NOON + timedelta(days=3)
    resumed = resume_trigger(campaign, trigger.trigger_id, due)
    decision = decide(catalogue, campaign, resumed, person, [], due)
    assert decision.outcome == "sent"


def test_pending_consent_is_waited_for_until_the_window_ends_then_skipped(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    # Welcome: no delay; the person signed up (pending) and has not confirmed yet.
    campaign = _campaign(
        catalogue, "signup-nurture", trigger=InteractionTrigger(type="interaction", kind="signup")
    )
    requested = NOON
    pending = {"email": {"status": "pending", "at": requested.isoformat()}}
    person = make_customer(**_sign_up(campaign, make_customer, consent=pending))
    trigger = Trigger(trigger_id="event:signup-2", occurred_at=requested)
    waiting = decide(catalogue, campaign, trigger, person, [], requested)
    assert (waiting.outcome, waiting.detail) == ("deferred", "consent pending")
    assert waiting.send_after == requested + PENDING_CONSENT_RECHECK
    # Just before the window ends it still waits, and never past the window's end.
    almost = requested + DEFAULT_CONFIRMATION_WINDOW - timedelta(minutes=10)
    later = decide(
        catalogue, campaign, resume_trigger(campaign, trigger.trigger_id, almost), person, [], almost
    )
    assert later.outcome == "deferred"
    assert later.send_after is not None
    assert later.send_after <= requested + DEFAULT_CONFIRMATION_WINDOW + timedelta(hours=12)  # quiet hours
    # Once the window has ended: skipped with its own reason.
    ended = requested + DEFAULT_CONFIRMATION_WINDOW
    final = decide(
        catalogue, campaign, resume_trigger(campaign, trigger.trigger_id, ended), person, [], ended
    )
    assert (final.outcome, final.reason) == ("skipped", "unconfirmed")


def test_a_shorter_confirmation_window_is_honoured(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    campaign = _campaign(
        catalogue, "signup-nurture", trigger=InteractionTrigger(type="interaction", kind="signup")
    )
    pending = {"email": {"status": "pending", "at": NOON.isoformat()}}
    person = make_customer(**_sign_up(campaign, make_customer, consent=pending))
    trigger = Trigger(trigger_id="event:signup-3", occurred_at=NOON)
    at = NOON + timedelta(hours=2)
    decision = decide(catalogue, campaign, trigger, person, [], at, confirmation_window=timedelta(hours=1))
    assert (decision.outcome, decision.reason) == ("skipped", "unconfirmed")


def test_revoked_consent_is_judged_at_send_time(catalogue: Catalogue, make_customer: CustomerFactory) -> None:
    campaign = _campaign(catalogue, "cross-sell")
    trigger = Trigger(trigger_id="event:order-1", occurred_at=NOON)
    person = make_customer(customer_id=customer_id_in("cross-sell", 10, held_out=False))
    assert decide(catalogue, campaign, trigger, person, [], NOON).outcome == "deferred"
    revoked = person.model_copy(update={"consent": {}})
    due = NOON + timedelta(days=14)
    decision = decide(
        catalogue, campaign, resume_trigger(campaign, trigger.trigger_id, due), revoked, [], due
    )
    assert (decision.outcome, decision.reason) == ("skipped", "no_consent")


def test_quiet_hours_come_before_the_consent_check(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    # At night, even a person without consent is deferred first: consent is judged in the morning.
    campaign = _campaign(catalogue, "win-back")
    night = paris(2026, 1, 14, 23, 30)
    person = make_customer(customer_id=customer_id_in("win-back", 10, held_out=False), consent={})
    trigger = Trigger(trigger_id="segment:At risk:run-9", occurred_at=night)
    decision = decide(catalogue, campaign, trigger, person, [], night)
    assert (decision.outcome, decision.detail) == ("deferred", "quiet hours")


def test_an_old_order_on_arrival_is_stale_and_never_deferred(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    campaign = _campaign(catalogue, "cross-sell")
    person = make_customer(customer_id=customer_id_in("cross-sell", 10, held_out=False))
    order_1997 = Trigger(trigger_id="event:order-1997", occurred_at=NOON.replace(year=1997))
    decision = decide(catalogue, campaign, order_1997, person, [], NOON)
    assert (decision.outcome, decision.reason) == ("skipped", "stale")


def test_maximum_trigger_age_default_and_override(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    campaign = _campaign(
        catalogue, "cross-sell", trigger=InteractionTrigger(type="interaction", kind="purchase")
    )
    person = make_customer(customer_id=customer_id_in("cross-sell", 10, held_out=False))
    default_days = catalogue.max_trigger_age(campaign).days
    assert default_days == catalogue.max_trigger_age_days
    fresh = Trigger(trigger_id="event:o-1", occurred_at=NOON - timedelta(days=default_days - 1))
    old = Trigger(trigger_id="event:o-2", occurred_at=NOON - timedelta(days=default_days + 1))
    assert decide(catalogue, campaign, fresh, person, [], NOON).outcome == "sent"
    assert decide(catalogue, campaign, old, person, [], NOON).reason == "stale"
    tolerant = campaign.model_copy(update={"max_trigger_age_days": default_days + 5})
    assert decide(catalogue, tolerant, old, person, [], NOON).outcome == "sent"


def test_age_is_measured_from_the_due_time(catalogue: Catalogue, make_customer: CustomerFactory) -> None:
    # The cross-sell of a fresh order is due 14 days later: the order is older than the maximum age by
    # then, but the trigger is on time; a deferral left behind longer than the maximum age is stale.
    campaign = _campaign(catalogue, "cross-sell")
    person = make_customer(customer_id=customer_id_in("cross-sell", 10, held_out=False))
    order = Trigger(trigger_id="event:o-3", occurred_at=NOON)
    due = NOON + timedelta(days=14)
    assert decide(catalogue, campaign, order, person, [], due).outcome == "sent"
    assert (
        decide(catalogue, campaign, resume_trigger(campaign, "event:o-3", due), person, [], due).outcome
        == "sent"
    )
    after_outage = due + catalogue.max_trigger_age(campaign) + timedelta(hours=1)
    assert decide(catalogue, campaign, order, person, [], after_outage).reason == "stale"


def test_the_checks_that_need_no_person_decide_as_decide_does(
    catalogue: Catalogue, make_customer: CustomerFactory
) -> None:
    # The campaigns function records a disabled or stale decision without reading the profile, its
    # scores or its decisions: the same decision decide() makes, and None whenever decide() needs them.
    campaign = _campaign(catalogue, "cross-sell")
    person = make_customer(customer_id=customer_id_in("cross-sell", 10, held_out=False))
    order_1997 = Trigger(trigger_id="event:order-1997", occurred_at=NOON.replace(year=1997))
    fresh = Trigger(trigger_id="event:o-4", occurred_at=NOON)
    switched_off = campaign.model_copy(update={"enabled": False})
    for judged, trigger in ((campaign, order_1997), (switched_off, fresh), (switched_off, order_1997)):
        early = decide_without_person(catalogue, judged, trigger, person.customer_id, NOON)
        assert early is not None
        assert early == decide(catalogue, judged, trigger, person, [], NOON)
    assert (early.outcome, early.reason) == ("skipped", "disabled")  # disabled is checked first
    assert decide_without_person(catalogue, campaign, fresh, person.customer_id, NOON) is None
    # a fresh order goes on to the checks that read the person (cross-sell waits for its delay first)
    assert decide(catalogue, campaign, fresh, person, [], NOON).detail == "trigger delay"
