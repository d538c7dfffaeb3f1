"""Interaction kinds and the engagement they add to a customer's aggregates.

Lead scores decay exponentially with a half-life. To keep the aggregate update a pure atomic ``ADD``
(no read-modify-write), each event adds ``2 ** ((t - EPOCH) / half_life)`` to a per-kind sum; the
scoring run multiplies the sum by ``2 ** (-(now - EPOCH) / half_life)``, which gives
``sum_i 2 ** (-(now - t_i) / half_life)``: every event's weight halves every half-life.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final, Literal

InteractionKind = Literal[
    "identify",
    "page_view",
    "purchase",
    "email_click",
    "signup",
    "contact_request",
    "download",
    "consent_granted",
    "unsubscribe",
    "consent_changed",  # consent carried over by a merge (no engagement, no campaign trigger)
    "track",
    # Email channel feedback from SES (shared.services.feedback): the campaign id is in the properties.
    "email_delivered",
    "email_opened",
    "email_clicked",
    "email_bounced",
    "email_complained",
]

EngagementKind = Literal["page_view", "form_post", "email_click", "download", "contact_request", "other"]
ENGAGEMENT_KINDS: Final[tuple[EngagementKind, ...]] = (
    "page_view",
    "form_post",
    "email_click",
    "download",
    "contact_request",
    "other",
)

_ENGAGEMENT_OF_KIND: Final[dict[str, EngagementKind]] = {
    "page_view": "page_view",
    "signup": "form_post",
    "email_click": "email_click",
    "download": "download",
    "contact_request": "contact_request",
    "track": "other",
    # A click in a campaign email is the person acting, like a tracked email click. An open counts as
    # "other" (no lead-score weight): mail privacy proxies open messages on the reader's behalf.
    "email_clicked": "email_click",
    "email_opened": "other",
}
# Recorded, but not the person's activity: they never touch the customer's aggregates (a delivery must
# not reset "days without interaction", nor count as engagement).
NOT_ACTIVITY_KINDS: Final[frozenset[str]] = frozenset(
    {"email_delivered", "email_bounced", "email_complained"}
)

# Kinds published on the bus as InteractionTracked, because campaigns can react to them.
CAMPAIGN_RELEVANT_KINDS: Final[frozenset[str]] = frozenset({"purchase", "signup", "consent_granted"})

DECAY_EPOCH: Final[datetime] = datetime(2020, 1, 1, tzinfo=UTC)
# DynamoDB numbers stop near 1e125 ~ 2**415: refuse larger stored weights (with a 30-day half-life that is
# reached in 2052; a deployment with a short half-life moves the epoch forward, see shared.scoring.leads).
MAX_EXPONENT: Final[float] = 400.0
_SECONDS_PER_DAY: Final[float] = 86_400.0


def engagement_kind(kind: str) -> EngagementKind | None:
    """The engagement bucket an interaction kind counts in (None: no engagement, e.g. a purchase)."""
    return _ENGAGEMENT_OF_KIND.get(kind)


def decay_weight(occurred_at: datetime, half_life_days: float) -> float:
    """What one event at ``occurred_at`` adds to a decayed engagement sum (see module docstring).

    Raises ``ValueError`` for a non-positive half-life or an exponent above :data:`MAX_EXPONENT`.
    """
    if half_life_days <= 0:
        raise ValueError("half_life_days must be > 0")
    exponent = _days_since_epoch(occurred_at) / half_life_days
    if exponent > MAX_EXPONENT:
        raise ValueError(
            f"decay exponent {exponent:.0f} > {MAX_EXPONENT:.0f}: move EPOCH forward for this half-life"
        )
    return float(2.0**exponent)


def decay_factor(now: datetime, half_life_days: float) -> float:
    """Multiply a stored decayed sum by this to read it at ``now``."""
    return float(2.0 ** (-_days_since_epoch(now) / half_life_days))


def _days_since_epoch(when: datetime) -> float:
    """Days from the epoch; a naive datetime is read as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - DECAY_EPOCH).total_seconds() / _SECONDS_PER_DAY
