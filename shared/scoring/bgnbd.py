"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way").

Per customer: ``x`` repeat purchases (distinct purchase days after the first), ``t_x`` the time from the
first to the last purchase, ``T`` the time from the first purchase to the end of observation. The time unit
is the **week**, as in the paper (the engine converts whole days with ``/ 7``). While alive a customer buys
at Poisson rate ``lambda ~ Gamma(r, alpha)`` and after each purchase drops out with probability
``p ~ Beta(a, b)``.

Log-likelihood of one customer (paper, eq. 6; the ``lifetimes`` BetaGeoFitter writes it the same way)::

    ln L = ln G(r+x) - ln G(r) + r ln alpha + ln B(a, b+x) - ln B(a, b)
           + ln[ (alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x) ]

The fit maximises the weighted sum over *groups of identical* ``(x, t_x, T)`` rows with L-BFGS-B on the
log-parameters (analytic gradient), from several starting points (module ``_fitting``). Terms that depend
only on ``x``, ``T`` or ``t_x`` are evaluated once per distinct value, so a fit costs a few vector operations
over the distinct rows.

:class:`BgNbdStats` is the mergeable sufficient statistic: counts of identical ``(x, t_x, T)`` rows with
``t_x`` and ``T`` in whole days (``resolution_days``, default 1: exact for day-stamped purchases). Partition
summaries merge by adding counts, so one global fit sees exactly the data of a single-pass fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.linalg import eigh_tridiagonal
from scipy.special import digamma, expit, gammaln, hyp2f1

from shared.scoring._fitting import (
    FOUR_PARAM_NAMES,
    FitError,
    FourParams,
    dot,
    matvec,
    minimise_log_params,
    std_errors_from_log_fit,
)

__all__ = [
    "DAYS_PER_WEEK",
    "WEEKS_PER_MONTH",
    "BgNbdParams",
    "BgNbdStats",
    "FitError",
    "discounted_expected_purchases",
    "expected_purchases",
    "fit_bgnbd",
    "log_likelihood",
    "p_alive",
]

DAYS_PER_WEEK = 7.0
# Weeks per month used to step the CLV horizon, the constant of lifetimes' customer_lifetime_value.
WEEKS_PER_MONTH = 4.345
# The conditional expectation has a removable singularity at a = 1; within this distance it is taken as
# the mean of the values at a = 1 -/+ _A_ONE_EPS (error O(eps^2)).
_A_ONE_EPS = 1e-4
# Gauss-Jacobi nodes of the quadrature fallback, and rows evaluated per block (bounds memory).
_QUADRATURE_NODES = 160
_QUADRATURE_BLOCK = 8192

PARAM_NAMES = FOUR_PARAM_NAMES

_KEY_BITS = 21
_KEY_LIMIT = 1 << _KEY_BITS


@dataclass(frozen=True)
class BgNbdParams(FourParams):
    """Fitted BG/NBD parameters (time unit: weeks) and the total log-likelihood at the estimate."""

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


