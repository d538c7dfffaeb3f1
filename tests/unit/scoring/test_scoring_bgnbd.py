"""BG/NBD: published CDNOW estimates, summary from raw transactions, recovery on simulations, predictions."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pytest

from shared.scoring import bgnbd
from shared.scoring.bgnbd import (
    BgNbdParams,
    BgNbdStats,
    FitError,
    discounted_expected_purchases,
    expected_purchases,
    fit_bgnbd,
    log_likelihood,
    p_alive,
)
from shared.scoring.transactions import frame_from_transactions

PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LOGLIK = -9582.4
CDNOW_PARAMS = BgNbdParams(r=0.2426, alpha=4.4136, a=0.7929, b=2.4258)


def _assert_published(params: BgNbdParams) -> None:
    for name, value in PUBLISHED.items():
        assert getattr(params, name) == pytest.approx(value, rel=0.005), name
    assert params.loglik == pytest.approx(PUBLISHED_LOGLIK, abs=0.5)


def test_fit_reproduces_the_published_cdnow_estimates(cdnow_summary: Any) -> None:
    params = fit_bgnbd(cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary.T)
    _assert_published(params)
    assert params.n_customers == 2357
    # The reported log-likelihood is the sum of the per-customer terms at the estimate.
    total = log_likelihood(params, cdnow_summary.frequency, cdnow_summary.recency, cdnow_summary.T).sum()
    assert params.loglik == pytest.approx(total, rel=1e-9)


def _calibration_weeks(tx: Any, end_date: date) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    frame = frame_from_transactions(tx.id, tx.date, tx.amount, as_of=end_date)
    end = np.datetime64(end_date, "D")
    x = frame.purchase_days - 1
    t_x = (frame.last_purchase - frame.first_purchase).astype(np.int64) / 7.0
    big_t = (end - frame.first_purchase).astype(np.int64) / 7.0
    ids = frame.customer_id.astype(np.int64)
    return ids, x.astype(np.float64), t_x, big_t


def test_summary_built_from_raw_transactions_matches_the_published_csv(
    cdnow_transactions: Any, cdnow_summary: Any, cdnow_calibration_end: date
) -> None:
    ids, x, t_x, big_t = _calibration_weeks(cdnow_transactions, cdnow_calibration_end)
    order = np.argsort(ids)
    ids, x, t_x, big_t = ids[order], x[order], t_x[order], big_t[order]
    np.testing.assert_array_equal(ids, cdnow_summary.id)
    np.testing.assert_array_equal(x, cdnow_summary.frequency)
    # The CSV rounds weeks to two decimals.
    assert np.max(np.abs(t_x - cdnow_summary.recency)) <= 0.005 + 1e-9
    assert np.max(np.abs(big_t - cdnow_summary.T)) <= 0.005 + 1e-9
    assert int((x > 0).sum()) == 946


def test_stats_from_raw_transactions_fit_the_published_estimates(
    cdnow_transactions: Any, cdnow_calibration_end: date
) -> None:
    tx = cdnow_transactions
    frame = frame_from_transactions(tx.id, tx.date, tx.amount, as_of=cdnow_calibration_end)
    end = np.datetime64(cdnow_calibration_end, "D")
    t_x_days = (frame.last_purchase - frame.first_purchase).astype(np.int64)
    big_t_days = (end - frame.first_purchase).astype(np.int64)
    x = frame.purchase_days - 1
    # Four partitions, merged through JSON, then one global fit.
    parts = np.array_split(np.random.default_rng(0).permutation(len(frame)), 4)
    merged = BgNbdStats()
    for p in parts:
        part = BgNbdStats().add(x[p], t_x_days[p], big_t_days[p])
        merged = merged.merge(BgNbdStats.from_dict(json.loads(json.dumps(part.to_dict()))))
    assert merged.n_customers == 2357
    assert merged.n_repeat_customers == 946
    whole = BgNbdStats().add(x, t_x_days, big_t_days)
    np.testing.assert_array_equal(merged.count, whole.count)
    np.testing.assert_array_equal(merged.T, whole.T)
    _assert_published(merged.fit())


def test_analytic_gradient_matches_finite_differences(cdnow_summary: Any) -> None:
    s = cdnow_summary
    g = bgnbd._group(s.frequency, s.recency, s.T, np.ones_like(s.T))
    for theta in (np.log([0.3, 4.0, 0.8, 2.4]), np.log([1.0, 2.0, 0.5, 3.0]), np.log([2.0, 10.0, 1.5, 0.7])):
        grad = bgnbd._neg_mean_loglik(theta, g)[1]
        h = 1e-6
        central = [
            (bgnbd._neg_mean_loglik(theta + e, g)[0] - bgnbd._neg_mean_loglik(theta - e, g)[0]) / (2 * h)
            for e in np.eye(4) * h
        ]
        np.testing.assert_allclose(grad, central, rtol=1e-5, atol=1e-6)


def test_fit_recovers_parameters_of_simulated_data(bgnbd_simulator: Callable[..., Any]) -> None:
    true = {"r": 0.8, "alpha": 6.0, "a": 0.6, "b": 2.5}
    rng = np.random.default_rng(20240501)
    sample = bgnbd_simulator(rng, rng.uniform(26.0, 52.0, 20_000), **true)
    params = fit_bgnbd(sample.x, sample.t_x, sample.T)
    for name, value in true.items():
        assert getattr(params, name) == pytest.approx(value, rel=0.15), name


def test_predictions_agree_with_simulated_future(bgnbd_simulator: Callable[..., Any]) -> None:
    """Law of total expectation: summed conditional predictions match what the simulated customers do."""
    true = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.4}
    rng = np.random.default_rng(99)
    sample = bgnbd_simulator(rng, rng.uniform(10.0, 60.0, 60_000), horizon=26.0, **true)
    params = BgNbdParams(**true)
    predicted = expected_purchases(params, 26.0, sample.x, sample.t_x, sample.T).sum()
    assert predicted == pytest.approx(sample.future.sum(), rel=0.04)
    alive = p_alive(params, sample.x, sample.t_x, sample.T).sum()
    assert alive == pytest.approx(sample.alive_at_T.sum(), rel=0.02)


def test_p_alive_is_a_probability_and_one_without_repeat_purchases(cdnow_summary: Any) -> None:
    s = cdnow_summary
    pa = CDNOW_PARAMS.p_alive(s.frequency, s.recency, s.T)
    assert np.all((pa >= 0) & (pa <= 1))
    np.testing.assert_array_equal(pa[s.frequency == 0], 1.0)
    assert np.all(pa[s.frequency > 0] < 1)
    # A longer silence since the last purchase makes being alive less likely.
    assert CDNOW_PARAMS.p_alive(3, 10.0, 38.0)[()] < CDNOW_PARAMS.p_alive(3, 30.0, 38.0)[()]


def test_expected_purchases_is_monotone_in_the_horizon(cdnow_summary: Any) -> None:
    s = cdnow_summary
    horizons = np.array([0.0, 1.0, 4.0, 13.0, 26.0, 39.0, 52.0, 104.0, 520.0])
    grid = expected_purchases(
        CDNOW_PARAMS, horizons[None, :], s.frequency[:, None], s.recency[:, None], s.T[:, None]
    )
    assert grid.shape == (s.T.size, horizons.size)
    assert np.all(np.isfinite(grid))
    np.testing.assert_array_equal(grid[:, 0], 0.0)
    assert np.all(np.diff(grid, axis=1) > 0)


def test_expected_purchases_near_a_equal_one_is_continuous() -> None:
    near = [BgNbdParams(r=0.5, alpha=4.0, a=a, b=2.0) for a in (1.0 - 2e-3, 1.0, 1.0 + 2e-3)]
    values = [expected_purchases(p, 20.0, 3.0, 15.0, 30.0)[()] for p in near]
    assert np.all(np.isfinite(values))
    assert values[1] == pytest.approx(0.5 * (values[0] + values[2]), rel=1e-3)


def test_discounted_expected_purchases_matches_the_month_by_month_loop(cdnow_summary: Any) -> None:
    s = cdnow_summary
    months, rate, wpm = 12, 0.01, 4.345
    got = discounted_expected_purchases(
        CDNOW_PARAMS,
        s.frequency,
        s.recency,
        s.T,
        months=months,
        monthly_discount_rate=rate,
        weeks_per_month=wpm,
    )
    # lifetimes' customer_lifetime_value loop, without the spend factor.
    want = np.zeros_like(s.T)
    for i in range(1, months + 1):
        now = expected_purchases(CDNOW_PARAMS, i * wpm, s.frequency, s.recency, s.T)
        before = expected_purchases(CDNOW_PARAMS, (i - 1) * wpm, s.frequency, s.recency, s.T)
        want += (now - before) / (1 + rate) ** i
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    zero = discounted_expected_purchases(
        CDNOW_PARAMS, s.frequency, s.recency, s.T, months=0, monthly_discount_rate=rate
    )
    np.testing.assert_array_equal(zero, 0.0)


def test_stats_round_to_the_resolution_and_validate_input() -> None:
    stats = BgNbdStats(resolution_days=7).add([0, 2, 2], [0, 13, 15], [20, 30, 28])
    assert stats.t_x.tolist() == [0, 2]
    assert stats.T.tolist() == [3, 4]
    assert stats.count.tolist() == [1, 2]
    with pytest.raises(ValueError, match="t_x <= T"):
        BgNbdStats().add([1], [10], [5])
    with pytest.raises(ValueError, match="resolution"):
        BgNbdStats(resolution_days=1).merge(BgNbdStats(resolution_days=7))


def test_fit_without_data_raises_fit_error() -> None:
    with pytest.raises(FitError):
        fit_bgnbd([], [], [])
    with pytest.raises(FitError):
        BgNbdStats().fit()


def test_params_json_round_trip() -> None:
    p = BgNbdParams(r=0.2, alpha=4.0, a=0.8, b=2.5, loglik=-100.0, n_customers=10)
    assert BgNbdParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p


@pytest.mark.parametrize(
    "params",
    [CDNOW_PARAMS, BgNbdParams(r=2.0, alpha=1.0, a=0.3, b=8.0), BgNbdParams(r=0.5, alpha=4.0, a=3.0, b=2.0)],
)
def test_closed_form_agrees_with_the_integral_over_the_dropout_probability(params: BgNbdParams) -> None:
    """Eq. 10 (hyp2f1) against E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p], p ~ Beta(a, b+x), by quadrature."""
    x = np.repeat([0.0, 1.0, 5.0, 20.0], 12)
    big_t = np.tile(np.repeat([1.0, 30.0, 100.0], 4), 4)
    t = np.tile([1.0, 13.0, 52.0, 104.0], 12)
    closed = bgnbd._growth(params, t, x, big_t)
    integral = bgnbd._growth_quadrature(params, t, x, big_t)
    np.testing.assert_allclose(integral, closed, rtol=1e-7)


def test_extreme_parameters_still_predict_the_poisson_limit() -> None:
    """A small data set can fit at the edge (r, alpha -> inf: one rate; a -> 0, b -> inf: no dropout), where
    scipy's hyp2f1 gives NaN; the prediction must then be the Poisson limit rate r / alpha per week."""
    params = BgNbdParams(r=3.411e6, alpha=4.513e7, a=0.0009489, b=5640.0)
    t = np.array([4.345, 13.0, 52.0])
    got = expected_purchases(params, t, 3.0, 20.0, 40.0)
    np.testing.assert_allclose(got, params.r / params.alpha * t, rtol=1e-4)
    dep = discounted_expected_purchases(
        params, [0.0, 3.0], [0.0, 20.0], [30.0, 40.0], months=12, monthly_discount_rate=0.0
    )
    np.testing.assert_allclose(dep, params.r / params.alpha * 12 * 4.345, rtol=1e-4)
