"""Mergeable, JSON-serialisable distribution summaries and the quintile rule built on them.

The scoring run scans the customers table in parallel segments. Each segment summarises its values in a
:class:`DistributionSummary`; the summaries are merged (exactly: bin counts add) and the merged summary
gives the global quintile breakpoints, identical to those of one summary of the whole population.

Two kinds of summary:

``"exact"``
    An exact histogram of integers (day counts, purchase counts). Values are rounded to the nearest
    integer on the way in (``numpy.rint``). Quantiles are exact.
``"log"``
    A log-binned histogram for money. Bin ``k`` holds the values in ``(g**(k-1), g**k]`` with
    ``g = 1 + relative_accuracy``; values ``<= 0`` share one zero bin (edge ``0.0``). A value is
    represented by the upper edge of its bin, which is at most ``relative_accuracy`` (default 0.1 %)
    above it. Each bin also keeps the exact count and the sum of its raw values (used by the Pareto share).
    The number of bins is at most ``ln(max/min) / relative_accuracy`` (about 14,000 for $0.01 .. $10,000 at
    0.1 %), whatever the number of customers.

Quintile rule
-------------
Score = 1 + the number of the four quintile breakpoints (the 20th, 40th, 60th and 80th percentiles of the
population) that the value exceeds, recency inverted. With ``n_lt`` the number of population values
strictly below ``v`` (for recency: strictly *worse*, i.e. more days), that is
``score = 1 + min(4, floor(5 n_lt / n))``: a customer earns each extra point by being strictly better
than another fifth of the population, and a tie class gets the score of its lowest member. It is expressed
through four breakpoints ``b1 <= b2 <= b3 <= b4`` with ``score = 1 + #{k : v > b_k}`` (``b_k`` is the
largest population value scoring ``<= k``); for recency ``c1 >= .. >= c4`` and ``score = 1 + #{k : v < c_k}``.

Consequences, all by construction:

* equal values always get equal scores (the score is a function of the value only), and scores do not
  depend on the order of the customers;
* scores are monotone in the value (non-decreasing; non-increasing in days for recency);
* ``n`` distinct values with ``n`` a multiple of 5 fall exactly ``n / 5`` into each score; a heavy tie
  at the bottom (e.g. 60 % one-time buyers) all score 1;
* **no information, neutral score**: when the population has a single distinct value (all equal, or one
  customer) every value scores 3, and an empty population gives breakpoints that score every value 3;
* small populations of distinct values: two score 1, 3; three score 1, 2, 4; four score 1, 2, 3, 4.

For ``"log"`` summaries the scores are exactly those of the rule applied to the values rounded up to their
bin edge; the breakpoints are then within ``relative_accuracy`` of the breakpoints of the raw values.
Breakpoints are serialised with ``"inf"``/``"-inf"`` strings for the infinite sentinels (strict JSON).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Kind = Literal["exact", "log"]

DEFAULT_RELATIVE_ACCURACY = 1e-3
# Key of the zero bin of a "log" summary (values <= 0); far below any real bin key.
ZERO_KEY = -(2**62)
_N_QUINTILE_BREAKS = 4


def _empty_int() -> NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


def _empty_float() -> NDArray[np.float64]:
    return np.zeros(0, dtype=np.float64)


def _as_float_array(values: ArrayLike) -> NDArray[np.float64]:
    arr = np.asarray(values, dtype=np.float64).ravel()
    return arr


def quantise_keys(values: ArrayLike, kind: Kind, relative_accuracy: float) -> NDArray[np.int64]:
    """Bin keys of ``values`` (integers for ``"exact"``; log-bin indices for ``"log"``)."""
    arr = _as_float_array(values)
    if not np.all(np.isfinite(arr)):
        raise ValueError("distribution summaries accept finite values only")
    if kind == "exact":
        return np.rint(arr).astype(np.int64)
    log_gamma = math.log1p(relative_accuracy)
    keys = np.full(arr.shape, ZERO_KEY, dtype=np.int64)
    positive = arr > 0
    keys[positive] = np.ceil(np.log(arr[positive]) / log_gamma).astype(np.int64)
    return keys


def key_values(keys: NDArray[np.int64], kind: Kind, relative_accuracy: float) -> NDArray[np.float64]:
    """The value a key stands for: the integer itself, or the upper edge of the log bin (0 for zero bin)."""
    if kind == "exact":
        return keys.astype(np.float64)
    log_gamma = math.log1p(relative_accuracy)
    out = np.zeros(keys.shape, dtype=np.float64)
    nonzero = keys != ZERO_KEY
    out[nonzero] = np.exp(keys[nonzero].astype(np.float64) * log_gamma)
    return out


def quantise(values: ArrayLike, kind: Kind, relative_accuracy: float) -> NDArray[np.float64]:
    """``values`` as the summary represents them (rounded integers, or upper bin edges)."""
    return key_values(quantise_keys(values, kind, relative_accuracy), kind, relative_accuracy)


def _combine(
    keys: NDArray[np.int64], counts: NDArray[np.int64], sums: NDArray[np.float64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Sort by key and add up the rows that share a key."""
    if keys.size == 0:
        return _empty_int(), _empty_int(), _empty_float()
    uniq, inverse = np.unique(keys, return_inverse=True)
    new_counts = np.zeros(uniq.size, dtype=np.int64)
    np.add.at(new_counts, inverse, counts)
    new_sums = np.bincount(inverse, weights=sums, minlength=uniq.size).astype(np.float64)
    return uniq.astype(np.int64), new_counts, new_sums


