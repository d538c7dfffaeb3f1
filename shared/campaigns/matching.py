"""Which campaigns a bus event or the scheduled sweep triggers, and the trigger id of each occurrence.

Trigger ids are deterministic, so the decision key ``{campaign_id}#{trigger_id}`` makes every path
idempotent (a redelivered event, a re-run sweep):

=====================  ====================================  =========================================
trigger                trigger id                            occurred_at
=====================  ====================================  =========================================
interaction            ``event:<event_id>``                  the interaction's ``occurred_at`` (<= now)
segment_entry          ``segment:<segment>:<run_id>``        ``now`` (the event carries no timestamp)
score_threshold        ``stage:<stage>:<run_id>``            ``now``
inactivity             ``inactivity:<YYYY-MM-DD>``           when the customer became inactive
date                   ``anniversary:<of>:<YYYY>``           local midnight of the anniversary
=====================  ====================================  =========================================

The inactivity id is anchored on the date of the customer's last relevant activity rather than on the
sweep's period: however often the sweep runs, one spell of inactivity triggers a campaign once, and a
new spell (the customer came back, then went quiet again) gets a new id. The anniversary id carries the
year, so it fires at most once a year even with ``grace_days`` catch-up after a missed sweep.

Disabled campaigns are left out unless ``include_disabled`` is set (:func:`~shared.campaigns.rules.decide`
still checks ``enabled``, for deferred decisions re-run after a campaign was switched off).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from shared.campaigns.catalogue import (
    Campaign,
    Catalogue,
    DateTrigger,
    InactivityTrigger,
    InteractionTrigger,
    ScoreThresholdTrigger,
    SegmentEntryTrigger,
)
from shared.campaigns.customer import CustomerView, to_utc
from shared.campaigns.rules import Trigger, resolve_zone
from shared.events import BusEvent, InteractionTracked, LeadQualified, SegmentChanged


@dataclass(frozen=True)
class CampaignMatch:
    """A campaign triggered for one customer by one trigger occurrence."""

    campaign: Campaign
    customer_id: str
    trigger: Trigger

    @property
    def decision_key(self) -> str:
        return f"{self.campaign.id}#{self.trigger.trigger_id}"


def _campaigns(catalogue: Catalogue, include_disabled: bool) -> Iterable[Campaign]:
    return (c for c in catalogue.campaigns if include_disabled or c.enabled)


def _timestamp(value: str, fallback: datetime) -> datetime:
    try:
        parsed = to_utc(value)
    except ValueError:
        return fallback
    return parsed if isinstance(parsed, datetime) else fallback


# --- bus events -------------------------------------------------------------------------------------


def match_event(
    catalogue: Catalogue, event: BusEvent, now: datetime, *, include_disabled: bool = False
) -> list[CampaignMatch]:
    """The campaigns ``event`` triggers (``InteractionTracked``, ``SegmentChanged``, ``LeadQualified``)."""
    if not isinstance(event, InteractionTracked | SegmentChanged | LeadQualified):
        return []
    now = now.astimezone(UTC)
    matches: list[CampaignMatch] = []
    for campaign in _campaigns(catalogue, include_disabled):
        rule = campaign.trigger
        trigger: Trigger | None = None
        if isinstance(event, InteractionTracked) and isinstance(rule, InteractionTrigger):
            if rule.kind == event.kind and (rule.name is None or rule.name == event.name):
                occurred = min(_timestamp(event.occurred_at, now), now)  # client clocks may run ahead
                trigger = Trigger(trigger_id=f"event:{event.event_id}", occurred_at=occurred)
        elif isinstance(event, SegmentChanged) and isinstance(rule, SegmentEntryTrigger):
            entered = event.segment != event.previous_segment and event.segment in rule.segments
            from_ok = rule.from_segments is None or event.previous_segment in rule.from_segments
            if entered and from_ok:
                trigger = Trigger(trigger_id=f"segment:{event.segment}:{event.run_id}", occurred_at=now)
        elif isinstance(event, LeadQualified) and isinstance(rule, ScoreThresholdTrigger):
            entered = event.stage != event.previous_stage and event.stage in rule.stages
            score_ok = rule.min_lead_score is None or event.lead_score >= rule.min_lead_score
            if entered and score_ok:
                trigger = Trigger(trigger_id=f"stage:{event.stage}:{event.run_id}", occurred_at=now)
        if trigger is not None:
            matches.append(CampaignMatch(campaign=campaign, customer_id=event.customer_id, trigger=trigger))
    return matches


# --- scheduled sweep --------------------------------------------------------------------------------


def inactivity_trigger(rule: InactivityTrigger, customer: CustomerView, now: datetime) -> Trigger | None:
    """The inactivity occurrence the customer is in at ``now``, if every threshold is exceeded."""
    signed_up = customer.created_at or customer.first_seen_at
    if rule.only_customers and not customer.has_purchased:
        return None
    references: list[tuple[datetime, int]] = []
    if rule.days_without_purchase is not None:
        since = customer.last_purchase_at
        if since is None and not customer.has_purchased:
            since = signed_up
        if since is None:
            return None
        references.append((since, rule.days_without_purchase))
    if rule.days_without_interaction is not None:
        since = customer.last_seen_at or signed_up
        if since is None:
            return None
        references.append((since, rule.days_without_interaction))
    if any(now - since < timedelta(days=days) for since, days in references):
        return None
    anchor = max(since for since, _ in references)
    became_inactive = max(since + timedelta(days=days) for since, days in references)
    return Trigger(trigger_id=f"inactivity:{anchor.date().isoformat()}", occurred_at=became_inactive)


def _same_day_in_year(anchor: date, year: int) -> date:
    try:
        return anchor.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def anniversary_trigger(rule: DateTrigger, customer: CustomerView, now: datetime) -> Trigger | None:
    """The anniversary occurrence due at ``now`` (local dates in the customer's zone), if any."""
    origin = customer.first_purchase_at if rule.anniversary_of == "first_purchase" else customer.created_at
    if origin is None:
        return None
    zone = resolve_zone(customer.timezone)
    anchor = origin.astimezone(zone).date()
    today = now.astimezone(zone).date()
    for year in (today.year, today.year - 1):
        if year <= anchor.year:
            continue
        day = _same_day_in_year(anchor, year)
        if day <= today <= day + timedelta(days=rule.grace_days):
            midnight = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
            return Trigger(trigger_id=f"anniversary:{rule.anniversary_of}:{year}", occurred_at=midnight)
    return None


def sweep_matches(
    catalogue: Catalogue, customer: CustomerView, now: datetime, *, include_disabled: bool = False
) -> list[CampaignMatch]:
    """The inactivity and date campaigns that the scheduled sweep triggers for ``customer`` at ``now``."""
    now = now.astimezone(UTC)
    matches: list[CampaignMatch] = []
    for campaign in _campaigns(catalogue, include_disabled):
        rule = campaign.trigger
        trigger: Trigger | None = None
        if isinstance(rule, InactivityTrigger):
            trigger = inactivity_trigger(rule, customer, now)
        elif isinstance(rule, DateTrigger):
            trigger = anniversary_trigger(rule, customer, now)
        if trigger is not None:
            match = CampaignMatch(campaign=campaign, customer_id=customer.customer_id, trigger=trigger)
            matches.append(match)
    return matches
