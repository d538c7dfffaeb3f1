"""Lead scoring of prospects: decayed engagement plus declared-fit points, and the funnel stage.

Engagement decays exponentially with a half-life ``h`` days. To keep the customer aggregate updatable
with an atomic DynamoDB ``ADD`` (no read-modify-write), the tracking side adds, per interaction of kind
``k`` at time ``t``::

    stored_k += 2 ** ((t - EPOCH) / h)                       (decay_weight, EPOCH = 2020-01-01T00:00:00Z)

and the scoring side reads, at time ``now``::

    decayed_k = stored_k * 2 ** (-(now - EPOCH) / h)  =  sum_i 2 ** (-(now - t_i) / h)

(:func:`decayed`). Retried writes are made harmless upstream by the conditional put of the interaction.

Range: stored weights grow by a factor 2 per half-life after EPOCH. DynamoDB numbers stop at about
``1e125 ~ 2**415``; :func:`decay_weight` refuses exponents above :data:`MAX_EXPONENT` (400), which with the
default 30-day half-life is reached in 2052 (with 7 days, in 2027). A deployment with a shorter half-life
moves EPOCH forward and multiplies every stored sum by ``2 ** (-(new_epoch - old_epoch) / h)`` once.

Lead score = ``sum_k weight_k * decayed_k`` + fit points for a known company, job title and phone.
Funnel stage: ``customer`` for anyone with a purchase; otherwise ``marketing_qualified`` from
``mql_threshold``, ``lead`` from ``lead_threshold``, else ``subscriber``.

Defaults (:class:`LeadScoringConfig`): half-life 30 days; weights page_view 1, email_click 3, download 5,
form_post 10, contact_request 25; fit points company 5, job title 5, phone 10; thresholds lead 15,
marketing-qualified 40. So a contact request from someone who gave a company and a phone number (40) is
marketing-qualified at once, a form post with a company (15) is a lead, and page views alone need 15
recent views to make a lead. Kinds without a weight count 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.tracking.engagement import DECAY_EPOCH, MAX_EXPONENT, decay_factor, decay_weight

__all__ = [
    "CUSTOMER",
    "EPOCH",
    "LEAD",
    "MARKETING_QUALIFIED",
    "MAX_EXPONENT",
    "STAGES",
    "SUBSCRIBER",
    "LeadScoringConfig",
    "decay_weight",
    "decayed",
    "funnel_stage",
    "lead_scores",
]

EPOCH = DECAY_EPOCH
_SECONDS_PER_DAY = 86400.0

SUBSCRIBER = "subscriber"
LEAD = "lead"
MARKETING_QUALIFIED = "marketing_qualified"
CUSTOMER = "customer"
STAGES: tuple[str, ...] = (SUBSCRIBER, LEAD, MARKETING_QUALIFIED, CUSTOMER)

DEFAULT_WEIGHTS: dict[str, float] = {
    "page_view": 1.0,
    "email_click": 3.0,
    "download": 5.0,
    "form_post": 10.0,
    "contact_request": 25.0,
}


class LeadScoringConfig(BaseModel):
    """Weights, fit points and stage thresholds of the lead score (defaults in the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    half_life_days: float = Field(default=30.0, gt=0)
    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    company_points: float = 5.0
    job_title_points: float = 5.0
    phone_points: float = 10.0
    lead_threshold: float = 15.0
    mql_threshold: float = 40.0

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> LeadScoringConfig:
        if self.mql_threshold < self.lead_threshold:
            raise ValueError("mql_threshold must be >= lead_threshold")
        return self


def decayed(stored_sums: ArrayLike, now: datetime, half_life_days: float) -> NDArray[np.float64]:
    """Decayed engagement at ``now`` from stored sums: ``stored * 2**(-(now - EPOCH)/h)``, vectorised."""
    if half_life_days <= 0:
        raise ValueError("half_life_days must be > 0")
    factor = decay_factor(now, half_life_days)
    stored = np.nan_to_num(np.asarray(stored_sums, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    out: NDArray[np.float64] = stored * factor
    return out


def lead_scores(
    decayed_by_kind: Mapping[str, ArrayLike],
    has_company: ArrayLike,
    has_job_title: ArrayLike,
    has_phone: ArrayLike,
    config: LeadScoringConfig,
) -> NDArray[np.float64]:
    """``sum_k weight_k * decayed_k`` + fit points, vectorised over customers."""
    company = np.asarray(has_company, dtype=bool)
    score = np.zeros(company.shape, dtype=np.float64)
    for kind, values in decayed_by_kind.items():
        weight = config.weights.get(kind, 0.0)
        if weight:
            score = score + weight * np.asarray(values, dtype=np.float64)
    score = (
        score
        + config.company_points * company
        + config.job_title_points * np.asarray(has_job_title, dtype=bool)
        + config.phone_points * np.asarray(has_phone, dtype=bool)
    )
    return score


def funnel_stage(
    lead_score: ArrayLike, is_customer: ArrayLike, config: LeadScoringConfig
) -> NDArray[np.object_]:
    """Stage names: ``customer`` for buyers, else by the lead score thresholds."""
    score = np.asarray(lead_score, dtype=np.float64)
    buyer = np.asarray(is_customer, dtype=bool)
    out: NDArray[np.object_] = np.select(
        [buyer, score >= config.mql_threshold, score >= config.lead_threshold],
        [
            np.array(CUSTOMER, dtype=object),
            np.array(MARKETING_QUALIFIED, dtype=object),
            np.array(LEAD, dtype=object),
        ],
        default=np.array(SUBSCRIBER, dtype=object),
    ).astype(object)
    return out
