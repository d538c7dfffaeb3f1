"""Shared helpers for the campaign tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from shared.campaigns.catalogue import Campaign
from shared.campaigns.rules import DecisionRecord, Outcome

# A winter weekday, mid-afternoon in Paris (UTC+1): outside the default quiet hours.
NOON = datetime(2026, 1, 14, 13, 0, tzinfo=UTC)


def record(
    campaign_id: str,
    days_ago: float,
    outcome: Outcome = "sent",
    *,
    now: datetime = NOON,
    channel: str | None = "email",
    customer_id: str = "c-1",
) -> DecisionRecord:
    return DecisionRecord(
        campaign_id=campaign_id,
        customer_id=customer_id,
        outcome=outcome,
        decided_at=now - timedelta(days=days_ago),
        trigger_id=f"t-{campaign_id}-{days_ago}",
        channel=channel,
    )


def paris(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Europe/Paris")).astimezone(UTC)


def customer_id_in(campaign_id: str, percent: float, *, held_out: bool) -> str:
    """The first ``c-<n>`` customer id that falls in (or out of) the campaign's hold-out."""
    from shared.campaigns.holdout import is_held_out

    return next(f"c-{n}" for n in range(100_000) if is_held_out(campaign_id, f"c-{n}", percent) == held_out)


# The single campaigns the prospect journey replaced (catalogue 2026.1.1), kept here as test fixtures: the
# rules they exercised (a delayed trigger, a webhook without consent nor quiet hours) are still the rules.
RETIRED_CAMPAIGNS: dict[str, dict[str, object]] = {
    "signup-nurture": {
        "id": "signup-nurture",
        "name": "Prospect nurture (sign-up without purchase)",
        "trigger": {"type": "interaction", "kind": "signup", "delay_days": 3},
        "audience": [{"field": "purchase_count", "op": "eq", "value": 0}],
        "channel": "email",
        "template": "nurture-signup",
        "consent_required": "email",
        "cooldown_days": 30,
        "holdout_percent": 10,
    },
    "sales-handover": {
        "id": "sales-handover",
        "name": "Sales hand-over",
        "trigger": {"type": "score_threshold", "event": "LeadQualified", "stages": ["marketing_qualified"]},
        "channel": "webhook",
        "template": "crm-lead",
        "consent_required": None,
        "cooldown_days": 90,
        "holdout_percent": 0,
        "attribution_window_days": 90,
        "quiet_hours": {"enabled": False},
    },
}


def retired_campaign(campaign_id: str) -> Campaign:
    return Campaign.model_validate(RETIRED_CAMPAIGNS[campaign_id])
