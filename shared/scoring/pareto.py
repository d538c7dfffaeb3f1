"""Share of revenue that comes from the top customers (the "80/20" check).

Definition: the population is the customers with at least one purchase; negative revenues count as 0.
Sort them by revenue, highest first, and take exactly ``top_fraction * n`` customers — when that is not a
whole number the boundary customer counts with the fractional part (linear interpolation). The share is
that revenue over the total. Ties do not matter: tied customers have the same revenue, so whichever of them
is taken the sum is the same. No customers, or a total revenue of 0, gives ``None``.

:func:`pareto_share_from_summary` computes the same figure from a merged log-binned
:class:`~shared.scoring.distribution.DistributionSummary` of revenue (counts and exact sums per bin): whole
bins are exact, and only the boundary bin is apportioned by its mean, whose values are within the summary's
``relative_accuracy`` of each other, so the result is within that relative accuracy of the exact share.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from shared.scoring.distribution import DistributionSummary

__all__ = ["DEFAULT_TOP_FRACTION", "pareto_share", "pareto_share_from_summary"]

DEFAULT_TOP_FRACTION = 0.2


def _check_fraction(top_fraction: float) -> None:
    if not 0.0 < top_fraction <= 1.0:
        raise ValueError("top_fraction must be in (0, 1]")


def pareto_share(revenue: ArrayLike, top_fraction: float = DEFAULT_TOP_FRACTION) -> float | None:
    """Exact share of revenue from the top ``top_fraction`` of customers (module docstring)."""
    _check_fraction(top_fraction)
    values = np.clip(np.asarray(revenue, dtype=np.float64).ravel(), 0.0, None)
    total = float(values.sum())
    if values.size == 0 or total <= 0 or not math.isfinite(total):
        return None
    desc = np.sort(values)[::-1] / total  # shares of the total (no underflow for tiny amounts)
    take = top_fraction * values.size
    whole = math.floor(take)
    top = float(desc[:whole].sum())
    if whole < values.size:
        top += (take - whole) * float(desc[whole])
    return min(top, 1.0)


def pareto_share_from_summary(
    summary: DistributionSummary, top_fraction: float = DEFAULT_TOP_FRACTION
) -> float | None:
    """The share from a (merged) summary of revenue; exact up to the boundary bin (module docstring)."""
    _check_fraction(top_fraction)
    counts = summary.counts[::-1].astype(np.float64)  # highest bin first
    sums = np.clip(summary.sums[::-1], 0.0, None)
    n = float(counts.sum())
    total = float(sums.sum())
    if n == 0 or total <= 0 or not math.isfinite(total):
        return None
    shares = sums / total
    take = top_fraction * n
    cum = np.cumsum(counts)
    full = int(np.searchsorted(cum, take, side="right"))  # bins wholly inside the top
    top = float(shares[:full].sum())
    if full < counts.size:
        taken_before = float(cum[full - 1]) if full > 0 else 0.0
        top += (take - taken_before) / counts[full] * float(shares[full])
    return min(top, 1.0)
