"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie,
"The Gamma-Gamma Model of Monetary Value", 2013) and the discounted customer lifetime value.

A customer's transaction values are Gamma(p, nu) with ``nu ~ Gamma(q, v)`` across customers. The mean
``m`` of ``n`` transactions has log-likelihood (the lifetimes GammaGammaFitter form)::

    ln f(m | n) = ln G(pn+q) - ln G(pn) - ln G(q) + q ln v + (pn-1) ln m + pn ln n - (pn+q) ln(v + n m)

and the conditional expected spend per transaction is
``E[M | n, m] = p (v + n m) / (p n + q - 1)``: a weighted mean of the population mean ``p v / (q - 1)``
and the customer's own mean ``m`` with weight ``p n / (p n + q - 1)`` on ``m``.

The fit uses customers with ``n >= 1`` and ``m > 0`` (customers with a non-positive mean spend cannot
enter the likelihood and are skipped). :class:`GammaGammaStats` is the mergeable sufficient statistic:
per ``(n, bin of m)``, the count and the exact sum of ``ln m``; bins are log-spaced with relative width
``relative_accuracy`` (default 0.1 %). Only the ``ln(v + n m)`` term uses the bin's representative (the
geometric mean of its values, within ``relative_accuracy`` of each of them); every other term is exact.

