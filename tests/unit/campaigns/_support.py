"""Shared helpers for the campaign tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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
