"""Pareto share: exact definition, ties and rounding, and the mergeable-summary version."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.scoring.distribution import DistributionSummary
from shared.scoring.pareto import pareto_share, pareto_share_from_summary


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [
        ([100.0] + [0.0] * 9, 1.0),
        ([10.0] * 10, 0.2),
        ([5.0, 3.0, 2.0], 0.6 * 5.0 / 10.0),  # 0.6 customers: a fraction of the top one
        ([8.0, 4.0, 4.0, 4.0, 4.0, 1.0, 1.0, 1.0, 1.0, 2.0], (8.0 + 4.0) / 30.0),  # ties at the boundary
        ([50.0, -20.0, 50.0, 0.0, 0.0], 50.0 / 100.0),  # negative revenue counts as 0
    ],
)
def test_pareto_share_examples(revenue: list[float], expected: float) -> None:
    assert pareto_share(revenue) == pytest.approx(expected)


def test_pareto_share_is_none_without_revenue() -> None:
    assert pareto_share([]) is None
    assert pareto_share([0.0, 0.0]) is None
    summary = DistributionSummary("log")
    assert pareto_share_from_summary(summary) is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e5), min_size=1, max_size=200), st.integers(0, 2**31))
def test_share_is_order_independent_and_between_fraction_and_one(revenue: list[float], seed: int) -> None:
    values = np.asarray(revenue)
    share = pareto_share(values)
    if values.sum() <= 0:
        assert share is None
        return
    assert share is not None
    assert 0.2 - 1e-12 <= share <= 1.0
    assert pareto_share(np.random.default_rng(seed).permutation(values)) == pytest.approx(share, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1e5), min_size=1, max_size=300), st.integers(1, 5))
def test_summary_share_is_within_the_relative_accuracy(revenue: list[float], n_parts: int) -> None:
    values = np.asarray(revenue)
    acc = 1e-3
    parts = np.array_split(values, n_parts)
    merged = DistributionSummary("log", acc)
    for p in parts:
        merged = merged.merge(DistributionSummary("log", acc).add(p))
    exact = pareto_share(values)
    approx = pareto_share_from_summary(merged)
    if exact is None:
        assert approx is None
    else:
        assert approx == pytest.approx(exact, rel=2 * acc, abs=1e-12)


def test_rejects_a_bad_fraction() -> None:
    with pytest.raises(ValueError, match="top_fraction"):
        pareto_share([1.0], top_fraction=0.0)
