"""The campaign decision: given one campaign, one trigger occurrence and one customer, what happens now.

:func:`decide` is pure: same inputs, same :class:`Decision` (no clock, no randomness, no I/O). The
checks run in this order, and the first one that fails decides:

1. **disabled** -- the campaign is switched off -> ``skipped`` / ``disabled``.
2. **stale** -- an interaction trigger whose due time (``occurred_at + delay_days``) is further in the
   past than the campaign's maximum trigger age (campaign ``max_trigger_age_days``, else the catalogue
   default) -> ``skipped`` / ``stale``: replaying old history (an import of 1997 orders) records the
   triggers and mails nobody. Measured from the due time, a fresh event with a delay is never stale
   when it arrives nor when it is re-run on time; a deferral left far behind (an outage longer than the
   maximum age) is no longer sent either.
3. **timing** -- a delayed trigger (``delay_days``) is due at ``occurred_at + delay_days``; any other
   trigger is due ``now``. The send time is the due time pushed out of the quiet hours (campaign
   override, else the catalogue default) in the customer's time zone (``zoneinfo``; UTC when the zone
   is missing or invalid). If it is later than ``now`` -> ``deferred`` with ``send_after``. Timing comes
   *before* every check on the person: the caller re-runs :func:`decide` with the same trigger at
   ``send_after`` (:func:`resume_trigger`), and audience, consent, cooldown, cap and hold-out are all
   judged at the moment of sending, never at the moment of the trigger.
4. **audience** -- every audience condition must hold, and the customer must be reachable on the
   channel (an email address for ``email``, a phone number for ``sms``) -> ``skipped`` / ``filtered``.
5. **consent** -- when ``consent_required`` names a channel, its consent must be ``granted``. A
   ``pending`` consent (double opt-in not confirmed yet) is waited for: ``deferred`` and re-checked every
   :data:`PENDING_CONSENT_RECHECK` until its confirmation window (``confirmation_window`` after the
   request) ends, then ``skipped`` / ``unconfirmed``. ``revoked`` or none -> ``skipped`` / ``no_consent``.
6. **cooldown** -- a ``sent`` or ``held_out`` decision of the *same* campaign within ``cooldown_days``
   before ``now`` -> ``skipped`` / ``cooldown``. Held-out decisions count so that the control group is
   re-triggered exactly as often as the treated group.
7. **frequency cap** -- for campaigns on a capped channel (catalogue ``frequency_cap.channels``, by
   default email and sms): ``max_messages`` or more ``sent`` decisions of *any* campaign on a capped
   channel within ``per_days`` before ``now`` -> ``skipped`` / ``frequency_cap``. Only ``sent`` counts:
   a held-out customer received nothing.
8. **hold-out** -- :func:`shared.campaigns.holdout.is_held_out` -> ``held_out``.
9. otherwise -> ``sent`` (the caller publishes ``CampaignTriggered``).

Why the hold-out comes last: the control group must be comparable with the treated group, so it is
drawn only from customers who would otherwise have been sent the message (same audience, consent,
cooldown, cap and send time). Drawing it earlier would put customers without consent or over the cap
into the control group and bias the lift. One known, small asymmetry remains: held-out decisions do
not use up frequency-cap room, so a control customer can receive other campaigns slightly more often.

Idempotency is not decided here: the caller writes the decision with a conditional put on
``{campaign_id}#{trigger_id}``, so a trigger seen twice is decided once (a ``deferred`` item is later
replaced by the re-run's decision, conditionally on still being ``deferred``). The stored item has no
``occurred_at``; :func:`resume_trigger` rebuilds a trigger from its ``send_after`` for the re-run.
``recent`` must hold the customer's decisions of at least the last :attr:`Catalogue.lookback_days` days.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from numbers import Real
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from shared.campaigns.catalogue import (
    Campaign,
    CampaignChannel,
    Catalogue,
    Condition,
    InteractionTrigger,
    QuietHours,
)
from shared.campaigns.customer import CustomerView, UtcDatetime
from shared.campaigns.holdout import is_held_out

# ``decide`` answers sent/held_out/skipped/deferred. A stored email decision to send is ``queued`` until
# the email channel answers: ``sent`` once SES accepted the message, ``failed`` (with its reason) if it
# could not be sent, ``skipped`` if consent or the person went away before the send.
Outcome = Literal["sent", "queued", "failed", "held_out", "skipped", "deferred"]
# Outcomes that count as a contact for cooldowns and caps (a queued message is about to be sent).
CONTACTED: Final = frozenset({"sent", "queued"})
SkipReason = Literal[
    "disabled", "no_consent", "unconfirmed", "filtered", "cooldown", "frequency_cap", "stale", "suppressed"
]
# How often a send waiting for a pending consent looks again (the message goes out at most this late
# after the person confirms), and the default confirmation window (the confirmation link's lifetime).
PENDING_CONSENT_RECHECK: Final = timedelta(hours=1)
DEFAULT_CONFIRMATION_WINDOW: Final = timedelta(hours=72)

__all__ = [
    "DEFAULT_CONFIRMATION_WINDOW",
    "PENDING_CONSENT_RECHECK",
    "CustomerView",
    "Decision",
    "DecisionRecord",
    "Outcome",
    "SkipReason",
    "StoredDecision",
    "Trigger",
    "condition_holds",
    "decide",
    "matches_audience",
    "next_allowed_time",
    "resolve_zone",
    "resume_trigger",
]


class Trigger(BaseModel):
    """One occurrence of a campaign trigger.

    ``trigger_id`` identifies the occurrence deterministically (``event:<event id>``,
    ``segment:At risk:<run id>``, ``inactivity:2025-03-01``...): the decision key is
    ``{campaign_id}#{trigger_id}``, so the same occurrence is never decided twice.
    """

    model_config = ConfigDict(frozen=True)

    trigger_id: str = Field(min_length=1)
    occurred_at: UtcDatetime


class DecisionRecord(BaseModel):
    """A past decision, as stored (extra attributes of the stored item are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    campaign_id: str
    customer_id: str
    outcome: Outcome
    decided_at: UtcDatetime
    trigger_id: str | None = None
    reason: str | None = None
    channel: str | None = None


class StoredDecision(DecisionRecord):
    """A stored decision with its key and, while deferred, its send time (what data access returns)."""

    decision_key: str
    trigger_id: str
    send_after: UtcDatetime | None = None
    trigger_occurred_at: UtcDatetime | None = None
    # Set on a journey's state item (shared.campaigns.journeys), which the due sweep hands to the journey.
    journey_status: str | None = None


class Decision(BaseModel):
    """The outcome of :func:`decide`; maps one-to-one onto a stored decision item."""

    model_config = ConfigDict(frozen=True)

    campaign_id: str
    customer_id: str
    trigger_id: str
    decided_at: UtcDatetime
    outcome: Outcome
    reason: SkipReason | None = None
    channel: CampaignChannel
    send_after: UtcDatetime | None = None
    detail: str | None = None

    @property
    def decision_key(self) -> str:
        return f"{self.campaign_id}#{self.trigger_id}"

    def to_record(self) -> DecisionRecord:
        return DecisionRecord(
            campaign_id=self.campaign_id,
            customer_id=self.customer_id,
            outcome=self.outcome,
            decided_at=self.decided_at,
            trigger_id=self.trigger_id,
            reason=self.reason,
            channel=self.channel,
        )


def resume_trigger(campaign: Campaign, trigger_id: str, send_after: datetime) -> Trigger:
    """The trigger to re-run a ``deferred`` decision with, from its stored ``send_after``.

    ``occurred_at`` only matters for the trigger delay; ``send_after - delay_days`` is never later than
    the real occurrence plus the delay, so a re-run at or after ``send_after`` is due.
    """
    delay_days: int = getattr(campaign.trigger, "delay_days", 0)
    return Trigger(trigger_id=trigger_id, occurred_at=send_after - timedelta(days=delay_days), resumed=True)


# --- time zones and quiet hours ---------------------------------------------------------------------


@lru_cache(maxsize=512)
def resolve_zone(name: str | None) -> ZoneInfo:
    """The customer's zone; UTC when ``name`` is empty or not a valid IANA zone."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo("UTC")


def _in_window(t: time, start: time, end: time) -> bool:
    if start < end:
        return start <= t < end
    return t >= start or t < end  # wraps over midnight


def next_allowed_time(at: datetime, quiet_hours: QuietHours, zone_name: str | None) -> datetime:
    """``at`` itself when it is outside the quiet hours in the zone, else the end of those quiet hours.

    The result is an aware UTC datetime. Example: 23:00 in Europe/Paris with quiet hours 21:00-08:00
    gives 08:00 Paris time the next day.
    """
    at = at.astimezone(UTC)
    if not quiet_hours.enabled:
        return at
    zone = resolve_zone(zone_name)
    start, end = quiet_hours.start, quiet_hours.end
    candidate = at
    # A window end that falls in a DST gap lands later than asked; if that is inside the next window,
    # move on to that window's end (at most a couple of rounds).
    for _ in range(3):
        local = candidate.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if not _in_window(clock, start, end):
            return candidate
        end_day = local.date()
        if start > end and clock >= start:  # evening part of a window wrapping over midnight
            end_day += timedelta(days=1)
        candidate = max(datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC), candidate)
    return candidate


# --- audience ---------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    return float(value)


def condition_holds(condition: Condition, customer: CustomerView, now: datetime) -> bool:
    """Evaluate one audience condition (see :class:`~shared.campaigns.catalogue.Condition`)."""
    actual = customer.field_value(condition.field, now)
    op, expected = condition.op, condition.value
    if op == "exists":
        return (actual is not None) == (True if expected is None else bool(expected))
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "in":
        return isinstance(expected, list) and actual in expected
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        return False
    if op == "gt":
        return left > right
    if op == "gte":
        return left >= right
    if op == "lt":
        return left < right
    return left <= right  # lte


def matches_audience(conditions: Iterable[Condition], customer: CustomerView, now: datetime) -> bool:
    return all(condition_holds(c, customer, now) for c in conditions)


def _first_failing(
    conditions: Iterable[Condition], customer: CustomerView, now: datetime
) -> Condition | None:
    return next((c for c in conditions if not condition_holds(c, customer, now)), None)


# --- the decision -----------------------------------------------------------------------------------


def _decision(
    campaign: Campaign,
    customer_id: str,
    trigger: Trigger,
    now: datetime,
    outcome: Outcome,
    reason: SkipReason | None = None,
    send_after: datetime | None = None,
    detail: str | None = None,
) -> Decision:
    return Decision(
        campaign_id=campaign.id,
        customer_id=customer_id,
        trigger_id=trigger.trigger_id,
        decided_at=now,
        outcome=outcome,
        reason=reason,
        channel=campaign.channel,
        send_after=send_after,
        detail=detail,
    )


def decide_without_person(
    catalogue: Catalogue, campaign: Campaign, trigger: Trigger, customer_id: str, now: datetime
) -> Decision | None:
    """Checks 1 and 2 (disabled, stale), the ones that read nothing of the person: their decision, or None
    when the campaign is live and the trigger fresh. :func:`decide` runs them first; a caller may run them
    before reading the profile, its scores and its decisions (a replayed order is skipped as stale without
    them)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    # 1. disabled
    if not campaign.enabled:
        return _decision(campaign, customer_id, trigger, now, "skipped", "disabled")

    # 2. stale: an interaction whose due time is long past (replayed history)
    delay_days: int = getattr(campaign.trigger, "delay_days", 0)
    if isinstance(campaign.trigger, InteractionTrigger):
        late = now - (trigger.occurred_at + timedelta(days=delay_days))
        max_age = catalogue.max_trigger_age(campaign)
        if late > max_age:
            detail = f"due {late.days} days ago (max {max_age.days})"
            return _decision(campaign, customer_id, trigger, now, "skipped", "stale", detail=detail)
    return None


def decide(
    catalogue: Catalogue,
    campaign: Campaign,
    trigger: Trigger,
    customer: CustomerView,
    recent: Sequence[DecisionRecord],
    now: datetime,
    confirmation_window: timedelta = DEFAULT_CONFIRMATION_WINDOW,
) -> Decision:
    """Decide what ``campaign`` does for ``customer`` on ``trigger`` at ``now`` (see module docstring).

    ``catalogue`` supplies the frequency cap and the default quiet hours; ``recent`` is the customer's
    decisions (any campaign); ``now`` must be timezone-aware; ``confirmation_window``: how long a pending
    (double opt-in) consent may still be confirmed.
    """
    early = decide_without_person(catalogue, campaign, trigger, customer.customer_id, now)
    if early is not None:
        return early
    now = now.astimezone(UTC)

    def result(
        outcome: Outcome,
        reason: SkipReason | None = None,
        send_after: datetime | None = None,
        detail: str | None = None,
    ) -> Decision:
        return _decision(campaign, customer.customer_id, trigger, now, outcome, reason, send_after, detail)

    delay_days: int = getattr(campaign.trigger, "delay_days", 0)
    # 3. timing first: trigger delay, then quiet hours in the customer's zone; every later check runs
    #    again at the send time
    quiet_hours = catalogue.quiet_hours_for(campaign)
    due = trigger.occurred_at + timedelta(days=delay_days) if delay_days else now
    send_at = next_allowed_time(max(due, now), quiet_hours, customer.timezone)
    if send_at > now:
        detail = "trigger delay" if due > now else "quiet hours"
        return result("deferred", send_after=send_at, detail=detail)

    # 4. audience (and reachability on the channel)
    failing = _first_failing(campaign.audience, customer, now)
    if failing is not None:
        return result("skipped", "filtered", detail=f"{failing.field} {failing.op} {failing.value!r}")
    if campaign.channel == "email" and not customer.email:
        return result("skipped", "filtered", detail="no email address")
    if campaign.channel == "sms" and not customer.phone:
        return result("skipped", "filtered", detail="no phone number")
    if campaign.channel == "email" and customer.email_suppressed_address == customer.email:
        # Do-not-contact (SES feedback: permanent bounce or complaint on this address), issue 13.
        return result("skipped", "suppressed", detail=customer.email_suppressed_reason)

    # 5. consent; a pending one is waited for until its confirmation window ends
    if campaign.consent_required is not None:
        state = customer.consent.get(campaign.consent_required)
        status = state.status if state is not None else None
        if state is not None and status == "pending":
            window_end = (state.at or trigger.occurred_at) + confirmation_window
            if now < window_end:
                recheck = next_allowed_time(
                    min(window_end, now + PENDING_CONSENT_RECHECK), quiet_hours, customer.timezone
                )
                return result("deferred", send_after=recheck, detail="consent pending")
            detail = f"{campaign.consent_required} consent still pending at {window_end.isoformat()}"
            return result("skipped", "unconfirmed", detail=detail)
        if status != "granted":
            return result("skipped", "no_consent", detail=f"{campaign.consent_required} consent: {status}")

    # 6. cooldown (same campaign, sent or held out)
    if campaign.cooldown_days > 0:
        since = now - timedelta(days=campaign.cooldown_days)
        contacts = [
            record
            for record in recent
            if record.campaign_id == campaign.id
            and (record.outcome in CONTACTED or record.outcome == "held_out")
            and record.decided_at > since
        ]
        if contacts:
            latest = max(contacts, key=lambda r: (r.decided_at, r.outcome))
            detail = f"{latest.outcome} at {latest.decided_at.isoformat()}"
            return result("skipped", "cooldown", detail=detail)

    # 7. frequency cap (sent only, across campaigns on capped channels)
    cap = catalogue.frequency_cap
    if campaign.channel in cap.channels:
        since = now - timedelta(days=cap.per_days)
        sent = sum(
            1
            for record in recent
            if record.outcome in CONTACTED
            and record.decided_at > since
            and (record.channel is None or record.channel in cap.channels)
        )
        if sent >= cap.max_messages:
            detail = f"{sent} sent in {cap.per_days} days (max {cap.max_messages})"
            return result("skipped", "frequency_cap", detail=detail)

    # 8. hold-out, drawn among customers who would otherwise be sent the message
    percent = campaign.holdout_percent
    if percent > 0 and is_held_out(campaign.id, customer.customer_id, percent):
        return result("held_out")

    # 9. send
    return result("sent")