:func:`clv` is the discounted CLV of lifetimes' ``customer_lifetime_value``: month by month over the
horizon, expected spend per transaction times the BG/NBD expected purchases in that month, discounted by
``(1 + monthly_discount_rate) ** month`` (months of ``weeks_per_month`` weeks, 4.345 as in lifetimes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln

from shared.scoring._fitting import (
    FitError,
    dot,
    minimise_log_params,
    std_errors_dict,
    std_errors_from_log_fit,
    std_errors_tuple,
)
from shared.scoring.bgnbd import WEEKS_PER_MONTH
from shared.scoring.distribution import DEFAULT_RELATIVE_ACCURACY
from shared.scoring.purchase import PurchaseParams, discounted_expected_purchases

__all__ = [
    "FitError",
    "GammaGammaParams",
    "GammaGammaStats",
    "clv",
    "fit_gamma_gamma",
    "log_likelihood",
]

_BIN_OFFSET = 1 << 39
_NAMES = ("p", "q", "v")


@dataclass(frozen=True)
class GammaGammaParams:
    """Fitted Gamma-Gamma parameters and the total log-likelihood at the estimate."""

    p: float
    q: float
    v: float
    loglik: float = float("nan")
    n_customers: int = 0
    # Standard errors of (p, q, v) from the observed information.
    std_errors: tuple[float, float, float] | None = None

    @property
    def population_mean(self) -> float:
        """Mean spend per transaction of the population, ``p v / (q - 1)`` (inf when ``q <= 1``)."""
        return self.p * self.v / (self.q - 1.0) if self.q > 1.0 else math.inf

    def expected_average_value(self, n_transactions: ArrayLike, mean_value: ArrayLike) -> NDArray[np.float64]:
        """``E[M | n, m]``; NaN where ``p n + q - 1 <= 0`` (undefined; e.g. ``n = 0`` with ``q <= 1``)."""
        n, m = np.broadcast_arrays(
            np.asarray(n_transactions, dtype=np.float64), np.asarray(mean_value, dtype=np.float64)
        )
        denom = self.p * n + self.q - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            out: NDArray[np.float64] = np.where(denom > 0, self.p * (self.v + n * m) / denom, np.nan)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "p": self.p,
            "q": self.q,
            "v": self.v,
            "loglik": self.loglik,
            "n_customers": self.n_customers,
            "std_errors": std_errors_dict(_NAMES, self.std_errors),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GammaGammaParams:
        return cls(
            p=float(data["p"]),
            q=float(data["q"]),
            v=float(data["v"]),
            loglik=float(data.get("loglik", float("nan"))),
            n_customers=int(data.get("n_customers", 0)),
            std_errors=std_errors_tuple(_NAMES, data.get("std_errors")),
        )


def log_likelihood(
    params: GammaGammaParams, n_transactions: ArrayLike, mean_value: ArrayLike
) -> NDArray[np.float64]:
    """Per-customer log-likelihood of the mean spend ``m`` of ``n`` transactions."""
    p, q, v = params.p, params.q, params.v
    n, m = np.broadcast_arrays(
        np.asarray(n_transactions, dtype=np.float64), np.asarray(mean_value, dtype=np.float64)
    )
    pn = p * n
    out: NDArray[np.float64] = (
        gammaln(pn + q)
        - gammaln(pn)
        - gammaln(q)
        + q * np.log(v)
        + (pn - 1.0) * np.log(m)
        + pn * np.log(n)
        - (pn + q) * np.log(v + n * m)
    )
    return out


@dataclass(frozen=True)
class _Grouped:
    n: NDArray[np.float64]  # per group
    m: NDArray[np.float64]  # representative mean spend per group
    w: NDArray[np.float64]  # customers per group
    un: NDArray[np.float64]  # distinct n
    wn: NDArray[np.float64]  # customers per distinct n
    sn: NDArray[np.float64]  # sum of ln m per distinct n
    n_ln_n: NDArray[np.float64]


def _group(
    n: NDArray[np.float64], m_rep: NDArray[np.float64], w: NDArray[np.float64], sum_log_m: NDArray[np.float64]
) -> _Grouped:
    un, inv = np.unique(n, return_inverse=True)
    wn = np.asarray(np.bincount(inv, weights=w, minlength=un.size), dtype=np.float64)
    sn = np.asarray(np.bincount(inv, weights=sum_log_m, minlength=un.size), dtype=np.float64)
    return _Grouped(n, m_rep, w, un, wn, sn, un * np.log(un))


def _neg_mean_loglik(theta: NDArray[np.float64], g: _Grouped) -> tuple[float, NDArray[np.float64]]:
    p, q, v = (float(t) for t in np.exp(theta))
    big_w = float(g.wn.sum())
    pn_u = p * g.un
    ll = (
        dot(g.wn, gammaln(pn_u + q) - gammaln(pn_u) + pn_u * np.log(g.un))
        + big_w * (q * math.log(v) - float(gammaln(q)))
        + dot(pn_u - 1.0, g.sn)
    )
    log_vnm = np.log(v + g.n * g.m)
    pn_rows = p * g.n
    ll -= dot(g.w * (pn_rows + q), log_vnm)
    if not math.isfinite(ll):
        return math.inf, np.zeros(3)
    psi_pnq = digamma(pn_u + q)
    d_p = dot(g.wn, g.un * (psi_pnq - digamma(pn_u)) + np.log(g.un) * g.un) + dot(g.un, g.sn)
    d_p -= dot(g.w * g.n, log_vnm)
    d_q = dot(g.wn, psi_pnq - float(digamma(q))) + big_w * math.log(v) - dot(g.w, log_vnm)
    d_v = big_w * q / v - dot(g.w * (pn_rows + q), 1.0 / (v + g.n * g.m))
    grad = np.array([p * d_p, q * d_q, v * d_v], dtype=np.float64)
    return float(-ll / big_w), -grad / big_w


def _fit_grouped(g: _Grouped) -> GammaGammaParams:
    if g.w.size == 0 or float(g.w.sum()) <= 0:
        raise FitError("no customers to fit")
    mean_m = float(np.exp((g.sn.sum()) / g.wn.sum()))
    starts = [[1.0, 1.0, 1.0], [1.0, 2.0, mean_m], [5.0, 4.0, 3.0 * mean_m / 5.0], [2.0, 10.0, 4.5 * mean_m]]

    def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        return _neg_mean_loglik(theta, g)

    theta = minimise_log_params(objective, starts)
    value, _ = _neg_mean_loglik(theta, g)
    if not math.isfinite(value):
        raise FitError("non-finite log-likelihood at the estimate")
    p, q, v = (float(t) for t in np.exp(theta))
    total = float(g.w.sum())
    se = std_errors_from_log_fit(objective, theta, total)
    return GammaGammaParams(
        p,
        q,
        v,
        loglik=float(-value * total),
        n_customers=round(total),
        std_errors=None if se is None else (se[0], se[1], se[2]),
    )


def fit_gamma_gamma(
    n_transactions: ArrayLike, mean_value: ArrayLike, weights: ArrayLike | None = None
) -> GammaGammaParams:
    """Maximum-likelihood fit on customers with ``n >= 1`` and ``m > 0`` (other rows are ignored).

    With lifetimes' conventions ``n`` is the repeat frequency and ``m`` the mean repeat-transaction value.
    Raises :class:`FitError` when no row is usable or the optimiser finds no finite maximum.
    """
    n = np.asarray(n_transactions, dtype=np.float64).ravel()
    m = np.asarray(mean_value, dtype=np.float64).ravel()
    w = np.ones_like(n) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if not (n.shape == m.shape == w.shape):
        raise ValueError("n_transactions, mean_value and weights must have the same length")
    keep = (n >= 1) & (m > 0) & np.isfinite(m) & (w > 0)
    n, m, w = n[keep], m[keep], w[keep]
    return _fit_grouped(_group(n, m, w, w * np.log(m)))


def _empty_int() -> NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


def _empty_float() -> NDArray[np.float64]:
    return np.zeros(0, dtype=np.float64)


@dataclass
class GammaGammaStats:
    """Mergeable statistics for the Gamma-Gamma fit (see the module docstring).

    Rows: ``n`` (transactions averaged), ``bin`` (log bin of the mean spend), ``count`` and ``sum_log_m``.
    ``skipped`` counts customers offered with a non-positive or non-finite mean spend.
    """

    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY
    n: NDArray[np.int64] = field(default_factory=_empty_int)
    bin: NDArray[np.int64] = field(default_factory=_empty_int)
    count: NDArray[np.int64] = field(default_factory=_empty_int)
    sum_log_m: NDArray[np.float64] = field(default_factory=_empty_float)
    skipped: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.relative_accuracy < 1:
            raise ValueError("relative_accuracy must be in (0, 1)")
        if not (self.n.shape == self.bin.shape == self.count.shape == self.sum_log_m.shape):
            raise ValueError("n, bin, count and sum_log_m must have the same length")

    @property
    def n_customers(self) -> int:
        return int(self.count.sum())

    def _set_combined(
        self, keys: NDArray[np.int64], counts: NDArray[np.int64], sums: NDArray[np.float64]
    ) -> None:
        uniq, inverse = np.unique(keys, return_inverse=True)
        inverse = inverse.ravel()
        total = np.rint(np.bincount(inverse, weights=counts, minlength=uniq.size)).astype(np.int64)
        self.count = total
        self.sum_log_m = np.bincount(inverse, weights=sums, minlength=uniq.size).astype(np.float64)
        self.n = (uniq // (2 * _BIN_OFFSET)).astype(np.int64)
        self.bin = (uniq % (2 * _BIN_OFFSET) - _BIN_OFFSET).astype(np.int64)

    def _keys(self) -> NDArray[np.int64]:
        return self.n * (2 * _BIN_OFFSET) + (self.bin + _BIN_OFFSET)

    def add(self, n_transactions: ArrayLike, mean_value: ArrayLike) -> GammaGammaStats:
        """Add customers (``n >= 1`` transactions with mean spend ``m``). Returns ``self``."""
        n = np.asarray(n_transactions, dtype=np.int64).ravel()
        m = np.asarray(mean_value, dtype=np.float64).ravel()
        if n.shape != m.shape:
            raise ValueError("n_transactions and mean_value must have the same length")
        if n.size and n.min() < 1:
            raise ValueError("n_transactions must be >= 1")
        usable = (m > 0) & np.isfinite(m)
        self.skipped += int(np.count_nonzero(~usable))
        n, m = n[usable], m[usable]
        if n.size == 0:
            return self
        log_m = np.log(m)
        bins = np.ceil(log_m / math.log1p(self.relative_accuracy)).astype(np.int64)
        keys = n * (2 * _BIN_OFFSET) + (bins + _BIN_OFFSET)
        self._set_combined(
            np.concatenate([self._keys(), keys]),
            np.concatenate([self.count, np.ones(n.size, dtype=np.int64)]),
            np.concatenate([self.sum_log_m, log_m]),
        )
        return self

    def merge(self, other: GammaGammaStats) -> GammaGammaStats:
        if other.relative_accuracy != self.relative_accuracy:
            raise ValueError("cannot merge statistics of different accuracies")
        out = GammaGammaStats(self.relative_accuracy, skipped=self.skipped + other.skipped)
        keys = np.concatenate([self._keys(), other._keys()])
        if keys.size:
            out._set_combined(
                keys,
                np.concatenate([self.count, other.count]),
                np.concatenate([self.sum_log_m, other.sum_log_m]),
            )
        return out

    def fit(self) -> GammaGammaParams:
        """Global fit on the (merged) statistics; raises :class:`FitError` when impossible."""
        w = self.count.astype(np.float64)
        if w.size == 0:
            raise FitError("no customers to fit")
        m_rep = np.exp(self.sum_log_m / w)
        return _fit_grouped(_group(self.n.astype(np.float64), m_rep, w, self.sum_log_m))

    def to_dict(self) -> dict[str, Any]:
        return {
            "relative_accuracy": self.relative_accuracy,
            "n": self.n.tolist(),
            "bin": self.bin.tolist(),
            "count": self.count.tolist(),
            "sum_log_m": self.sum_log_m.tolist(),
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GammaGammaStats:
        return cls(
            relative_accuracy=float(data["relative_accuracy"]),
            n=np.asarray(data["n"], dtype=np.int64).reshape(-1),
            bin=np.asarray(data["bin"], dtype=np.int64).reshape(-1),
            count=np.asarray(data["count"], dtype=np.int64).reshape(-1),
            sum_log_m=np.asarray(data["sum_log_m"], dtype=np.float64).reshape(-1),
            skipped=int(data.get("skipped", 0)),
        )


def clv(
    bgnbd: PurchaseParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
    expected_value: ArrayLike,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    weeks_per_month: float = WEEKS_PER_MONTH,
) -> NDArray[np.float64]:
    """Discounted CLV: ``sum_k E[M] (E[N(k)] - E[N(k-1)]) / (1 + d)**k`` over ``months`` months.

    ``expected_value`` is the expected spend per transaction (usually
    :meth:`GammaGammaParams.expected_average_value`); ``x``, ``t_x``, ``T`` are the inputs of the purchase
    model ``bgnbd`` (BG/NBD or MBG/NBD parameters) in weeks.
    """
    factor = discounted_expected_purchases(
        bgnbd,
        x,
        t_x,
        T,
        months=months,
        monthly_discount_rate=monthly_discount_rate,
        weeks_per_month=weeks_per_month,
    )
    ev = np.asarray(expected_value, dtype=np.float64).ravel()
    out: NDArray[np.float64] = ev * factor
    return out
