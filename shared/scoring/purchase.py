"""The repeat-purchase model of a run: BG/NBD or MBG/NBD, chosen by name, one interface for both.

``DEFAULT_PURCHASE_MODEL`` is MBG/NBD: on CDNOW (calibration to 1997-09-30, 39-week holdout) it predicts
the holdout purchases at least as well as BG/NBD (README, "Choosing the purchase model", produced by
``rm-score-csv --holdout-end``), and unlike BG/NBD it does not take every one-time buyer to be alive, so
churn risk means something for them.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np
from numpy.typing import ArrayLike, NDArray

from shared.scoring import bgnbd, mbgnbd
from shared.scoring.bgnbd import WEEKS_PER_MONTH, BgNbdParams
from shared.scoring.mbgnbd import MbgNbdParams

__all__ = [
    "DEFAULT_PURCHASE_MODEL",
    "MODEL_LABELS",
    "PurchaseModelName",
    "PurchaseParams",
    "discounted_expected_purchases",
    "expected_purchases",
    "fit_purchase_model",
    "log_likelihood",
    "p_alive",
    "params_from_dict",
]

PurchaseModelName = Literal["mbgnbd", "bgnbd"]
PURCHASE_MODELS: tuple[PurchaseModelName, ...] = get_args(PurchaseModelName)
DEFAULT_PURCHASE_MODEL: PurchaseModelName = "mbgnbd"
MODEL_LABELS: dict[str, str] = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD"}
PurchaseParams = BgNbdParams | MbgNbdParams


def fit_purchase_model(
    name: PurchaseModelName,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
    weights: ArrayLike | None = None,
) -> PurchaseParams:
    if name == "mbgnbd":
        return mbgnbd.fit_mbgnbd(x, t_x, T, weights)
    return bgnbd.fit_bgnbd(x, t_x, T, weights)


def model_name(params: PurchaseParams) -> PurchaseModelName:
    return "mbgnbd" if isinstance(params, MbgNbdParams) else "bgnbd"


def params_from_dict(name: PurchaseModelName, data: dict[str, Any]) -> PurchaseParams:
    if name == "mbgnbd":
        return MbgNbdParams.from_dict(data)
    return BgNbdParams.from_dict(data)


def log_likelihood(params: PurchaseParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    if isinstance(params, MbgNbdParams):
        return mbgnbd.log_likelihood(params, x, t_x, T)
    return bgnbd.log_likelihood(params, x, t_x, T)


def p_alive(params: PurchaseParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> NDArray[np.float64]:  # noqa: N803
    if isinstance(params, MbgNbdParams):
        return mbgnbd.p_alive(params, x, t_x, T)
    return bgnbd.p_alive(params, x, t_x, T)


def expected_purchases(
    params: PurchaseParams,
    t: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
) -> NDArray[np.float64]:
    if isinstance(params, MbgNbdParams):
        return mbgnbd.expected_purchases(params, t, x, t_x, T)
    return bgnbd.expected_purchases(params, t, x, t_x, T)


def discounted_expected_purchases(
    params: PurchaseParams,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,  # noqa: N803
    *,
    months: int,
    monthly_discount_rate: float,
    weeks_per_month: float = WEEKS_PER_MONTH,
) -> NDArray[np.float64]:
    if isinstance(params, MbgNbdParams):
        return params.discounted_expected_purchases(
            x,
            t_x,
            T,
            months=months,
            monthly_discount_rate=monthly_discount_rate,
            weeks_per_month=weeks_per_month,
        )
    return bgnbd.discounted_expected_purchases(
        params,
        x,
        t_x,
        T,
        months=months,
        monthly_discount_rate=monthly_discount_rate,
        weeks_per_month=weeks_per_month,
    )
