"""Fixtures of the scoring tests: the CDNOW files in tests/data and simulators of the models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
CDNOW_CALIBRATION_END = date(1997, 9, 30)  # T = 38.86 weeks for customers who started on 1997-01-01


@dataclass(frozen=True)
class CdnowSummary:
    id: NDArray[np.int64]
    frequency: NDArray[np.float64]
    recency: NDArray[np.float64]
    T: NDArray[np.float64]


@dataclass(frozen=True)
class CdnowTransactions:
    original_id: NDArray[np.str_]
    id: NDArray[np.int64]  # the renumbered id used by the summary CSV
    date: NDArray[np.datetime64]
    amount: NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdSample:
    x: NDArray[np.float64]
    t_x: NDArray[np.float64]
    T: NDArray[np.float64]
    future: NDArray[np.float64]  # purchases in (T, T + horizon]
    alive_at_T: NDArray[np.bool_]  # noqa: N815


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA_DIR


@pytest.fixture(scope="session")
def cdnow_calibration_end() -> date:
    return CDNOW_CALIBRATION_END


@pytest.fixture(scope="session")
def cdnow_summary() -> CdnowSummary:
    raw = np.genfromtxt(DATA_DIR / "cdnow_customers_summary.csv", delimiter=",", names=True)
    return CdnowSummary(
        id=raw["ID"].astype(np.int64),
        frequency=raw["frequency"].astype(np.float64),
        recency=raw["recency"].astype(np.float64),
        T=raw["T"].astype(np.float64),
    )


@pytest.fixture(scope="session")
def cdnow_transactions() -> CdnowTransactions:
    raw = np.loadtxt(DATA_DIR / "CDNOW_sample.txt", dtype=str)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:]}" for d in raw[:, 2]], dtype="datetime64[D]")
    return CdnowTransactions(
        original_id=raw[:, 0],
        id=raw[:, 1].astype(np.int64),
        date=dates,
        amount=raw[:, 4].astype(np.float64),
    )


def simulate_bgnbd(
    rng: np.random.Generator,
    age: NDArray[np.float64],
    r: float,
    alpha: float,
    a: float,
    b: float,
    horizon: float = 0.0,
) -> BgNbdSample:
    """Draw customers from the BG/NBD model (vectorised over customers, looping over purchases).

    Each customer buys at Poisson rate lambda ~ Gamma(r, alpha) from time 0 (the first purchase) and drops
    out with probability p ~ Beta(a, b) after each repeat purchase; observed until ``age`` (T), with
    purchases in ``(T, T + horizon]`` counted separately.
    """
    n = age.size
    lam = np.maximum(rng.gamma(r, 1.0 / alpha, n), 1e-12)
    drop = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    future = np.zeros(n)
    t = np.zeros(n)
    died_at = np.full(n, np.inf)
    end = age + horizon
    active = np.arange(n)
    while active.size:
        t[active] += rng.exponential(1.0 / lam[active])
        active = active[t[active] <= end[active]]
        in_calibration = t[active] <= age[active]
        cal = active[in_calibration]
        x[cal] += 1
        t_x[cal] = t[cal]
        future[active[~in_calibration]] += 1
        dies = rng.random(active.size) < drop[active]
        died_at[active[dies]] = t[active[dies]]
        active = active[~dies]
    return BgNbdSample(x=x, t_x=t_x, T=age, future=future, alive_at_T=died_at > age)


def simulate_gamma_gamma(
    rng: np.random.Generator, n_transactions: NDArray[np.int64], p: float, q: float, v: float
) -> NDArray[np.float64]:
    """Mean spend of ``n`` transactions per customer: nu ~ Gamma(q, v), z ~ Gamma(p, nu), mean of n."""
    nu = rng.gamma(q, 1.0 / v, n_transactions.size)
    return rng.gamma(p * n_transactions, 1.0 / (n_transactions * nu))


@pytest.fixture(scope="session")
def bgnbd_simulator() -> Callable[..., BgNbdSample]:
    return simulate_bgnbd


@pytest.fixture(scope="session")
def gamma_gamma_simulator() -> Callable[..., NDArray[np.float64]]:
    return simulate_gamma_gamma
