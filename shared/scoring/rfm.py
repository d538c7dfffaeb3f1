"""RFM quintile scores and the named R x FM segments.

Scores 1..5 are given to customers with at least one purchase:

* **R** (recency): days since the last purchase; *fewer* days score higher.
* **F** (frequency): number of purchases.
* **M** (monetary): the spend array the caller gives (the engine passes total spend).

Breakpoints are global: each partition of the customer base builds a mergeable
:class:`~shared.scoring.distribution.DistributionSummary` per dimension (exact integer histograms for
recency and frequency, a 0.1 % log-binned histogram for money), the summaries are merged, and
:meth:`RfmBreakpoints.from_summaries` derives the breakpoints.

The quintile rule (:mod:`shared.scoring.distribution`): score = 1 + the number of the 20/40/60/80th
percentile breakpoints the value exceeds (recency inverted). Ties get equal scores (the score of the tie's
lowest member, so e.g. all one-time buyers get F = 1); scores are monotone in each input and independent of
the order of customers; a population with a single distinct value (all equal, or one customer) scores 3
(no information: neutral); an empty population gives breakpoints that score everyone 3; small populations
of distinct values score 1, 3 (two customers), 1, 2, 4 (three) and 1, 2, 3, 4 (four).

Segments
--------
``FM = floor((F + M) / 2)``: the mean of F and M rounded down (FM 5 needs both F and M at 5). The
segment is read from this R x FM grid: the widely used R x F segment map (``5[4-5]`` Champions,
``[3-4][4-5]`` Loyal, ``[4-5][2-3]`` Potential loyalist, ``51`` New customers, ``41`` Promising, ``33``
Need attention, ``3[1-2]`` About to sleep, ``[1-2][3-4]`` At risk, ``[1-2]5`` Can't lose them) applied to
FM, with its low-low corner ``[1-2][1-2]`` split into Hibernating (R = 2) and Lost (R = 1), which gives
the usual 11 segments::

    FM \\ R   1                2                3                4                    5
    5        Can't lose them  Can't lose them  Loyal            Loyal                Champions
    4        At risk          At risk          Loyal            Loyal                Champions
    3        At risk          At risk          Need attention   Potential loyalist   Potential loyalist
    2        Lost             Hibernating      About to sleep   Potential loyalist   Potential loyalist
    1        Lost             Hibernating      About to sleep   Promising            New customers

The same grid is the data table :data:`SEGMENT_GRID` below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from shared.scoring.distribution import (
    DEFAULT_RELATIVE_ACCURACY,
    DistributionSummary,
    QuintileBreakpoints,
)
from shared.scoring.segment_names import (
    ABOUT_TO_SLEEP,
    AT_RISK,
    CANT_LOSE_THEM,
    CHAMPIONS,
    HIBERNATING,
    LOST,
    LOYAL,
    NEED_ATTENTION,
    NEW_CUSTOMERS,
    POTENTIAL_LOYALIST,
    PROMISING,
    SEGMENTS,
)

__all__ = [
    "SEGMENTS",
    "SEGMENT_GRID",
    "DistributionSummary",
    "QuintileBreakpoints",
    "RfmBreakpoints",
    "RfmSummary",
    "fm_score",
    "score_population",
    "segment_for",
]

# SEGMENT_GRID[fm - 1][r - 1]: rows FM = 1..5 (bottom to top of the docstring table), columns R = 1..5.
SEGMENT_GRID: tuple[tuple[str, str, str, str, str], ...] = (
    (LOST, HIBERNATING, ABOUT_TO_SLEEP, PROMISING, NEW_CUSTOMERS),  # FM = 1
    (LOST, HIBERNATING, ABOUT_TO_SLEEP, POTENTIAL_LOYALIST, POTENTIAL_LOYALIST),  # FM = 2
    (AT_RISK, AT_RISK, NEED_ATTENTION, POTENTIAL_LOYALIST, POTENTIAL_LOYALIST),  # FM = 3
    (AT_RISK, AT_RISK, LOYAL, LOYAL, CHAMPIONS),  # FM = 4
    (CANT_LOSE_THEM, CANT_LOSE_THEM, LOYAL, LOYAL, CHAMPIONS),  # FM = 5
)

_GRID_ARRAY: NDArray[np.object_] = np.array(SEGMENT_GRID, dtype=object)


def fm_score(frequency_score: ArrayLike, monetary_score: ArrayLike) -> NDArray[np.int8]:
    """``FM = floor((F + M) / 2)``: the mean of F and M, rounded down (1..5)."""
    f = np.asarray(frequency_score, dtype=np.int64)
    m = np.asarray(monetary_score, dtype=np.int64)
    return ((f + m) // 2).astype(np.int8)


def segment_for(r: ArrayLike, fm: ArrayLike) -> NDArray[np.object_]:
    """Segment names for R and FM scores (1..5 each; arrays broadcast), from :data:`SEGMENT_GRID`."""
    r_arr = np.asarray(r, dtype=np.int64)
    fm_arr = np.asarray(fm, dtype=np.int64)
    if r_arr.size and (r_arr.min() < 1 or r_arr.max() > 5):
        raise ValueError("R scores must be in 1..5")
    if fm_arr.size and (fm_arr.min() < 1 or fm_arr.max() > 5):
        raise ValueError("FM scores must be in 1..5")
    out: NDArray[np.object_] = _GRID_ARRAY[fm_arr - 1, r_arr - 1]
    return out


@dataclass
class RfmSummary:
    """The three mergeable summaries of one partition of customers (with at least one purchase)."""

    recency: DistributionSummary
    frequency: DistributionSummary
    monetary: DistributionSummary

    @classmethod
    def empty(cls, money_relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY) -> RfmSummary:
        return cls(
            recency=DistributionSummary("exact"),
            frequency=DistributionSummary("exact"),
            monetary=DistributionSummary("log", money_relative_accuracy),
        )

    def add(self, recency_days: ArrayLike, frequency: ArrayLike, monetary: ArrayLike) -> RfmSummary:
        self.recency.add(recency_days)
        self.frequency.add(frequency)
        self.monetary.add(monetary)
        return self

    def merge(self, other: RfmSummary) -> RfmSummary:
        return RfmSummary(
            recency=self.recency.merge(other.recency),
            frequency=self.frequency.merge(other.frequency),
            monetary=self.monetary.merge(other.monetary),
        )

    def breakpoints(self) -> RfmBreakpoints:
        return RfmBreakpoints.from_summaries(self.recency, self.frequency, self.monetary)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recency": self.recency.to_dict(),
            "frequency": self.frequency.to_dict(),
            "monetary": self.monetary.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RfmSummary:
        return cls(
            recency=DistributionSummary.from_dict(data["recency"]),
            frequency=DistributionSummary.from_dict(data["frequency"]),
            monetary=DistributionSummary.from_dict(data["monetary"]),
        )


@dataclass(frozen=True)
class RfmBreakpoints:
    """Global breakpoints of the three dimensions (recency descending: fewer days score higher)."""

    recency: QuintileBreakpoints
    frequency: QuintileBreakpoints
    monetary: QuintileBreakpoints

    @classmethod
    def from_summaries(
        cls, recency: DistributionSummary, frequency: DistributionSummary, monetary: DistributionSummary
    ) -> RfmBreakpoints:
        return cls(
            recency=recency.quintile_breakpoints(descending=True),
            frequency=frequency.quintile_breakpoints(),
            monetary=monetary.quintile_breakpoints(),
        )

    def score(
        self, recency_days: ArrayLike, frequency: ArrayLike, monetary: ArrayLike
    ) -> tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.int8]]:
        """R, F and M scores (1..5) of customers, vectorised."""
        return (
            self.recency.score(recency_days),
            self.frequency.score(frequency),
            self.monetary.score(monetary),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "recency": self.recency.to_dict(),
            "frequency": self.frequency.to_dict(),
            "monetary": self.monetary.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RfmBreakpoints:
        return cls(
            recency=QuintileBreakpoints.from_dict(data["recency"]),
            frequency=QuintileBreakpoints.from_dict(data["frequency"]),
            monetary=QuintileBreakpoints.from_dict(data["monetary"]),
        )


def score_population(
    recency_days: ArrayLike,
    frequency: ArrayLike,
    monetary: ArrayLike,
    *,
    money_relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
) -> tuple[NDArray[np.int8], NDArray[np.int8], NDArray[np.int8]]:
    """R, F, M scores of one whole population (summary and breakpoints built from the same arrays)."""
    summary = RfmSummary.empty(money_relative_accuracy).add(recency_days, frequency, monetary)
    return summary.breakpoints().score(recency_days, frequency, monetary)
