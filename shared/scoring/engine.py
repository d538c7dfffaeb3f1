"""The scoring engine: the one combination of the models used by the DynamoDB run and the offline CLI.

Two phases, so the work scales out over partitions of the customer base:

1. ``summarise(frame, as_of) -> PartitionSummary`` per partition (a DynamoDB scan segment): mergeable,
   JSON-serialisable summaries — RFM distribution summaries, BG/NBD sufficient statistics, Gamma-Gamma
   statistics; the monetary summary (total spend, counts and sums per bin) also gives the Pareto share.
   ``PartitionSummary.merge`` / ``merge_all`` combine them exactly.
2. ``fit(merged, config) -> ModelFit`` once: RFM breakpoints, BG/NBD and Gamma-Gamma parameters, Pareto
   share, counts. JSON-serialisable, so it can be passed to the scoring workers.
3. ``score(frame, fit, config) -> ScoreFrame`` per partition: every per-customer output.

Definitions (per customer, at the ``as_of`` date):

* customer = at least one purchase (``purchase_days > 0`` or ``purchase_count > 0``); everyone else is a
  prospect. Customers with a missing first/last purchase date get stage ``customer`` but no RFM or model
  outputs (they cannot be placed in time).
* recency = days from the last purchase to ``as_of`` (negative values clipped to 0);
  frequency (RFM) = ``max(purchase_count, purchase_days)``; monetary (RFM) = total spent.
* purchase model (``config.purchase_model``: MBG/NBD by default, or BG/NBD; weeks): ``x = purchase_days - 1``
  (repeat purchase days), ``t_x = (last - first) / 7``, ``T = (as_of - first) / 7``. Statistics are exact
  in whole days. Inconsistent rows are clipped, not rejected: ``last >= first``, ``t_x = 0`` when
  ``x = 0``, ``T >= t_x``, recency >= 0 (purchases after ``as_of``), non-finite spend counts as 0.
* Gamma-Gamma as in the reference (Fader, Hardie & Lee 2005 "RFM and CLV"; lifetimes, BTYD, CLVTools): the
  mean spend of the *repeat* purchase days, ``m = (total_spent - first_day_spent) / x`` over ``n = x``
  days; the fit uses customers with ``x > 0`` and ``m > 0``. ``E[M | x, m]`` for them; the population mean
  ``p v / (q - 1)`` for customers without a repeat purchase or with ``m <= 0`` (the model has no
  information about them, and cannot produce a non-positive spend). Where the first day's spend is unknown
  (aggregates written before it was kept) ``m`` falls back to ``total_spent / purchase_days``.
* CLV = E[M] x expected purchases month by month over ``clv_horizon_months``, discounted monthly
  (lifetimes' ``customer_lifetime_value``). ``expected_purchases`` covers ``horizon_days``.
  ``churn_risk = 1 - p_alive``: with MBG/NBD it rises with the time since a one-time buyer's purchase
  (BG/NBD takes every one-time buyer to be alive).
* Lead score and funnel stage for everyone (:mod:`shared.scoring.leads`); engagement decays to
  ``config.now`` (default: the end of the ``as_of`` day, UTC).

Degenerate fits never raise:

* fewer than ``min_repeat_customers`` (default 10) repeat customers, or an optimiser failure: purchase
  model status ``insufficient_data`` / ``failed``; ``p_alive``, ``churn_risk``, ``expected_purchases``
  and ``clv`` are NaN for everyone (RFM, segments and lead scores are unaffected);
* the same for Gamma-Gamma (fewer than ``min_repeat_customers`` usable repeat customers, or failure):
  ``expected_order_value`` falls back to the customer's own mean spend (repeat days, or the first day for a
  one-time buyer); the same fallback applies to a row where the fitted formula is undefined
  (``p n + q - 1 <= 0``, or ``q <= 1`` for the population mean);
* no customers at all: breakpoints that would score 3, no model fits, Pareto share ``None``;
* a fit at the edge of the parameter space (small data that looks Poisson: ``r, alpha`` or ``b`` huge)
  is kept; its predictions come from the quadrature form where ``hyp2f1`` fails (:mod:`.bgnbd`).

Not-applicable outputs: RFM scores are 0 and segment ``None`` for non-customers; float outputs are NaN.
:meth:`ScoreFrame.records` turns both into ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field

from shared.scoring._fitting import FitError
from shared.scoring.bgnbd import DAYS_PER_WEEK, WEEKS_PER_MONTH, BgNbdStats
from shared.scoring.distribution import DEFAULT_RELATIVE_ACCURACY
from shared.scoring.gamma_gamma import GammaGammaParams, GammaGammaStats, clv
from shared.scoring.leads import LeadScoringConfig, decayed, funnel_stage, lead_scores
from shared.scoring.pareto import DEFAULT_TOP_FRACTION, pareto_share_from_summary
from shared.scoring.purchase import (
    DEFAULT_PURCHASE_MODEL,
    MODEL_LABELS,
    PURCHASE_MODELS,
    PurchaseModelName,
    PurchaseParams,
    expected_purchases,
    fit_purchase_model,
    p_alive,
    params_from_dict,
)
from shared.scoring.rfm import RfmBreakpoints, RfmSummary, fm_score, segment_for

__all__ = [
    "SCORE_COLUMNS",
    "CustomerFrame",
    "FitStatus",
    "ModelFit",
    "PartitionSummary",
    "ScoreFrame",
    "ScoringConfig",
    "fit",
    "score",
    "summarise",
]

FitStatus = Literal["fitted", "insufficient_data", "failed"]
_UNIX_DAY = np.datetime64("1970-01-01", "D")


# --------------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """``value`` as JSON can hold it: string keys, lists for tuples, ``None`` for NaN and infinities."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dates(values: ArrayLike, n: int, name: str) -> NDArray[np.datetime64]:
    arr = np.asarray(values)
    if arr.size == 0 and n == 0:
        return np.zeros(0, dtype="datetime64[D]")
    if np.issubdtype(arr.dtype, np.integer):
        out: NDArray[np.datetime64] = _UNIX_DAY + arr.astype(np.int64).astype("timedelta64[D]")
    else:
        out = arr.astype("datetime64[D]")
    if out.shape != (n,):
        raise ValueError(f"{name} must have one entry per customer")
    return out


