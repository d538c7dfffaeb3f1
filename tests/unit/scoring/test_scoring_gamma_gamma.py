"""Gamma-Gamma: published CDNOW estimates, recovery on simulated data, mergeable statistics, CLV."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pytest

from shared.scoring import gamma_gamma
from shared.scoring.bgnbd import BgNbdParams, expected_purchases
from shared.scoring.gamma_gamma import (
    FitError,
    GammaGammaParams,
    GammaGammaStats,
    clv,
    fit_gamma_gamma,
    log_likelihood,
)


def _cdnow_repeat_spend(tx: Any, end_date: date) -> tuple[np.ndarray, np.ndarray]:
    """lifetimes' convention: per customer, the repeat frequency and the mean value of the repeat purchases
    in the calibration period (same-day transactions summed into one purchase, the first day excluded)."""
    keep = tx.date <= np.datetime64(end_date, "D")
    ids, days, amounts = tx.id[keep], tx.date[keep].astype(np.int64), tx.amount[keep]
    key = ids * 100_000 + (days - days.min())
    uniq, inverse = np.unique(key, return_inverse=True)
    day_amount = np.bincount(inverse, weights=amounts)
    cust = uniq // 100_000
    first_of_customer = np.r_[True, cust[1:] != cust[:-1]]  # uniq is sorted by customer, then day
    repeat = ~first_of_customer
    customers, n = np.unique(cust[repeat], return_counts=True)
    totals = np.bincount(np.searchsorted(customers, cust[repeat]), weights=day_amount[repeat])
    return n.astype(np.float64), totals / n


def test_fit_reproduces_the_published_cdnow_estimates(
    cdnow_transactions: Any, cdnow_calibration_end: date
) -> None:
    frequency, mean_value = _cdnow_repeat_spend(cdnow_transactions, cdnow_calibration_end)
    assert frequency.size == 946
    assert mean_value.mean() == pytest.approx(35.08, abs=0.01)
    params = fit_gamma_gamma(frequency, mean_value)
    assert params.p == pytest.approx(6.25, rel=0.005)
    assert params.q == pytest.approx(3.74, rel=0.005)
    assert params.v == pytest.approx(15.44, rel=0.005)
    assert params.n_customers == 946
    assert params.loglik == pytest.approx(log_likelihood(params, frequency, mean_value).sum(), rel=1e-9)
    # The binned, mergeable statistics give the same fit (only ln(v + n m) uses the bin representative).
    parts = np.array_split(np.arange(frequency.size), 3)
    stats = GammaGammaStats()
    for p in parts:
        part = GammaGammaStats().add(frequency[p].astype(np.int64), mean_value[p])
        stats = stats.merge(GammaGammaStats.from_dict(json.loads(json.dumps(part.to_dict()))))
    binned = stats.fit()
    for name in ("p", "q", "v"):
        assert getattr(binned, name) == pytest.approx(getattr(params, name), rel=2e-3), name


def test_fit_recovers_parameters_of_simulated_data(gamma_gamma_simulator: Callable[..., np.ndarray]) -> None:
    true = {"p": 6.0, "q": 4.0, "v": 15.0}
    rng = np.random.default_rng(11)
    n = rng.integers(1, 8, 20_000)
    m = gamma_gamma_simulator(rng, n, **true)
    params = fit_gamma_gamma(n, m)
    for name, value in true.items():
        assert getattr(params, name) == pytest.approx(value, rel=0.15), name
    # The population mean spend p v / (q - 1) is much better determined than p, q, v one by one.
    assert params.population_mean == pytest.approx(6.0 * 15.0 / 3.0, rel=0.03)


def test_analytic_gradient_matches_finite_differences(
    gamma_gamma_simulator: Callable[..., np.ndarray],
) -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(1, 6, 500).astype(np.float64)
    m = gamma_gamma_simulator(rng, n.astype(np.int64), 4.0, 3.0, 20.0)
    g = gamma_gamma._group(n, m, np.ones_like(n), np.log(m))
    for theta in (np.log([4.0, 3.0, 20.0]), np.log([1.0, 1.0, 1.0]), np.log([10.0, 2.0, 50.0])):
        grad = gamma_gamma._neg_mean_loglik(theta, g)[1]
        h = 1e-6
        central = [
            (gamma_gamma._neg_mean_loglik(theta + e, g)[0] - gamma_gamma._neg_mean_loglik(theta - e, g)[0])
            / (2 * h)
            for e in np.eye(3) * h
        ]
        np.testing.assert_allclose(grad, central, rtol=1e-5, atol=1e-6)


def test_expected_average_value_shrinks_towards_the_population_mean() -> None:
    params = GammaGammaParams(p=6.0, q=4.0, v=15.0)
    mean = params.population_mean
    assert mean == pytest.approx(30.0)
    n = np.array([1, 1, 5, 5, 50])
    m = np.array([10.0, 80.0, 10.0, 80.0, 80.0])
    ev = params.expected_average_value(n, m)
    # Between the customer's own mean and the population mean, closer to the own mean with more purchases.
    assert np.all((ev - m) * (ev - mean) <= 0)
    assert abs(ev[2] - 10.0) < abs(ev[0] - 10.0)
    assert abs(ev[3] - 80.0) < abs(ev[1] - 80.0)
    assert abs(ev[4] - 80.0) < abs(ev[3] - 80.0)
    # No purchase: the population mean; undefined combination: NaN.
    assert params.expected_average_value(0, 0.0)[()] == pytest.approx(mean)
    assert np.isnan(GammaGammaParams(p=0.5, q=0.8, v=1.0).expected_average_value(0, 5.0)[()])


def test_stats_skip_non_positive_spend_and_validate() -> None:
    stats = GammaGammaStats().add([1, 2, 3], [10.0, 0.0, -5.0])
    assert stats.n_customers == 1
    assert stats.skipped == 2
    with pytest.raises(ValueError, match=">= 1"):
        GammaGammaStats().add([0], [10.0])
    with pytest.raises(ValueError, match="accuracies"):
        GammaGammaStats(relative_accuracy=1e-3).merge(GammaGammaStats(relative_accuracy=1e-2))
    with pytest.raises(FitError):
        GammaGammaStats().fit()
    with pytest.raises(FitError):
        fit_gamma_gamma([0, 1], [10.0, -1.0])


def test_clv_is_the_discounted_monthly_sum(cdnow_summary: Any) -> None:
    s = cdnow_summary
    bg = BgNbdParams(r=0.2426, alpha=4.4136, a=0.7929, b=2.4258)
    value = np.linspace(10.0, 60.0, s.T.size)
    got = clv(
        bg, s.frequency, s.recency, s.T, value, months=6, monthly_discount_rate=0.02, weeks_per_month=4.345
    )
    want = np.zeros_like(value)
    for i in range(1, 7):
        step = expected_purchases(bg, i * 4.345, s.frequency, s.recency, s.T) - expected_purchases(
            bg, (i - 1) * 4.345, s.frequency, s.recency, s.T
        )
        want += value * step / 1.02**i
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert np.all(got > 0)
    # No discount and a longer horizon are worth more.
    undiscounted = clv(bg, s.frequency, s.recency, s.T, value, months=6, monthly_discount_rate=0.0)
    longer = clv(bg, s.frequency, s.recency, s.T, value, months=12, monthly_discount_rate=0.02)
    assert np.all(undiscounted > got)
    assert np.all(longer > got)


def test_params_json_round_trip() -> None:
    p = GammaGammaParams(p=6.0, q=4.0, v=15.0, loglik=-10.0, n_customers=3)
    assert GammaGammaParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p
