"""RFM quintile scores, mergeable distribution summaries and the R x FM segment grid."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.scoring.distribution import DistributionSummary, QuintileBreakpoints, quantise
from shared.scoring.rfm import (
    SEGMENT_GRID,
    SEGMENTS,
    RfmBreakpoints,
    RfmSummary,
    fm_score,
    score_population,
    segment_for,
)

days = st.integers(min_value=0, max_value=3000)
counts = st.integers(min_value=1, max_value=200)
money = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def populations(
    draw: st.DrawFn, min_size: int = 0, max_size: int = 60
) -> tuple[list[int], list[int], list[float]]:
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    # Small value pools make ties likely, large ones make them rare.
    r_pool = draw(st.sampled_from([3, 30, 3000]))
    f_pool = draw(st.sampled_from([2, 5, 200]))
    rec = draw(st.lists(st.integers(0, r_pool), min_size=n, max_size=n))
    freq = draw(st.lists(st.integers(1, f_pool), min_size=n, max_size=n))
    mon = draw(st.lists(money, min_size=n, max_size=n))
    return rec, freq, mon


def _is_sorted(a: np.ndarray) -> bool:
    return bool(np.all(np.diff(a.astype(np.int64)) >= 0))


@settings(max_examples=150, deadline=None)
@given(populations())
def test_scores_are_in_1_to_5(pop: tuple[list[int], list[int], list[float]]) -> None:
    r, f, m = score_population(*pop)
    for s in (r, f, m):
        assert s.shape == (len(pop[0]),)
        assert s.dtype == np.int8
        if s.size:
            assert s.min() >= 1
            assert s.max() <= 5


@settings(max_examples=150, deadline=None)
@given(populations(min_size=1))
def test_scores_are_monotone_and_ties_are_equal(pop: tuple[list[int], list[int], list[float]]) -> None:
    rec, freq, mon = (np.asarray(v) for v in pop)
    r, f, m = score_population(rec, freq, mon)
    # Recency: more days never scores higher. Frequency, monetary: more never scores lower.
    order = np.argsort(rec, kind="stable")
    assert _is_sorted(-r[order])
    order = np.argsort(freq, kind="stable")
    assert _is_sorted(f[order])
    order = np.argsort(quantise(mon, "log", 1e-3), kind="stable")
    assert _is_sorted(m[order])
    for values, scores in ((rec, r), (freq, f)):
        for v in np.unique(values):
            assert np.unique(scores[values == v]).size == 1


@settings(max_examples=100, deadline=None)
@given(populations(min_size=1), st.data())
def test_scores_on_fixed_breakpoints_are_monotone_in_each_input(
    pop: tuple[list[int], list[int], list[float]], data: st.DataObject
) -> None:
    summary = RfmSummary.empty().add(*pop)
    bp = summary.breakpoints()
    d = data.draw(days)
    extra_days = data.draw(st.integers(0, 500))
    c = data.draw(counts)
    extra = data.draw(st.integers(0, 50))
    v = data.draw(money)
    factor = data.draw(st.floats(1.0, 100.0))
    assert bp.recency.score([d + extra_days])[0] <= bp.recency.score([d])[0]
    assert bp.frequency.score([c + extra])[0] >= bp.frequency.score([c])[0]
    assert bp.monetary.score([v * factor])[0] >= bp.monetary.score([v])[0]


@settings(max_examples=100, deadline=None)
@given(populations(min_size=1), st.integers(min_value=0, max_value=2**31))
def test_scores_do_not_depend_on_customer_order(
    pop: tuple[list[int], list[int], list[float]], seed: int
) -> None:
    rec, freq, mon = (np.asarray(v) for v in pop)
    perm = np.random.default_rng(seed).permutation(len(rec))
    r1, f1, m1 = score_population(rec, freq, mon)
    r2, f2, m2 = score_population(rec[perm], freq[perm], mon[perm])
    np.testing.assert_array_equal(r1[perm], r2)
    np.testing.assert_array_equal(f1[perm], f2)
    np.testing.assert_array_equal(m1[perm], m2)


@settings(max_examples=100, deadline=None)
@given(populations(), st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=2**31))
def test_merged_partition_summaries_equal_the_whole(
    pop: tuple[list[int], list[int], list[float]], n_parts: int, seed: int
) -> None:
    rec, freq, mon = (np.asarray(v) for v in pop)
    whole = RfmSummary.empty().add(rec, freq, mon)
    labels = np.random.default_rng(seed).integers(0, n_parts, rec.size)
    parts = [
        RfmSummary.empty().add(rec[labels == k], freq[labels == k], mon[labels == k]) for k in range(n_parts)
    ]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    # Through JSON, as between the fan-out workers.
    merged = RfmSummary.from_dict(json.loads(json.dumps(merged.to_dict())))
    assert merged.breakpoints() == whole.breakpoints()
    for a, b in (
        (merged.recency, whole.recency),
        (merged.frequency, whole.frequency),
        (merged.monetary, whole.monetary),
    ):
        np.testing.assert_array_equal(a.keys, b.keys)
        np.testing.assert_array_equal(a.counts, b.counts)
        np.testing.assert_allclose(a.sums, b.sums, rtol=1e-12, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 4), st.integers(0, 3000), st.integers(1, 50), money)
def test_tiny_and_all_equal_populations_score_3(n: int, d: int, c: int, v: float) -> None:
    r, f, m = score_population([d] * n, [c] * n, [v] * n)
    assert r.tolist() == [3] * n
    assert f.tolist() == [3] * n
    assert m.tolist() == [3] * n


def test_empty_population_gives_breakpoints_scoring_3() -> None:
    bp = RfmSummary.empty().breakpoints()
    r, f, m = bp.score([0, 10, 1000], [1, 2, 50], [0.0, 10.0, 1e5])
    assert r.tolist() == f.tolist() == m.tolist() == [3, 3, 3]
    # Infinite sentinels survive strict JSON.
    text = json.dumps(bp.to_dict(), allow_nan=False)
    assert RfmBreakpoints.from_dict(json.loads(text)) == bp


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([7, 9], [1, 3]),
        ([7, 8, 9], [1, 2, 4]),
        ([6, 7, 8, 9], [1, 2, 3, 4]),
        ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]),
        (list(range(10)), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]),
        ([1] * 6 + [2, 2, 3, 9], [1] * 6 + [4, 4, 5, 5]),
    ],
)
def test_documented_small_population_and_tie_rules(values: list[int], expected: list[int]) -> None:
    _, f, _ = score_population([0] * len(values), values, [1.0] * len(values))
    assert f.tolist() == expected
    # Recency is the mirror image: fewer days score like more purchases.
    r, _, _ = score_population([100 - v for v in values], [1] * len(values), [1.0] * len(values))
    assert r.tolist() == expected


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 40).map(lambda k: 5 * k), st.integers(0, 2**31))
def test_distinct_values_fill_quintiles_exactly(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.permutation(n) * 3 + 1
    _, f, m = score_population(np.zeros(n), values, values * 10.0)
    assert np.bincount(f, minlength=6)[1:].tolist() == [n // 5] * 5
    assert np.bincount(m, minlength=6)[1:].tolist() == [n // 5] * 5


def test_log_summary_breakpoints_are_within_relative_accuracy() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(3.5, 1.2, 20_001)
    acc = 1e-3
    bp = DistributionSummary("log", acc).add(values).quintile_breakpoints()
    s = np.sort(values)
    n = values.size
    # Exact rule on raw values: b_k is the largest value with 5 * (number strictly below) < k n.
    exact = [s[int(np.count_nonzero(5 * np.arange(n) < k * n)) - 1] for k in range(1, 5)]
    for got, want in zip(bp.values, exact, strict=True):
        assert want <= got <= want * (1 + acc)


def test_exact_summary_rounds_and_rejects_non_finite() -> None:
    s = DistributionSummary("exact").add([1.2, 0.8, 2.0])
    assert s.keys.tolist() == [1, 2]
    assert s.counts.tolist() == [2, 1]
    with pytest.raises(ValueError, match="finite"):
        DistributionSummary("exact").add([1.0, math.nan])


def test_merge_rejects_different_accuracies() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        DistributionSummary("log", 1e-3).merge(DistributionSummary("log", 1e-2))


def test_breakpoints_json_round_trip() -> None:
    bp = QuintileBreakpoints(values=(1.0, 2.0, 3.5, 9.0), descending=True, kind="log", relative_accuracy=0.01)
    assert QuintileBreakpoints.from_dict(json.loads(json.dumps(bp.to_dict()))) == bp


def test_segment_grid_covers_the_eleven_segments() -> None:
    cells = [name for row in SEGMENT_GRID for name in row]
    assert len(SEGMENT_GRID) == 5
    assert all(len(row) == 5 for row in SEGMENT_GRID)
    assert set(cells) == set(SEGMENTS)
    assert len(SEGMENTS) == 11


@pytest.mark.parametrize(
    ("r", "fm", "segment"),
    [
        (5, 5, "Champions"),
        (5, 4, "Champions"),
        (4, 5, "Loyal"),
        (3, 4, "Loyal"),
        (5, 3, "Potential loyalist"),
        (4, 2, "Potential loyalist"),
        (5, 1, "New customers"),
        (4, 1, "Promising"),
        (3, 3, "Need attention"),
        (3, 1, "About to sleep"),
        (2, 4, "At risk"),
        (1, 3, "At risk"),
        (1, 5, "Can't lose them"),
        (2, 5, "Can't lose them"),
        (2, 2, "Hibernating"),
        (1, 1, "Lost"),
        (1, 2, "Lost"),
    ],
)
def test_segment_for_reads_the_documented_grid(r: int, fm: int, segment: str) -> None:
    assert segment_for(r, fm) == segment
    assert segment_for(np.array([r, r]), np.array([fm, fm])).tolist() == [segment, segment]


def test_segment_for_rejects_out_of_range_scores() -> None:
    with pytest.raises(ValueError, match="R scores"):
        segment_for([0], [3])
    with pytest.raises(ValueError, match="FM scores"):
        segment_for([3], [6])


def test_fm_score_is_the_mean_rounded_down() -> None:
    f = np.array([1, 1, 2, 5, 5, 4, 3])
    m = np.array([1, 2, 2, 5, 4, 5, 4])
    assert fm_score(f, m).tolist() == [1, 1, 2, 5, 4, 4, 3]
