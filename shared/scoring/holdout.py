"""Calibration/holdout check of the purchase models (lifetimes' ``calibration_and_holdout_data`` and
``plot_calibration_purchases_vs_holdout_purchases``).

Fit on the transactions up to the calibration end, predict each customer's repeat purchase days in the
holdout period ``(calibration end, holdout end]``, and compare with what they did: per calibration
frequency (0, 1, ..., ``max_frequency`` and more), the number of customers, the mean actual and the mean
predicted purchases; overall the mean absolute and root-mean-square error per customer and the error of
the total. Pure numpy; plotting is in the command (optional matplotlib).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["FrequencyRow", "HoldoutReport", "ModelAccuracy", "holdout_report"]


@dataclass(frozen=True)
class FrequencyRow:
    label: str  # "0", "1", ..., "7+"
    customers: int
    actual: float  # mean holdout purchases
    predicted: dict[str, float]  # per model name


@dataclass(frozen=True)
class ModelAccuracy:
    mae: float  # mean absolute error per customer
    rmse: float
    total_predicted: float
    total_error: float  # (predicted - actual) / actual, of the totals
    table_mae: float  # customer-weighted mean |predicted - actual| of the frequency rows
    top20_capture: float  # share of the holdout purchases made by the 20 % with the highest prediction


@dataclass(frozen=True)
class HoldoutReport:
    holdout_weeks: float
    customers: int
    total_actual: float
    rows: list[FrequencyRow]
    accuracy: dict[str, ModelAccuracy]

    def table(self, labels: Mapping[str, str]) -> str:
        names = list(self.accuracy)
        head = f"{'frequency':>9} {'customers':>9} {'actual':>8} " + " ".join(
            f"{labels.get(n, n):>9}" for n in names
        )
        lines = [head]
        for row in self.rows:
            lines.append(
                f"{row.label:>9} {row.customers:>9} {row.actual:>8.3f} "
                + " ".join(f"{row.predicted[n]:>9.3f}" for n in names)
            )
        for metric in ("mae", "rmse", "top20_capture", "table_mae", "total_error"):
            values = " ".join(f"{getattr(self.accuracy[n], metric):>9.4f}" for n in names)
            lines.append(f"{metric:>28} {values}")
        return "\n".join(lines)


def _top_capture(pred: NDArray[np.float64], actual: NDArray[np.float64], fraction: float) -> float:
    """Share of all holdout purchases made by the ``fraction`` of customers predicted to buy most."""
    total = float(actual.sum())
    if total <= 0 or pred.size == 0:
        return float("nan")
    top = max(1, round(fraction * pred.size))
    order = np.argsort(-pred, kind="stable")
    return float(actual[order[:top]].sum() / total)


def holdout_report(
    x: NDArray[np.int64],
    actual: NDArray[np.float64],
    predicted: Mapping[str, NDArray[np.float64]],
    holdout_weeks: float,
    max_frequency: int = 7,
) -> HoldoutReport:
    """Compare holdout purchases ``actual`` with each model's ``predicted`` (customers in the same order)."""
    bucket = np.minimum(x, max_frequency)
    counts = np.bincount(bucket, minlength=max_frequency + 1)
    rows: list[FrequencyRow] = []
    sums_actual = np.bincount(bucket, weights=actual, minlength=max_frequency + 1)
    sums_pred = {n: np.bincount(bucket, weights=p, minlength=max_frequency + 1) for n, p in predicted.items()}
    for k in range(max_frequency + 1):
        if counts[k] == 0:
            continue
        label = f"{k}+" if k == max_frequency else str(k)
        rows.append(
            FrequencyRow(
                label,
                int(counts[k]),
                float(sums_actual[k] / counts[k]),
                {n: float(s[k] / counts[k]) for n, s in sums_pred.items()},
            )
        )
    total_actual = float(actual.sum())
    accuracy: dict[str, ModelAccuracy] = {}
    for name, pred in predicted.items():
        err = pred - actual
        row_err = np.abs(sums_pred[name] - sums_actual)  # per bucket: count x |mean error|
        accuracy[name] = ModelAccuracy(
            mae=float(np.mean(np.abs(err))),
            rmse=float(np.sqrt(np.mean(err**2))),
            total_predicted=float(pred.sum()),
            total_error=float((pred.sum() - total_actual) / total_actual) if total_actual else float("nan"),
            table_mae=float(row_err.sum() / max(int(counts.sum()), 1)),
            top20_capture=_top_capture(pred, actual, 0.2),
        )
    return HoldoutReport(holdout_weeks, int(x.size), total_actual, rows, accuracy)
