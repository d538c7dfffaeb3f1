"""The MBG/NBD model of repeat purchasing (Batislam, Denizel & Filiztekin 2007; Wagner & Hoppe 2008;
lifetimes' ``ModifiedBetaGeoFitter``).

The BG/NBD with one change: a customer may also drop out *right after the first purchase* (a coin flip
with probability ``p ~ Beta(a, b)`` at time 0 and after every repeat purchase). So a one-time buyer is no
longer certainly alive: their P(alive) falls with the time since their first purchase, which makes churn
risk meaningful for the (often majority of) customers who bought once. Per customer (weeks)::

    ln L = ln G(r+x) - ln G(r) + r ln alpha + ln B(a, b+x+1) - ln B(a, b)
           + ln[ (alpha+T)^-(r+x) + a/(b+x) (alpha+t_x)^-(r+x) ]

    P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))

    E[N(T, T+t] | x, t_x, T] = P(alive) (a+b+x)/(a-1)
                               [1 - 2F1(r+x, b+x+1; a+b+x; z) ((alpha+T)/(alpha+T+t))^(r+x)]

with ``z = t / (alpha + T + t)``. The expectation given alive is the BG/NBD one with ``b + 1`` in place of
``b`` (the posterior of ``p`` after ``x + 1`` survived flips is ``Beta(a, b + x + 1)``), so the BG/NBD code
(closed form with its quadrature fallback) is reused with ``b + 1``. The fit shares the grouped likelihood
and analytic gradient of :mod:`.bgnbd` (``modified=True``) and the same sufficient statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import expit, gammaln

from shared.scoring._fitting import FourParams
from shared.scoring.bgnbd import (
    WEEKS_PER_MONTH,
    BgNbdParams,
    discounted_growth,
    fit_grouped_rows,
    growth_by_pairs,
)

__all__ = ["MbgNbdParams", "expected_purchases", "fit_mbgnbd", "log_likelihood", "p_alive"]


def _f64(values: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


@dataclass(frozen=True)
class MbgNbdParams(FourParams):
    """Fitted MBG/NBD parameters (weeks), total log-likelihood, standard errors."""

    def _shifted(self) -> BgNbdParams:
        """BG/NBD parameters whose expectation-given-alive equals this model's (``b + 1``)."""
        return BgNbdParams(self.r, self.alpha, self.a, self.b + 1.0)

    def p_alive(self, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
        return p_alive(self, x, t_x, T)

    def expected_purchases(
        self,
        t: ArrayLike,
        x: ArrayLike,
        t_x: ArrayLike,
        T: ArrayLike,  # noqa: N803
    ) -> NDArray[np.float64]:
        return expected_purchases(self, t, x, t_x, T)

    def discounted_expected_purchases(
        self,
        x: ArrayLike,
        t_x: ArrayLike,
        T: ArrayLike,  # noqa: N803
        *,
        months: int,
        monthly_discount_rate: float,
        weeks_per_month: float = WEEKS_PER_MONTH,
    ) -> NDArray[np.float64]:
        growth = discounted_growth(
            self._shifted(),
            x,
            T,
            months=months,
            monthly_discount_rate=monthly_discount_rate,
            weeks_per_month=weeks_per_month,
        )
        out: NDArray[np.float64] = growth * p_alive(self, x, t_x, T).ravel()
        return out


def log_likelihood(params: MbgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """Per-customer log-likelihood (weeks), broadcasting (lifetimes' ModifiedBetaGeoFitter form)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xa, txa, age_a = np.broadcast_arrays(_f64(x), _f64(t_x), _f64(T))
    a1 = gammaln(r + xa) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + xa + 1.0) - gammaln(b) - gammaln(a + b + xa + 1.0)
    a3 = -(r + xa) * np.log(alpha + age_a)
    a4 = np.log(a) - np.log(b + xa) + (r + xa) * (np.log(alpha + age_a) - np.log(alpha + txa))
    out: NDArray[np.float64] = a1 + a2 + a3 + np.logaddexp(a4, 0.0)
    return out


def fit_mbgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
    weights: ArrayLike | None = None,
) -> MbgNbdParams:
    """Maximum-likelihood MBG/NBD fit (weeks), identical rows grouped; raises ``FitError`` when impossible."""
    res = fit_grouped_rows(x, t_x, T, weights, modified=True)
    r, alpha, a, b = res.params
    return MbgNbdParams(r, alpha, a, b, res.loglik, res.n_customers, res.std_errors)


def p_alive(params: MbgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """P(alive at T | x, t_x, T): below 1 for one-time buyers too, falling with the time since they bought."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xa, txa, age_a = np.broadcast_arrays(_f64(x), _f64(t_x), _f64(T))
    log_odds_dead = np.log(a) - np.log(b + xa) + (r + xa) * (np.log(alpha + age_a) - np.log(alpha + txa))
    out: NDArray[np.float64] = expit(-log_odds_dead)
    return out


def expected_purchases(
    params: MbgNbdParams,
    t: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
) -> NDArray[np.float64]:
    """E[number of purchases in (T, T + t] | x, t_x, T] (weeks), broadcasting."""
    return growth_by_pairs(params._shifted(), t, x, T) * p_alive(params, x, t_x, T)
