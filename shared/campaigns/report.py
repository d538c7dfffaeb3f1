"""Campaign report: what a campaign decided and how much it changed buying, against its hold-out.

Groups: **treatment** = ``sent`` decisions (SES accepted the message; ``queued`` and ``failed`` ones are
counted apart), **control** = ``held_out`` decisions (the hold-out is drawn
among customers who would otherwise have been sent, see :mod:`shared.campaigns.rules`, so the two are
comparable). The unit is a decision (one customer, one trigger).

Attribution: a purchase is attributed to the customer's most recent ``sent``/``held_out`` decision of
this campaign that precedes it (strictly), if the purchase falls within ``attribution_window_days``
after that decision. A decision *converts* when at least one purchase is attributed to it; its revenue
is the sum of those purchases. A purchase is attributed once, so overlapping windows never double
count. With ``as_of``, decisions whose window has not closed yet are left out of the group statistics
(they are counted as ``maturing``): an open window would understate both rates.

Lift: ``absolute_lift = rate(treatment) - rate(control)``, ``relative_lift = absolute_lift /
rate(control)`` (None when the control rate is 0). The confidence interval is for the difference of the
two proportions, by **Newcombe's hybrid score method** (Newcombe 1998, method 10), built from the Wilson
score interval of each rate:

    L = d - sqrt((p1 - l1)^2 + (u2 - p2)^2),   U = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)

It is chosen over the Wald interval because it keeps its coverage with small groups and rates near 0
(typical of a 10 % hold-out and low conversion rates), never leaves [-1, 1], and needs no continuity
fudge. ``p_value`` is the two-sided pooled two-proportion z-test. Only the standard library is used
(``statistics.NormalDist``), so the campaigns function needs no scipy layer.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.campaigns.customer import UtcDatetime
from shared.campaigns.funnel import JourneyFunnel
from shared.campaigns.rules import DecisionRecord


class Purchase(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    customer_id: str
    occurred_at: UtcDatetime
    amount: float = 0.0


class GroupStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    contacts: int
    conversions: int
    conversion_rate: float | None
    revenue: float
    revenue_per_contact: float | None


class CampaignReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    campaign_id: str
    attribution_window_days: int
    as_of: UtcDatetime | None = None
    decisions: int
    sent: int
    held_out: int
    deferred: int
    skipped: dict[str, int] = Field(default_factory=dict)
    # Email decisions the channel has not answered yet, and those it could not send (by reason): neither
    # is a contact (the treatment group is ``sent``: SES accepted the message).
    queued: int = 0
    failed: dict[str, int] = Field(default_factory=dict)
    maturing: int = 0
    treatment: GroupStats
    control: GroupStats
    absolute_lift: float | None
    relative_lift: float | None
    confidence: float
    ci_method: Literal["newcombe-hybrid-score"] = "newcombe-hybrid-score"
    lift_ci_low: float | None
    lift_ci_high: float | None
    p_value: float | None
    significant: bool
    revenue_per_contact_lift: float | None
    incremental_conversions: float | None
    incremental_revenue: float | None
    # "journey": a journey's report (shared.campaigns.journeys): the groups are the people who entered it
    # (treated / held out at entry), sent/skipped count its send steps' messages, and ``funnel`` is set.
    kind: Literal["campaign", "journey"] = "campaign"
    funnel: JourneyFunnel | None = None


def counts_as_conversion(
    conversion: str, campaign_id: str, kind: str, properties: Mapping[str, Any] | None
) -> bool:
    """Whether an interaction converts a decision of the campaign: a purchase, or (``email_click``) a
    click in an email of this very campaign (the SES click event carries the campaign id)."""
    if conversion == "email_click":
        return kind == "email_clicked" and (properties or {}).get("campaign_id") == campaign_id
    return kind == "purchase"


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be within (0, 1), got {confidence}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion."""
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    z = _z(confidence)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / trials + z2n / (4.0 * trials)) / (1.0 + z2n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact bounds, free of rounding noise
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``x1/n1 - x2/n2``."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return low, high


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled z-test of ``p1 == p2`` (None when it is undefined)."""
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0.0:
        return None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2.0))


def _group(contacts: int, conversions: int, revenue: float) -> GroupStats:
    return GroupStats(
        contacts=contacts,
        conversions=conversions,
        conversion_rate=conversions / contacts if contacts else None,
        revenue=revenue,
        revenue_per_contact=revenue / contacts if contacts else None,
    )


def build_report(
    campaign_id: str,
    decisions: Iterable[DecisionRecord],
    purchases: Iterable[Purchase],
    attribution_window_days: int,
    *,
    as_of: datetime | None = None,
    confidence: float = 0.95,
) -> CampaignReport:
    """Build the report of ``campaign_id`` (decisions of other campaigns are ignored)."""
    window = timedelta(days=attribution_window_days)
    mine = [d for d in decisions if d.campaign_id == campaign_id]
    outcomes = Counter(d.outcome for d in mine)
    skipped = Counter(d.reason or "unknown" for d in mine if d.outcome == "skipped")
    failed = Counter(d.reason or "unknown" for d in mine if d.outcome == "failed")

    # Group decisions per customer, in time order, for attribution.
    grouped = sorted(
        (d for d in mine if d.outcome in ("sent", "held_out")),
        key=lambda d: (d.customer_id, d.decided_at, d.trigger_id or ""),
    )
    by_customer: dict[str, list[int]] = defaultdict(list)
    for index, d in enumerate(grouped):
        by_customer[d.customer_id].append(index)
    times = {c: [grouped[i].decided_at for i in ids] for c, ids in by_customer.items()}

    revenue: dict[int, float] = defaultdict(float)
    converted: set[int] = set()
    for purchase in purchases:
        ids = by_customer.get(purchase.customer_id)
        if not ids:
            continue
        position = bisect.bisect_left(times[purchase.customer_id], purchase.occurred_at) - 1
        if position < 0:
            continue
        index = ids[position]
        if purchase.occurred_at > grouped[index].decided_at + window:
            continue
        converted.add(index)
        revenue[index] += purchase.amount

    contacts: Counter[str] = Counter()
    conversions: Counter[str] = Counter()
    amounts: dict[str, float] = defaultdict(float)
    maturing = 0
    for index, d in enumerate(grouped):
        if as_of is not None and d.decided_at + window > as_of:
            maturing += 1
            continue
        contacts[d.outcome] += 1
        conversions[d.outcome] += index in converted
        amounts[d.outcome] += revenue.get(index, 0.0)
    treatment = _group(contacts["sent"], conversions["sent"], amounts["sent"])
    control = _group(contacts["held_out"], conversions["held_out"], amounts["held_out"])

    absolute = relative = low = high = p_value = rpc_lift = incr_conv = incr_rev = None
    _z(confidence)  # validates confidence even when there is nothing to compare
    if treatment.conversion_rate is not None and control.conversion_rate is not None:
        n1, x1, n2, x2 = treatment.contacts, treatment.conversions, control.contacts, control.conversions
        absolute = treatment.conversion_rate - control.conversion_rate
        relative = absolute / control.conversion_rate if control.conversion_rate > 0 else None
        low, high = newcombe_interval(x1, n1, x2, n2, confidence)
        p_value = two_proportion_p_value(x1, n1, x2, n2)
        rpc_lift = treatment.revenue / n1 - control.revenue / n2
        incr_conv = absolute * n1
        incr_rev = rpc_lift * n1

    return CampaignReport(
        campaign_id=campaign_id,
        attribution_window_days=attribution_window_days,
        as_of=as_of,
        decisions=len(mine),
        sent=outcomes["sent"],
        held_out=outcomes["held_out"],
        deferred=outcomes["deferred"],
        skipped=dict(sorted(skipped.items())),
        queued=outcomes["queued"],
        failed=dict(sorted(failed.items())),
        maturing=maturing,
        treatment=treatment,
        control=control,
        absolute_lift=absolute,
        relative_lift=relative,
        confidence=confidence,
        lift_ci_low=low,
        lift_ci_high=high,
        p_value=p_value,
        significant=low is not None and high is not None and (low > 0.0 or high < 0.0),
        revenue_per_contact_lift=rpc_lift,
        incremental_conversions=incr_conv,
        incremental_revenue=incr_rev,
    )