def _float_to_json(value: float) -> float | str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _float_from_json(value: float | int | str) -> float:
    return float(value)


@dataclass
class DistributionSummary:
    """A mergeable histogram of one variable (see the module docstring for the two kinds).

    ``add`` updates the summary in place (and returns it); ``merge`` returns a new summary and leaves
    both operands unchanged. Merging requires the same ``kind`` and ``relative_accuracy``.
    """

    kind: Kind = "exact"
    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY
    keys: NDArray[np.int64] = field(default_factory=_empty_int)
    counts: NDArray[np.int64] = field(default_factory=_empty_int)
    sums: NDArray[np.float64] = field(default_factory=_empty_float)

    def __post_init__(self) -> None:
        if self.kind not in ("exact", "log"):
            raise ValueError(f"unknown summary kind {self.kind!r}")
        if not 0 < self.relative_accuracy < 1:
            raise ValueError("relative_accuracy must be in (0, 1)")
        if not (self.keys.shape == self.counts.shape == self.sums.shape):
            raise ValueError("keys, counts and sums must have the same length")

    @property
    def total_count(self) -> int:
        return int(self.counts.sum())

    @property
    def total_sum(self) -> float:
        return float(self.sums.sum())

    def add(self, values: ArrayLike) -> DistributionSummary:
        """Add values (1-D array-like of finite numbers). Returns ``self``."""
        arr = _as_float_array(values)
        if arr.size == 0:
            return self
        keys = quantise_keys(arr, self.kind, self.relative_accuracy)
        uniq, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        sums = np.bincount(inverse, weights=arr, minlength=uniq.size).astype(np.float64)
        self.keys, self.counts, self.sums = _combine(
            np.concatenate([self.keys, uniq.astype(np.int64)]),
            np.concatenate([self.counts, counts.astype(np.int64)]),
            np.concatenate([self.sums, sums]),
        )
        return self

    def _check_compatible(self, other: DistributionSummary) -> None:
        if other.kind != self.kind or other.relative_accuracy != self.relative_accuracy:
            raise ValueError(
                f"cannot merge a {other.kind}/{other.relative_accuracy} summary "
                f"into a {self.kind}/{self.relative_accuracy} summary"
            )

    def merge(self, other: DistributionSummary) -> DistributionSummary:
        """A new summary of the union of both populations."""
        self._check_compatible(other)
        keys, counts, sums = _combine(
            np.concatenate([self.keys, other.keys]),
            np.concatenate([self.counts, other.counts]),
            np.concatenate([self.sums, other.sums]),
        )
        return DistributionSummary(self.kind, self.relative_accuracy, keys, counts, sums)

    def values(self) -> NDArray[np.float64]:
        """The represented value of each bin, ascending."""
        return key_values(self.keys, self.kind, self.relative_accuracy)

    def quintile_breakpoints(self, *, descending: bool = False) -> QuintileBreakpoints:
        """Global breakpoints of the quintile rule (module docstring); ``descending`` for recency."""
        values = self.values()
        counts = self.counts
        if descending:
            values = values[::-1]
            counts = counts[::-1]
        n = int(counts.sum())
        worse = np.cumsum(counts) - counts  # population values strictly worse than each bin
        sentinel = math.inf if descending else -math.inf
        if values.size <= 1:
            # No information (empty population or a single distinct value): everyone scores 3.
            breaks = [sentinel, sentinel, -sentinel, -sentinel]
        else:
            breaks = []
            for k in range(1, _N_QUINTILE_BREAKS + 1):
                below = int(np.count_nonzero(5 * worse < k * n))  # >= 1: the worst bin has worse = 0
                breaks.append(float(values[below - 1]))
        return QuintileBreakpoints(
            values=(breaks[0], breaks[1], breaks[2], breaks[3]),
            descending=descending,
            kind=self.kind,
            relative_accuracy=self.relative_accuracy,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "relative_accuracy": self.relative_accuracy,
            "keys": self.keys.tolist(),
            "counts": self.counts.tolist(),
            "sums": self.sums.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DistributionSummary:
        kind = data["kind"]
        if kind not in ("exact", "log"):
            raise ValueError(f"unknown summary kind {kind!r}")
        return cls(
            kind=kind,
            relative_accuracy=float(data["relative_accuracy"]),
            keys=np.asarray(data["keys"], dtype=np.int64).reshape(-1),
            counts=np.asarray(data["counts"], dtype=np.int64).reshape(-1),
            sums=np.asarray(data["sums"], dtype=np.float64).reshape(-1),
        )


@dataclass(frozen=True)
class QuintileBreakpoints:
    """Four breakpoints and the direction; ``score`` maps values to 1..5 (module docstring)."""

    values: tuple[float, float, float, float]
    descending: bool = False
    kind: Kind = "exact"
    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY

    def score(self, values: ArrayLike) -> NDArray[np.int8]:
        """Scores 1..5 of ``values`` (finite numbers), vectorised."""
        v = quantise(values, self.kind, self.relative_accuracy)
        b = np.asarray(self.values, dtype=np.float64)
        if self.descending:
            # number of c_k strictly greater than v; c is non-increasing, so reverse it.
            exceeded = b.size - np.searchsorted(b[::-1], v, side="right")
        else:
            exceeded = np.searchsorted(b, v, side="left")
        return (1 + exceeded).astype(np.int8)

    def to_dict(self) -> dict[str, Any]:
        return {
            "values": [_float_to_json(v) for v in self.values],
            "descending": self.descending,
            "kind": self.kind,
            "relative_accuracy": self.relative_accuracy,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuintileBreakpoints:
        vals = [_float_from_json(v) for v in data["values"]]
        if len(vals) != _N_QUINTILE_BREAKS:
            raise ValueError("expected four breakpoints")
        kind = data["kind"]
        if kind not in ("exact", "log"):
            raise ValueError(f"unknown summary kind {kind!r}")
        return cls(
            values=(vals[0], vals[1], vals[2], vals[3]),
            descending=bool(data["descending"]),
            kind=kind,
            relative_accuracy=float(data["relative_accuracy"]),
        )