def _f64(values: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(values, dtype=np.float64)


def log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """Per-customer log-likelihood (weeks), broadcasting ``x``, ``t_x`` and ``T``."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xa, txa, age_a = np.broadcast_arrays(_f64(x), _f64(t_x), _f64(T))
    a1 = gammaln(r + xa) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + xa) - gammaln(b) - gammaln(a + b + xa)
    a3 = -(r + xa) * np.log(alpha + age_a)
    repeat = xa > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(repeat, np.log(a) - np.log(b + xa - 1.0) - (r + xa) * np.log(alpha + txa), -np.inf)
    out: NDArray[np.float64] = a1 + a2 + np.logaddexp(a3, a4)
    return out


@dataclass(frozen=True)
class _Grouped:
    """Distinct rows with weights, and index maps to the distinct values of x, T and t_x.

    Sums that do not involve the mixture term are pre-aggregated per distinct value, so that an evaluation
    of the likelihood touches the rows only for the terms that couple ``x``, ``t_x`` and ``T``.
    """

    x: NDArray[np.float64]
    w: NDArray[np.float64]
    repeat: NDArray[np.bool_]
    ux: NDArray[np.float64]
    ix: NDArray[np.intp]
    wx: NDArray[np.float64]  # total weight per distinct x
    u_age: NDArray[np.float64]
    i_age: NDArray[np.intp]
    utx: NDArray[np.float64]
    itx: NDArray[np.intp]
    w_age: NDArray[np.float64]  # total weight per distinct T
    wx_age: NDArray[np.float64]  # total weight * x per distinct T
    total_weight: float


def _ranks(values: NDArray[np.float64], per_unit: float) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """``np.unique(values, return_inverse=True)``; in O(n) when every value is exactly ``k / per_unit`` for a
    small integer ``k`` (counts, or whole days in weeks: what the engine and lifetimes' daily data give)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    if flat.size:
        k = np.rint(flat * per_unit)
        if k.min() >= 0 and k.max() < _RANK_TABLE_LIMIT:
            ki = k.astype(np.intp)
            if np.array_equal(ki / per_unit if per_unit != 1.0 else ki.astype(np.float64), flat):
                present = np.bincount(ki) > 0
                rank = np.cumsum(present) - 1
                uniq_k = np.flatnonzero(present)
                uniq = uniq_k / per_unit if per_unit != 1.0 else uniq_k.astype(np.float64)
                return uniq, rank[ki].astype(np.intp)
    uniq, inverse = np.unique(flat, return_inverse=True)
    return uniq, inverse.ravel().astype(np.intp)


_RANK_TABLE_LIMIT = 1 << 22


def _group(
    x: NDArray[np.float64], t_x: NDArray[np.float64], age: NDArray[np.float64], w: NDArray[np.float64]
) -> _Grouped:
    """Group rows (identical ``(x, t_x, T)`` rows are merged, weights added).

    Each column is ranked once (``unique``), the three ranks make one integer key, and one more ``unique``
    on that key finds the distinct rows: four 1-D sorts, much faster than ``unique(axis=0)`` or ``lexsort``.
    """
    ux, ix = _ranks(x, 1.0)
    u_age, i_age = _ranks(age, DAYS_PER_WEEK)
    utx, itx = _ranks(t_x, DAYS_PER_WEEK)
    n_age, n_tx = u_age.size, utx.size
    key = (ix.astype(np.int64) * n_age + i_age) * n_tx + itx
    ukey, inverse = np.unique(key, return_inverse=True)
    inverse = inverse.ravel()
    rw = np.asarray(np.bincount(inverse.ravel(), weights=w, minlength=ukey.size), dtype=np.float64)
    r_itx = (ukey % n_tx).astype(np.intp)
    rest = ukey // n_tx
    r_iage = (rest % n_age).astype(np.intp)
    r_ix = (rest // n_age).astype(np.intp)
    rx = ux[r_ix]
    wx = np.asarray(np.bincount(r_ix, weights=rw, minlength=ux.size), dtype=np.float64)
    w_age = np.asarray(np.bincount(r_iage, weights=rw, minlength=n_age), dtype=np.float64)
    wx_age = np.asarray(np.bincount(r_iage, weights=rw * rx, minlength=n_age), dtype=np.float64)
    return _Grouped(rx, rw, rx > 0, ux, r_ix, wx, u_age, r_iage, utx, r_itx, w_age, wx_age, float(rw.sum()))


def _neg_mean_loglik(
    theta: NDArray[np.float64], g: _Grouped, modified: bool = False
) -> tuple[float, NDArray[np.float64]]:
    """Negative mean log-likelihood and its gradient with respect to log(r, alpha, a, b).

    ``modified`` gives the MBG/NBD likelihood (lifetimes' ModifiedBetaGeoFitter): a customer may also drop
    out right after the first purchase, so the beta terms count ``x + 1`` coin flips and the "dropped out
    after the last purchase" branch exists for every customer, ``x = 0`` included.

    Per row, ``ln L = A(x) + r ln alpha - (r+x) ln(alpha+T) + ln(1 + e^d)`` with
    ``d = ln a - ln(b+x+k-1) + (r+x) (ln(alpha+T) - ln(alpha+t_x))`` (``k = 1`` for MBG/NBD; ``d = -inf``
    for BG/NBD customers without a repeat purchase); ``pi = expit(d)``.
    """
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    ux = g.ux
    big_w = g.total_weight
    k = 1.0 if modified else 0.0
    # Terms that depend on x only.
    lg_x = (
        gammaln(r + ux)
        - gammaln(r)
        + gammaln(a + b)
        + gammaln(b + ux + k)
        - gammaln(b)
        - gammaln(a + b + ux + k)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_bx1 = 1.0 / (b + ux + k - 1.0)  # BG/NBD at x = 0: never used (the branch is absent)
        ln_ratio_x = np.log(a) + np.log(inv_bx1)
    # Terms that depend on T or t_x only.
    ln_a_age = np.log(alpha + g.u_age)
    inv_a_age = 1.0 / (alpha + g.u_age)
    ln_atx = np.log(alpha + g.utx)
    inv_atx = 1.0 / (alpha + g.utx)
    # Row terms: only the mixture term couples x, t_x and T.
    rx = r + g.x
    gap = ln_a_age[g.i_age] - ln_atx[g.itx]
    d = ln_ratio_x[g.ix] + rx * gap
    if not modified:
        np.putmask(d, ~g.repeat, -np.inf)
    # ln(1 + e^d) = max(d, 0) + ln(1 + e^-|d|) and expit(d) from the same e^-|d| (numpy's logaddexp and
    # scipy's expit are several times slower); in place, to spare allocations in the optimiser loop.
    e = np.abs(d)
    np.negative(e, out=e)
    np.exp(e, out=e)
    pi = e / (1.0 + e)
    np.subtract(1.0, pi, out=pi, where=d > 0)  # weight of the "dropped out after the last purchase" branch
    w = g.w
    np.log1p(e, out=e)
    ll = (
        dot(g.wx, lg_x)
        + big_w * r * np.log(alpha)
        - r * dot(g.w_age, ln_a_age)
        - dot(g.wx_age, ln_a_age)
        + dot(w, e)
        + dot(w, np.maximum(d, 0.0))
    )
    if not np.isfinite(ll):
        return float("inf"), np.zeros(4)
    wpi = w * pi
    d_r = dot(g.wx, digamma(r + ux) - digamma(r)) + big_w * np.log(alpha) - dot(g.w_age, ln_a_age)
    d_r += dot(wpi, gap)
    d_alpha = big_w * r / alpha - r * dot(g.w_age, inv_a_age) - dot(g.wx_age, inv_a_age)
    d_alpha += dot(wpi * rx, inv_a_age[g.i_age] - inv_atx[g.itx])
    psi_ab = digamma(a + b)
    d_a = dot(g.wx, psi_ab - digamma(a + b + ux + k)) + float(wpi.sum()) / a
    wpi_x = np.asarray(np.bincount(g.ix, weights=wpi, minlength=ux.size), dtype=np.float64)
    inv_used = np.where(wpi_x > 0, inv_bx1, 0.0)
    d_b = dot(g.wx, psi_ab + digamma(b + ux + k) - digamma(b) - digamma(a + b + ux + k)) - dot(
        wpi_x, inv_used
    )
    grad = np.array([r * d_r, alpha * d_alpha, a * d_a, b * d_b], dtype=np.float64)
    return float(-ll / big_w), -grad / big_w


def _starts(g: _Grouped) -> list[list[float]]:
    mean_t = dot(g.w, g.u_age[g.i_age]) / g.total_weight if g.total_weight > 0 else 1.0
    scale = max(mean_t, 1e-3)
    return [[1.0, 1.0, 1.0, 1.0], [0.5, scale / 4.0, 1.0, 2.0], [1.0, scale, 0.5, 5.0]]


@dataclass(frozen=True)
class FourParamFit:
    """Result of a BG/NBD or MBG/NBD fit: parameters, total log-likelihood, weight, standard errors."""

    params: tuple[float, float, float, float]
    loglik: float
    n_customers: int
    std_errors: tuple[float, float, float, float] | None


def fit_grouped_rows(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
    weights: ArrayLike | None,
    *,
    modified: bool,
) -> FourParamFit:
    """Group identical ``(x, t_x, T)`` rows and maximise the BG/NBD (or, ``modified``, MBG/NBD) likelihood."""
    xa = _f64(x).ravel()
    txa = _f64(t_x).ravel()
    age_a = _f64(T).ravel()
    wa = np.ones_like(xa) if weights is None else _f64(weights).ravel()
    if not (xa.shape == txa.shape == age_a.shape == wa.shape):
        raise ValueError("x, t_x, T and weights must have the same length")
    keep = wa > 0
    xa, txa, age_a, wa = xa[keep], txa[keep], age_a[keep], wa[keep]
    if xa.size == 0:
        raise FitError("no customers to fit")
    if np.any(xa < 0) or np.any(txa < 0) or np.any(age_a < txa) or not np.all(np.isfinite(age_a)):
        raise ValueError("need x >= 0 and 0 <= t_x <= T (finite)")
    g = _group(xa, txa, age_a, wa)

    def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        return _neg_mean_loglik(theta, g, modified)

    theta = minimise_log_params(objective, _starts(g))
    value, _ = objective(theta)
    if not np.isfinite(value):
        raise FitError("non-finite log-likelihood at the estimate")
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    se = std_errors_from_log_fit(objective, theta, g.total_weight)
    return FourParamFit(
        (r, alpha, a, b),
        float(-value * g.total_weight),
        round(float(wa.sum())),
        None if se is None else (se[0], se[1], se[2], se[3]),
    )


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
    weights: ArrayLike | None = None,
) -> BgNbdParams:
    """Maximum-likelihood BG/NBD fit (weeks). Identical ``(x, t_x, T)`` rows are grouped with weights.

    Raises :class:`FitError` when there is no data or the optimiser finds no finite maximum.
    """
    res = fit_grouped_rows(x, t_x, T, weights, modified=False)
    r, alpha, a, b = res.params
    return BgNbdParams(r, alpha, a, b, res.loglik, res.n_customers, res.std_errors)


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """P(alive at T | x, t_x, T): 1 for customers without repeat purchases (the model's assumption)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xa, txa, age_a = np.broadcast_arrays(_f64(x), _f64(t_x), _f64(T))
    log_div = (
        (r + xa) * (np.log(alpha + age_a) - np.log(alpha + txa))
        + np.log(a)
        - np.log(b + np.maximum(xa, 1.0) - 1.0)
    )
    out: NDArray[np.float64] = np.where(xa > 0, expit(-log_div), 1.0)
    return out


def _log_hyp2f1(
    aa: NDArray[np.float64], bb: NDArray[np.float64], cc: NDArray[np.float64], z: NDArray[np.float64]
) -> NDArray[np.float64]:
    """log 2F1(aa, bb; cc; z) for 0 <= z < 1, with Euler's transformation where the direct value overflows."""
    a1, b1, c1, z1 = (np.atleast_1d(v).astype(np.float64) for v in np.broadcast_arrays(aa, bb, cc, z))
    with np.errstate(all="ignore"):
        out: NDArray[np.float64] = np.log(hyp2f1(a1, b1, c1, z1))
        bad = ~np.isfinite(out)
        if np.any(bad):
            ab, bbad, cb, zb = a1[bad], b1[bad], c1[bad], z1[bad]
            out[bad] = np.log(hyp2f1(cb - ab, cb - bbad, cb, zb)) + (cb - ab - bbad) * np.log1p(-zb)
    return out.reshape(np.shape(aa + bb + cc + z))


def _growth_at(
    r: float,
    alpha: float,
    a: float,
    b: float,
    t: NDArray[np.float64],
    x: NDArray[np.float64],
    age: NDArray[np.float64],
) -> NDArray[np.float64]:
    aa = r + x
    bb = b + x
    cc = a + b + x - 1.0
    z = t / (alpha + age + t)
    ln_h = _log_hyp2f1(aa, bb, cc, z)
    second = -np.expm1(ln_h + aa * (np.log(alpha + age) - np.log(alpha + age + t)))
    out: NDArray[np.float64] = (a + b + x - 1.0) / (a - 1.0) * second
    return out


def _beta_gauss_rule(
    shape_a: float, shape_b: float, n: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Gauss nodes on (0, 1) and normalised weights for the Beta(shape_a, shape_b) density (Golub-Welsch).

    The Jacobi matrix of the weight ``(1-u)**(shape_b-1) (1+u)**(shape_a-1)`` on (-1, 1), mapped by
    ``p = (1 + u) / 2``; the weights are the squared first eigenvector components, so nothing overflows
    for extreme shapes (unlike routines that scale by the weight's total mass).
    """
    al = shape_b - 1.0
    be = shape_a - 1.0
    k = np.arange(n, dtype=np.float64)
    s = 2.0 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = (be * be - al * al) / (s * (s + 2.0))
    diag[0] = (be - al) / (al + be + 2.0)
    kk = k[1:]
    s1 = s[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        off2 = 4.0 * kk * (kk + al) * (kk + be) * (kk + al + be) / (s1 * s1 * (s1 + 1.0) * (s1 - 1.0))
    if n > 1:
        off2[0] = 4.0 * (1.0 + al) * (1.0 + be) / ((2.0 + al + be) ** 2 * (3.0 + al + be))
    nodes, vectors = eigh_tridiagonal(diag, np.sqrt(off2))
    weights = vectors[0] ** 2
    return (1.0 + nodes) / 2.0, weights / weights.sum()


def _growth_quadrature(
    params: BgNbdParams, t: NDArray[np.float64], x: NDArray[np.float64], age: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The same expectation as a 1-D integral over the dropout probability (1-D inputs).

    Alive at T with ``x`` repeat purchases, ``lambda ~ Gamma(r+x, alpha+T)`` and ``p ~ Beta(a, b+x)``, and
    ``E[purchases in t | lambda, p] = (1 - exp(-lambda p t)) / p``; integrating lambda out gives
    ``E_p[(1 - (1 + p t/(alpha+T))**-(r+x)) / p]``, evaluated by Gauss-Jacobi quadrature.
    """
    out = np.empty(t.shape, dtype=np.float64)
    for xv in np.unique(x):  # one rule per distinct purchase count, not per customer
        rows = np.flatnonzero(x == xv)
        p, w = _beta_gauss_rule(params.a, params.b + float(xv), _QUADRATURE_NODES)
        k = params.r + float(xv)
        for start in range(0, rows.size, _QUADRATURE_BLOCK):
            block = rows[start : start + _QUADRATURE_BLOCK]
            c = t[block] / (params.alpha + age[block])
            out[block] = matvec(-np.expm1(-k * np.log1p(c[:, None] * p[None, :])) / p[None, :], w)
    return out


def _growth(params: BgNbdParams, t: ArrayLike, x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """E[purchases in (T, T+t] | alive at T, x, T]: the conditional expectation divided by P(alive).

    The closed form (paper, eq. 10, with scipy's ``hyp2f1``; Euler's transformation where the direct value
    overflows). Where it still is not finite — extreme parameters at the edge of the parameter space, such
    as ``r, alpha -> inf`` or ``b -> inf`` when a small data set looks Poisson — the same expectation is
    computed as a quadrature over the dropout probability (:func:`_growth_quadrature`).
    """
    ta, xa, age_a = (np.asarray(v, dtype=np.float64) for v in np.broadcast_arrays(_f64(t), _f64(x), _f64(T)))
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(all="ignore"):
        if abs(a - 1.0) < _A_ONE_EPS:
            lo = _growth_at(r, alpha, 1.0 - _A_ONE_EPS, b, ta, xa, age_a)
            hi = _growth_at(r, alpha, 1.0 + _A_ONE_EPS, b, ta, xa, age_a)
            out: NDArray[np.float64] = np.asarray(0.5 * (lo + hi), dtype=np.float64)
        else:
            out = np.asarray(_growth_at(r, alpha, a, b, ta, xa, age_a), dtype=np.float64)
    out = np.where(ta > 0, out, 0.0)
    bad = ~np.isfinite(out)
    if np.any(bad):
        out[bad] = _growth_quadrature(params, ta[bad], xa[bad], age_a[bad])
    return out


def expected_purchases(
    params: BgNbdParams,
    t: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
) -> NDArray[np.float64]:
    """E[number of purchases in (T, T + t] | x, t_x, T] (paper, eq. 10; weeks), broadcasting."""
    return growth_by_pairs(params, t, x, T) * p_alive(params, x, t_x, T)


def growth_by_pairs(params: BgNbdParams, t: ArrayLike, x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    """:func:`_growth`; for one horizon ``t`` and many customers, evaluated once per distinct ``(x, T)``
    (the hypergeometric function is the costly part, and a million customers have a few thousand pairs)."""
    xa, age_a = np.broadcast_arrays(_f64(x), _f64(T))
    if np.ndim(t) != 0 or xa.size < 1024:
        return _growth(params, t, x, T)
    pairs, inverse = _unique_pairs(xa.ravel(), age_a.ravel())
    per_pair = _growth(params, t, pairs[:, 0], pairs[:, 1])
    out: NDArray[np.float64] = per_pair[inverse].reshape(xa.shape)
    return out


def discounted_expected_purchases(
    params: BgNbdParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
    *,
    months: int,
    monthly_discount_rate: float,
    weeks_per_month: float = WEEKS_PER_MONTH,
) -> NDArray[np.float64]:
    """``sum_{k=1..months} (E[N(k m)] - E[N((k-1) m)]) / (1 + d)**k`` with ``m = weeks_per_month``.

    This is lifetimes' ``customer_lifetime_value`` stepping without the spend factor. The hypergeometric
    term depends on ``(x, T)`` only, so it is evaluated once per distinct pair and month.
    """
    growth = discounted_growth(
        params,
        x,
        T,
        months=months,
        monthly_discount_rate=monthly_discount_rate,
        weeks_per_month=weeks_per_month,
    )
    out: NDArray[np.float64] = growth * p_alive(params, x, t_x, T).ravel()
    return out


def discounted_growth(
    params: BgNbdParams,
    x: ArrayLike,
    T: ArrayLike,  # noqa: N803
    *,
    months: int,
    monthly_discount_rate: float,
    weeks_per_month: float = WEEKS_PER_MONTH,
) -> NDArray[np.float64]:
    """The discounted monthly sum of :func:`_growth` (expected purchases given alive), per customer."""
    if months < 0:
        raise ValueError("months must be >= 0")
    xa, age_a = (np.asarray(v, dtype=np.float64).ravel() for v in np.broadcast_arrays(_f64(x), _f64(T)))
    if months == 0 or xa.size == 0:
        return np.zeros(xa.shape, dtype=np.float64)
    pairs, inverse = _unique_pairs(xa, age_a)
    steps = np.arange(months + 1, dtype=np.float64) * weeks_per_month
    grid = _growth(params, steps[None, :], pairs[:, :1], pairs[:, 1:])  # (n_pairs, months + 1)
    increments = np.diff(grid, axis=1)
    discount = (1.0 + monthly_discount_rate) ** -np.arange(1, months + 1, dtype=np.float64)
    per_pair = matvec(increments, discount)
    out: NDArray[np.float64] = per_pair[inverse]
    return out


def _unique_pairs(
    x: NDArray[np.float64], age: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Distinct (x, T) rows and the inverse index (lexsort based; fast for millions of rows)."""
    order = np.lexsort((age, x))
    xs, ts = x[order], age[order]
    new = np.ones(xs.size, dtype=bool)
    new[1:] = (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1])
    group_of_sorted = np.cumsum(new) - 1
    inverse = np.empty(x.size, dtype=np.intp)
    inverse[order] = group_of_sorted
    pairs = np.stack([xs[new], ts[new]], axis=1)
    return pairs, inverse


def _encode(x: NDArray[np.int64], t_x: NDArray[np.int64], age: NDArray[np.int64]) -> NDArray[np.int64]:
    return (x << (2 * _KEY_BITS)) | (t_x << _KEY_BITS) | age


def _empty_int() -> NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


@dataclass
class BgNbdStats:
    """Mergeable sufficient statistics: counts of identical ``(x, t_x, T)`` rows.

    ``t_x`` and ``T`` are stored in units of ``resolution_days`` days (rounded to the nearest unit; the
    default of 1 day is exact for day-stamped purchases). ``add`` updates in place and returns ``self``;
    ``merge`` returns a new object. JSON form: parallel lists ``x``, ``t_x``, ``T``, ``count``.
    """

    resolution_days: int = 1
    x: NDArray[np.int64] = field(default_factory=_empty_int)
    t_x: NDArray[np.int64] = field(default_factory=_empty_int)
    T: NDArray[np.int64] = field(default_factory=_empty_int)
    count: NDArray[np.int64] = field(default_factory=_empty_int)

    def __post_init__(self) -> None:
        if self.resolution_days < 1:
            raise ValueError("resolution_days must be >= 1")
        if not (self.x.shape == self.t_x.shape == self.T.shape == self.count.shape):
            raise ValueError("x, t_x, T and count must have the same length")

    @property
    def n_customers(self) -> int:
        return int(self.count.sum())

    @property
    def n_repeat_customers(self) -> int:
        return int(self.count[self.x > 0].sum())

    def _set_combined(self, keys: NDArray[np.int64], counts: NDArray[np.int64]) -> None:
        uniq, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        total = np.rint(np.bincount(inverse, weights=counts, minlength=uniq.size)).astype(np.int64)
        mask = _KEY_LIMIT - 1
        self.x = (uniq >> (2 * _KEY_BITS)).astype(np.int64)
        self.t_x = ((uniq >> _KEY_BITS) & mask).astype(np.int64)
        self.T = (uniq & mask).astype(np.int64)
        self.count = total

    def add(self, x: ArrayLike, t_x_days: ArrayLike, T_days: ArrayLike) -> BgNbdStats:  # noqa: N803
        """Add customers: repeat purchases ``x`` and ``t_x``, ``T`` in days."""
        xa = np.asarray(x, dtype=np.int64).ravel()
        res = float(self.resolution_days)
        txa = np.rint(np.asarray(t_x_days, dtype=np.float64).ravel() / res).astype(np.int64)
        age_a = np.rint(np.asarray(T_days, dtype=np.float64).ravel() / res).astype(np.int64)
        if not (xa.shape == txa.shape == age_a.shape):
            raise ValueError("x, t_x and T must have the same length")
        if xa.size == 0:
            return self
        if xa.min() < 0 or txa.min() < 0 or np.any(age_a < txa):
            raise ValueError("need x >= 0 and 0 <= t_x <= T")
        if xa.max() >= _KEY_LIMIT or age_a.max() >= _KEY_LIMIT:
            raise ValueError("x or T out of range for the statistics key")
        keys = np.concatenate([_encode(self.x, self.t_x, self.T), _encode(xa, txa, age_a)])
        counts = np.concatenate([self.count, np.ones(xa.size, dtype=np.int64)])
        self._set_combined(keys, counts)
        return self

    def merge(self, other: BgNbdStats) -> BgNbdStats:
        if other.resolution_days != self.resolution_days:
            raise ValueError("cannot merge statistics of different resolutions")
        out = BgNbdStats(self.resolution_days)
        keys = np.concatenate([_encode(self.x, self.t_x, self.T), _encode(other.x, other.t_x, other.T)])
        if keys.size:
            out._set_combined(keys, np.concatenate([self.count, other.count]))
        return out

    def weeks(
        self,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """``(x, t_x, T, count)`` with times in weeks."""
        scale = self.resolution_days / DAYS_PER_WEEK
        return (
            self.x.astype(np.float64),
            self.t_x.astype(np.float64) * scale,
            self.T.astype(np.float64) * scale,
            self.count.astype(np.float64),
        )

    def fit(self) -> BgNbdParams:
        """Global BG/NBD fit on the (merged) statistics; raises :class:`FitError` when impossible.

        Another purchase model is fitted on the same rows with
        ``shared.scoring.purchase.fit_purchase_model(name, *stats.weeks())``.
        """
        x, t_x, T, count = self.weeks()  # noqa: N806
        return fit_bgnbd(x, t_x, T, count)

    def to_dict(self) -> dict[str, Any]:
        return {
            "resolution_days": self.resolution_days,
            "x": self.x.tolist(),
            "t_x": self.t_x.tolist(),
            "T": self.T.tolist(),
            "count": self.count.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BgNbdStats:
        return cls(
            resolution_days=int(data["resolution_days"]),
            x=np.asarray(data["x"], dtype=np.int64).reshape(-1),
            t_x=np.asarray(data["t_x"], dtype=np.int64).reshape(-1),
            T=np.asarray(data["T"], dtype=np.int64).reshape(-1),
            count=np.asarray(data["count"], dtype=np.int64).reshape(-1),
        )
