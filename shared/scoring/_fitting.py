"""Maximum-likelihood helpers shared by the BG/NBD and Gamma-Gamma fitters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from threadpoolctl import ThreadpoolController

ObjectiveWithGradient = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]

# Parameters are optimised on the log scale; this box keeps exp() finite and the fit away from 0/inf.
LOG_PARAM_BOUND = 18.0
# A result the optimiser did not flag as converged is still accepted when the gradient of the *mean*
# negative log-likelihood (per customer, on the log-parameter scale) is this small.
_GRADIENT_ACCEPT = 1e-5


class FitError(RuntimeError):
    """The optimiser found no finite maximum of the likelihood."""


def minimise_log_params(
    objective: ObjectiveWithGradient, starts: Sequence[Sequence[float]]
) -> NDArray[np.float64]:
    """Minimise ``objective(log_params)``; return the log-params of the minimum.

    Starting points are tried in order with L-BFGS-B (analytic gradient, inside
    ``[-LOG_PARAM_BOUND, LOG_PARAM_BOUND]``); the first result with a finite value that converged (or whose
    gradient is negligible) is returned. If no start gives one, a Nelder-Mead polish from the best finite
    point is tried before giving up with :class:`FitError`.
    """
    # scipy's L-BFGS-B does small BLAS calls every iteration; OpenBLAS worker threads spinning on a busy
    # 2-vCPU host made each iteration ~10x slower than the likelihood itself. One thread is fastest here.
    with _controller().limit(limits=1, user_api="blas"):
        return _minimise(objective, starts)


_CONTROLLER: list[ThreadpoolController] = []


def _controller() -> ThreadpoolController:
    """One controller per process: building it scans the loaded libraries (about a millisecond)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def _minimise(objective: ObjectiveWithGradient, starts: Sequence[Sequence[float]]) -> NDArray[np.float64]:
    best_finite: tuple[float, NDArray[np.float64]] | None = None
    for start in starts:
        theta0 = np.clip(np.log(np.asarray(start, dtype=np.float64)), -LOG_PARAM_BOUND, LOG_PARAM_BOUND)
        try:
            with np.errstate(all="ignore"):
                res = minimize(
                    objective,
                    theta0,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=[(-LOG_PARAM_BOUND, LOG_PARAM_BOUND)] * theta0.size,
                    options={"maxiter": 3000, "ftol": 1e-13, "gtol": 1e-9},
                )
        except (ValueError, FloatingPointError, OverflowError):
            continue
        if not np.isfinite(res.fun) or not np.all(np.isfinite(res.x)):
            continue
        if best_finite is None or res.fun < best_finite[0]:
            best_finite = (float(res.fun), np.asarray(res.x, dtype=np.float64))
        if bool(res.success) or float(np.max(np.abs(res.jac))) < _GRADIENT_ACCEPT:
            return np.asarray(res.x, dtype=np.float64)
    if best_finite is None:
        raise FitError("no finite likelihood at any starting point")

    def value_only(theta: NDArray[np.float64]) -> float:
        return objective(theta)[0]

    with np.errstate(all="ignore"):
        polish = minimize(
            value_only,
            best_finite[1],
            method="Nelder-Mead",
            options={"maxiter": 20000, "xatol": 1e-10, "fatol": 1e-14},
        )
    if not (polish.success and np.isfinite(polish.fun) and np.all(np.isfinite(polish.x))):
        raise FitError(f"optimiser did not converge: {polish.message}")
    return np.clip(np.asarray(polish.x, dtype=np.float64), -LOG_PARAM_BOUND, LOG_PARAM_BOUND)


def dot(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Inner product of two 1-D arrays without BLAS.

    ``a @ b`` goes to multi-threaded OpenBLAS, whose spinning worker threads made the small products of an
    optimiser loop up to 100x slower on a busy 2-vCPU host; ``einsum`` (not optimised) uses numpy's own loop.
    """
    return float(np.einsum("i,i->", a, b))


def matvec(m: NDArray[np.float64], v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Matrix-vector product without BLAS (see :func:`dot`)."""
    out: NDArray[np.float64] = np.einsum("ij,j->i", m, v)
    return out


def std_errors_from_log_fit(
    objective: ObjectiveWithGradient, theta: NDArray[np.float64], total_weight: float
) -> tuple[float, ...] | None:
    """Standard errors of ``exp(theta)`` at a maximum-likelihood estimate on the log scale.

    The Hessian of the *mean* negative log-likelihood is taken by forward differences of the analytic
    gradient (``k + 1`` gradient evaluations; relative error about 1e-5), scaled to the total (observed
    information) and inverted; the delta method maps log-scale variances to the parameters
    (``se = exp(theta) * se_log``). ``None`` when the Hessian is not positive definite (an estimate at the
    edge of the parameter space).
    """
    k = theta.size
    h = 1e-5
    hess = np.empty((k, k), dtype=np.float64)
    with np.errstate(all="ignore"):
        at = objective(theta)[1]
        for i in range(k):
            step = np.zeros(k)
            step[i] = h
            hess[i] = (objective(theta + step)[1] - at) / h
    hess = 0.5 * (hess + hess.T) * total_weight
    if not np.all(np.isfinite(hess)):
        return None
    try:
        chol = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return None
    inv_chol = np.linalg.inv(chol)
    var_log = np.einsum("ij,ij->j", inv_chol, inv_chol)  # diag(H^-1) = column sums of L^-1 squared
    return tuple(float(v) for v in np.exp(theta) * np.sqrt(var_log))


def std_errors_dict(names: Sequence[str], values: Sequence[float] | None) -> dict[str, float] | None:
    return None if values is None else dict(zip(names, (float(v) for v in values), strict=True))


def std_errors_tuple(names: Sequence[str], data: Any) -> Any:
    """The tuple form of :func:`std_errors_dict`'s output (``None`` stays ``None``)."""
    if data is None:
        return None
    return tuple(float(data[n]) for n in names)


FOUR_PARAM_NAMES = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class FourParams:
    """``(r, alpha, a, b)`` of a BG/NBD-family model (weeks), the total log-likelihood at the estimate, the
    customers fitted, and the standard errors from the observed information (inverse Hessian of -loglik)."""

    r: float
    alpha: float
    a: float
    b: float
    loglik: float = float("nan")
    n_customers: int = 0
    std_errors: tuple[float, float, float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "r": self.r,
            "alpha": self.alpha,
            "a": self.a,
            "b": self.b,
            "loglik": self.loglik,
            "n_customers": self.n_customers,
            "std_errors": std_errors_dict(FOUR_PARAM_NAMES, self.std_errors),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(
            r=float(data["r"]),
            alpha=float(data["alpha"]),
            a=float(data["a"]),
            b=float(data["b"]),
            loglik=float(data.get("loglik", float("nan"))),
            n_customers=int(data.get("n_customers", 0)),
            std_errors=std_errors_tuple(FOUR_PARAM_NAMES, data.get("std_errors")),
        )