def _column(values: ArrayLike | None, n: int, dtype: type[np.generic], name: str) -> NDArray[Any]:
    if values is None:
        return np.zeros(n, dtype=dtype)
    arr = np.asarray(values, dtype=dtype).reshape(-1)
    if arr.size == 0 and n > 0:
        return np.zeros(n, dtype=dtype)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have one entry per customer")
    return arr


@dataclass(frozen=True)
class CustomerFrame:
    """Customer aggregates as parallel arrays (one entry per customer or prospect).

    ``first_purchase``/``last_purchase`` are ``datetime64[D]`` (NaT without purchases); integer input is
    read as days since 1970-01-01. ``purchase_days`` counts distinct purchase days, ``purchase_count``
    orders; ``first_day_spent`` is the spend of the first purchase day (NaN or omitted: unknown).
    ``engagement`` maps an interaction kind to its *stored* decay sum (see
    :mod:`shared.scoring.leads`). Omitted flag arrays mean ``False``; omitted counts mean 0.
    """

    customer_id: NDArray[Any]  # object (str) ids, or integer codes
    first_purchase: NDArray[np.datetime64]
    last_purchase: NDArray[np.datetime64]
    purchase_days: NDArray[np.int64]
    purchase_count: NDArray[np.int64]
    total_spent: NDArray[np.float64]
    engagement: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)
    has_company: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    has_job_title: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    has_phone: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    first_day_spent: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0, dtype=np.float64))

    def __post_init__(self) -> None:
        raw_ids = np.asarray(self.customer_id)
        # Integer ids (the offline command's customer codes) stay integers: a million Python objects less.
        ids = raw_ids.reshape(-1) if raw_ids.dtype.kind in "iu" else raw_ids.astype(object).reshape(-1)
        n = ids.size
        setter = object.__setattr__
        setter(self, "customer_id", ids)
        setter(self, "first_purchase", _dates(self.first_purchase, n, "first_purchase"))
        setter(self, "last_purchase", _dates(self.last_purchase, n, "last_purchase"))
        setter(self, "purchase_days", _column(self.purchase_days, n, np.int64, "purchase_days"))
        setter(self, "purchase_count", _column(self.purchase_count, n, np.int64, "purchase_count"))
        setter(self, "total_spent", _column(self.total_spent, n, np.float64, "total_spent"))
        first_day = np.asarray(self.first_day_spent, dtype=np.float64).reshape(-1)
        if first_day.size == 0 and n > 0:
            first_day = np.full(n, np.nan)
        setter(self, "first_day_spent", _column(first_day, n, np.float64, "first_day_spent"))
        setter(
            self,
            "engagement",
            {str(k): _column(v, n, np.float64, f"engagement[{k}]") for k, v in self.engagement.items()},
        )
        for name in ("has_company", "has_job_title", "has_phone"):
            setter(self, name, _column(getattr(self, name), n, np.bool_, name))

    def __len__(self) -> int:
        return int(self.customer_id.size)

    @classmethod
    def empty(cls) -> CustomerFrame:
        return cls(
            customer_id=np.zeros(0, dtype=object),
            first_purchase=np.zeros(0, dtype="datetime64[D]"),
            last_purchase=np.zeros(0, dtype="datetime64[D]"),
            purchase_days=np.zeros(0, dtype=np.int64),
            purchase_count=np.zeros(0, dtype=np.int64),
            total_spent=np.zeros(0, dtype=np.float64),
        )

    def take(self, index: ArrayLike) -> CustomerFrame:
        """The sub-frame of the rows ``index`` (integer indices or a boolean mask)."""
        idx = np.asarray(index)
        return CustomerFrame(
            customer_id=self.customer_id[idx],
            first_purchase=self.first_purchase[idx],
            last_purchase=self.last_purchase[idx],
            purchase_days=self.purchase_days[idx],
            purchase_count=self.purchase_count[idx],
            total_spent=self.total_spent[idx],
            engagement={k: v[idx] for k, v in self.engagement.items()},
            has_company=self.has_company[idx],
            has_job_title=self.has_job_title[idx],
            has_phone=self.has_phone[idx],
            first_day_spent=self.first_day_spent[idx],
        )


class ScoringConfig(BaseModel):
    """Settings of one scoring run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: date
    # Instant engagement decays to; default: the end of the as_of day (UTC).
    now: datetime | None = None
    horizon_days: float = Field(default=90.0, gt=0)
    clv_horizon_months: int = Field(default=12, ge=0)
    monthly_discount_rate: float = Field(default=0.01, ge=0)
    weeks_per_month: float = Field(default=WEEKS_PER_MONTH, gt=0)
    min_repeat_customers: int = Field(default=10, ge=1)
    purchase_model: PurchaseModelName = DEFAULT_PURCHASE_MODEL
    pareto_top_fraction: float = Field(default=DEFAULT_TOP_FRACTION, gt=0, le=1)
    lead: LeadScoringConfig = Field(default_factory=LeadScoringConfig)

    def decay_instant(self) -> datetime:
        if self.now is not None:
            return self.now if self.now.tzinfo is not None else self.now.replace(tzinfo=UTC)
        return datetime.combine(self.as_of + timedelta(days=1), time(0), tzinfo=UTC)


@dataclass(frozen=True)
class _Derived:
    """Model inputs of the customers that can be placed in time (``idx`` into the frame)."""

    is_customer: NDArray[np.bool_]
    idx: NDArray[np.intp]
    recency_days: NDArray[np.int64]
    frequency: NDArray[np.int64]
    monetary: NDArray[np.float64]
    x: NDArray[np.int64]
    t_x_days: NDArray[np.int64]
    T_days: NDArray[np.int64]
    mean_value: NDArray[np.float64]  # mean spend of the repeat purchase days (0 without a repeat day)
    own_mean: NDArray[np.float64]  # the customer's own mean spend: repeat days, else the first day


def _day_number(d: date) -> int:
    return int((np.datetime64(d, "D") - _UNIX_DAY).astype(np.int64))


def _derive(frame: CustomerFrame, as_of: date) -> _Derived:
    is_customer = (frame.purchase_days > 0) | (frame.purchase_count > 0)
    dated = ~np.isnat(frame.first_purchase) & ~np.isnat(frame.last_purchase)
    idx = np.flatnonzero(is_customer & dated)
    today = _day_number(as_of)
    first = (frame.first_purchase[idx] - _UNIX_DAY).astype(np.int64)
    last = (frame.last_purchase[idx] - _UNIX_DAY).astype(np.int64)
    last = np.maximum(last, first)
    days = np.maximum(frame.purchase_days[idx], 1)
    spent = np.nan_to_num(frame.total_spent[idx], nan=0.0, posinf=0.0, neginf=0.0)
    t_x = np.where(days > 1, last - first, 0)  # one purchase day: first == last by definition
    x = days - 1
    first_day = frame.first_day_spent[idx]
    known = np.isfinite(first_day)
    with np.errstate(divide="ignore", invalid="ignore"):
        repeat_mean = np.where(known, (spent - np.where(known, first_day, 0.0)) / x, spent / days)
    repeat_mean = np.where(x > 0, repeat_mean, 0.0)
    own_first = np.where(known, first_day, spent)
    return _Derived(
        is_customer=is_customer,
        idx=idx,
        recency_days=np.maximum(today - last, 0),
        frequency=np.maximum(frame.purchase_count[idx], days),
        monetary=spent,
        x=x,
        t_x_days=t_x,
        T_days=np.maximum(today - first, t_x),
        mean_value=repeat_mean,
        own_mean=np.maximum(np.where(x > 0, repeat_mean, own_first), 0.0),
    )


# --------------------------------------------------------------------------------------------------------
# Phase 1: summaries
# --------------------------------------------------------------------------------------------------------


@dataclass
class PartitionSummary:
    """Mergeable summary of one partition (JSON via ``to_dict``/``from_dict``)."""

    as_of: date
    n_rows: int
    n_customers: int
    n_modelled: int
    rfm: RfmSummary
    bgnbd: BgNbdStats
    gamma_gamma: GammaGammaStats

    @classmethod
    def empty(
        cls,
        as_of: date,
        money_relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
        bgnbd_resolution_days: int = 1,
    ) -> PartitionSummary:
        return cls(
            as_of=as_of,
            n_rows=0,
            n_customers=0,
            n_modelled=0,
            rfm=RfmSummary.empty(money_relative_accuracy),
            bgnbd=BgNbdStats(bgnbd_resolution_days),
            gamma_gamma=GammaGammaStats(money_relative_accuracy),
        )

    def merge(self, other: PartitionSummary) -> PartitionSummary:
        if other.as_of != self.as_of:
            raise ValueError(f"cannot merge summaries as of {other.as_of} and {self.as_of}")
        return PartitionSummary(
            as_of=self.as_of,
            n_rows=self.n_rows + other.n_rows,
            n_customers=self.n_customers + other.n_customers,
            n_modelled=self.n_modelled + other.n_modelled,
            rfm=self.rfm.merge(other.rfm),
            bgnbd=self.bgnbd.merge(other.bgnbd),
            gamma_gamma=self.gamma_gamma.merge(other.gamma_gamma),
        )

    @classmethod
    def merge_all(cls, summaries: Iterable[PartitionSummary]) -> PartitionSummary:
        merged: PartitionSummary | None = None
        for s in summaries:
            merged = s if merged is None else merged.merge(s)
        if merged is None:
            raise ValueError("no summaries to merge")
        return merged

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "n_rows": self.n_rows,
            "n_customers": self.n_customers,
            "n_modelled": self.n_modelled,
            "rfm": self.rfm.to_dict(),
            "bgnbd": self.bgnbd.to_dict(),
            "gamma_gamma": self.gamma_gamma.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartitionSummary:
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            n_rows=int(data["n_rows"]),
            n_customers=int(data["n_customers"]),
            n_modelled=int(data["n_modelled"]),
            rfm=RfmSummary.from_dict(data["rfm"]),
            bgnbd=BgNbdStats.from_dict(data["bgnbd"]),
            gamma_gamma=GammaGammaStats.from_dict(data["gamma_gamma"]),
        )


def summarise(
    frame: CustomerFrame,
    as_of: date,
    *,
    money_relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY,
    bgnbd_resolution_days: int = 1,
    gamma_gamma_relative_accuracy: float | None = None,
) -> PartitionSummary:
    """Phase 1: the mergeable summary of one partition of customers.

    ``money_relative_accuracy`` is the log-bin width of the money summaries (RFM monetary, Pareto,
    Gamma-Gamma); ``bgnbd_resolution_days`` the unit ``t_x`` and ``T`` are rounded to in the BG/NBD
    statistics (1: exact). The statistics' size grows with the number of distinct ``(x, t_x, T)`` rows —
    about 430,000 for a million customers spread over two years at 1 day (6.8 MB of JSON); 7 days cuts that
    roughly sevenfold at the cost of up to half a week of rounding. All partitions of a run must use the
    same settings (merging checks). ``gamma_gamma_relative_accuracy`` (default: ``money_relative_accuracy``)
    is the bin width of the Gamma-Gamma statistics; the offline command uses 1e-9 (exact to that accuracy).
    """
    d = _derive(frame, as_of)
    summary = PartitionSummary.empty(as_of, money_relative_accuracy, bgnbd_resolution_days)
    if gamma_gamma_relative_accuracy is not None:
        summary.gamma_gamma = GammaGammaStats(gamma_gamma_relative_accuracy)
    summary.n_rows = len(frame)
    summary.n_customers = int(np.count_nonzero(d.is_customer))
    summary.n_modelled = int(d.idx.size)
    summary.rfm.add(d.recency_days, d.frequency, d.monetary)
    summary.bgnbd.add(d.x, d.t_x_days, d.T_days)
    repeat = d.x > 0
    summary.gamma_gamma.add(d.x[repeat], d.mean_value[repeat])
    return summary


# --------------------------------------------------------------------------------------------------------
# Phase 2: one global fit
# --------------------------------------------------------------------------------------------------------


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class ModelFit:
    """Everything the scoring phase needs, from the merged summary (JSON via ``to_dict``/``from_dict``)."""

    as_of: date
    n_rows: int
    n_customers: int
    n_modelled: int
    n_repeat_customers: int
    rfm: RfmBreakpoints
    purchase_model: PurchaseModelName
    purchase: PurchaseParams | None
    purchase_status: FitStatus
    gamma_gamma: GammaGammaParams | None
    gamma_gamma_status: FitStatus
    pareto_share: float | None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "n_rows": self.n_rows,
            "n_customers": self.n_customers,
            "n_modelled": self.n_modelled,
            "n_repeat_customers": self.n_repeat_customers,
            "rfm": self.rfm.to_dict(),
            "purchase_model": self.purchase_model,
            "purchase": None if self.purchase is None else self.purchase.to_dict(),
            "purchase_status": self.purchase_status,
            "gamma_gamma": None if self.gamma_gamma is None else self.gamma_gamma.to_dict(),
            "gamma_gamma_status": self.gamma_gamma_status,
            "pareto_share": self.pareto_share,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFit:
        statuses = ("fitted", "insufficient_data", "failed")
        bg_status = data["purchase_status"]
        gg_status = data["gamma_gamma_status"]
        if bg_status not in statuses or gg_status not in statuses:
            raise ValueError("unknown fit status")
        name = data["purchase_model"]
        if name not in PURCHASE_MODELS:
            raise ValueError(f"unknown purchase model {name!r}")
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            n_rows=int(data["n_rows"]),
            n_customers=int(data["n_customers"]),
            n_modelled=int(data["n_modelled"]),
            n_repeat_customers=int(data["n_repeat_customers"]),
            rfm=RfmBreakpoints.from_dict(data["rfm"]),
            purchase_model=name,
            purchase=None if data.get("purchase") is None else params_from_dict(name, data["purchase"]),
            purchase_status=bg_status,
            gamma_gamma=None
            if data.get("gamma_gamma") is None
            else GammaGammaParams.from_dict(data["gamma_gamma"]),
            gamma_gamma_status=gg_status,
            pareto_share=_opt_float(data.get("pareto_share")),
            notes=tuple(str(n) for n in data.get("notes", [])),
        )


def fit(summary: PartitionSummary, config: ScoringConfig) -> ModelFit:
    """Phase 2: breakpoints, purchase-model and Gamma-Gamma fits (with fallbacks), Pareto share.

    Never raises because of the data (degenerate fits get a status and a note).
    """
    if summary.as_of != config.as_of:
        raise ValueError(f"summary is as of {summary.as_of}, config as of {config.as_of}")
    notes: list[str] = []
    n_repeat = summary.bgnbd.n_repeat_customers

    purchase: PurchaseParams | None = None
    bg_status: FitStatus
    label = MODEL_LABELS[config.purchase_model]
    if n_repeat < config.min_repeat_customers:
        bg_status = "insufficient_data"
        notes.append(f"{label} not fitted: {n_repeat} repeat customers < {config.min_repeat_customers}")
    else:
        try:
            x, t_x, T, count = summary.bgnbd.weeks()  # noqa: N806
            purchase = fit_purchase_model(config.purchase_model, x, t_x, T, count)
            bg_status = "fitted"
        except (FitError, ValueError, FloatingPointError) as exc:
            bg_status = "failed"
            notes.append(f"{label} fit failed: {exc}")

    gamma_gamma: GammaGammaParams | None = None
    gg_status: FitStatus
    n_gg = summary.gamma_gamma.n_customers
    if n_gg < config.min_repeat_customers:
        gg_status = "insufficient_data"
        notes.append(
            f"Gamma-Gamma not fitted: {n_gg} usable repeat customers < {config.min_repeat_customers}"
        )
    else:
        try:
            gamma_gamma = summary.gamma_gamma.fit()
            gg_status = "fitted"
        except (FitError, ValueError, FloatingPointError) as exc:
            gg_status = "failed"
            notes.append(f"Gamma-Gamma fit failed: {exc}")

    return ModelFit(
        as_of=summary.as_of,
        n_rows=summary.n_rows,
        n_customers=summary.n_customers,
        n_modelled=summary.n_modelled,
        n_repeat_customers=n_repeat,
        rfm=summary.rfm.breakpoints(),
        purchase_model=config.purchase_model,
        purchase=purchase,
        purchase_status=bg_status,
        gamma_gamma=gamma_gamma,
        gamma_gamma_status=gg_status,
        pareto_share=pareto_share_from_summary(summary.rfm.monetary, config.pareto_top_fraction),
        notes=tuple(notes),
    )


# --------------------------------------------------------------------------------------------------------
# Phase 3: scores
# --------------------------------------------------------------------------------------------------------

SCORE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "is_customer",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "fm_score",
    "segment",
    "lead_score",
    "stage",
    "p_alive",
    "churn_risk",
    "expected_purchases",
    "expected_order_value",
    "clv",
)
_INT_COLUMNS = frozenset({"recency_score", "frequency_score", "monetary_score", "fm_score"})
_FLOAT_COLUMNS = frozenset(
    {"lead_score", "p_alive", "churn_risk", "expected_purchases", "expected_order_value", "clv"}
)


@dataclass(frozen=True)
class ScoreFrame:
    """Per-customer outputs, parallel to the scored :class:`CustomerFrame`.

    RFM scores are 1..5 (0: not applicable), ``segment`` is ``None`` for non-customers, float outputs are
    NaN where not applicable or not available (see the module docstring).
    """

    customer_id: NDArray[Any]
    is_customer: NDArray[np.bool_]
    recency_score: NDArray[np.int8]
    frequency_score: NDArray[np.int8]
    monetary_score: NDArray[np.int8]
    fm_score: NDArray[np.int8]
    segment: NDArray[np.object_]
    lead_score: NDArray[np.float64]
    stage: NDArray[np.object_]
    p_alive: NDArray[np.float64]
    churn_risk: NDArray[np.float64]
    expected_purchases: NDArray[np.float64]
    expected_order_value: NDArray[np.float64]
    clv: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.customer_id.size)

    def records(self) -> Iterator[dict[str, Any]]:
        """One dict per customer with Python values; not-applicable values are ``None``."""
        columns: list[Sequence[Any]] = [getattr(self, name).tolist() for name in SCORE_COLUMNS]
        for row in zip(*columns, strict=True):
            record: dict[str, Any] = {}
            for name, value in zip(SCORE_COLUMNS, row, strict=True):
                if name in _INT_COLUMNS:
                    record[name] = value if value > 0 else None
                elif name in _FLOAT_COLUMNS:
                    record[name] = value if math.isfinite(value) else None
                else:
                    record[name] = value
            yield record


def _nan(n: int) -> NDArray[np.float64]:
    return np.full(n, np.nan, dtype=np.float64)


def score(frame: CustomerFrame, model: ModelFit, config: ScoringConfig) -> ScoreFrame:
    """Phase 3: every per-customer output for one partition, vectorised."""
    if model.as_of != config.as_of:
        raise ValueError(f"model is as of {model.as_of}, config as of {config.as_of}")
    if model.purchase_model != config.purchase_model:
        raise ValueError(f"model is {model.purchase_model}, config asks for {config.purchase_model}")
    n = len(frame)
    d = _derive(frame, config.as_of)
    idx = d.idx

    r_s = np.zeros(n, dtype=np.int8)
    f_s = np.zeros(n, dtype=np.int8)
    m_s = np.zeros(n, dtype=np.int8)
    fm_s = np.zeros(n, dtype=np.int8)
    segment = np.full(n, None, dtype=object)
    if idx.size:
        r, f, m = model.rfm.score(d.recency_days, d.frequency, d.monetary)
        fm = fm_score(f, m)
        r_s[idx], f_s[idx], m_s[idx], fm_s[idx] = r, f, m, fm
        segment[idx] = segment_for(r, fm)

    now = config.decay_instant()
    half_life = config.lead.half_life_days
    engagement = {kind: decayed(stored, now, half_life) for kind, stored in frame.engagement.items()}
    lead = lead_scores(engagement, frame.has_company, frame.has_job_title, frame.has_phone, config.lead)
    stage = funnel_stage(lead, d.is_customer, config.lead)

    alive = _nan(n)
    churn = _nan(n)
    expected = _nan(n)
    value = _nan(n)
    lifetime = _nan(n)
    if idx.size:
        eov = d.own_mean
        if model.gamma_gamma is not None:
            informative = (d.x > 0) & (d.mean_value > 0)
            # No repeat purchase or no positive repeat spend: the population mean (x = 0 in the formula).
            fitted = model.gamma_gamma.expected_average_value(
                np.where(informative, d.x, 0), np.where(informative, d.mean_value, 0.0)
            )
            eov = np.where(np.isfinite(fitted), fitted, d.own_mean)
        value[idx] = eov
        if model.purchase is not None:
            x = d.x.astype(np.float64)
            t_x = d.t_x_days / DAYS_PER_WEEK
            big_t = d.T_days / DAYS_PER_WEEK
            pa = p_alive(model.purchase, x, t_x, big_t)
            alive[idx] = pa
            churn[idx] = 1.0 - pa
            expected[idx] = expected_purchases(
                model.purchase, config.horizon_days / DAYS_PER_WEEK, x, t_x, big_t
            )
            lifetime[idx] = clv(
                model.purchase,
                x,
                t_x,
                big_t,
                eov,
                months=config.clv_horizon_months,
                monthly_discount_rate=config.monthly_discount_rate,
                weeks_per_month=config.weeks_per_month,
            )

    return ScoreFrame(
        customer_id=frame.customer_id,
        is_customer=d.is_customer,
        recency_score=r_s,
        frequency_score=f_s,
        monetary_score=m_s,
        fm_score=fm_s,
        segment=segment,
        lead_score=lead,
        stage=stage,
        p_alive=alive,
        churn_risk=churn,
        expected_purchases=expected,
        expected_order_value=value,
        clv=lifetime,
    )
