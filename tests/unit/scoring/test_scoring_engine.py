"""The engine: two-phase API over partitions, JSON round trips, fallbacks and not-applicable rows."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from shared.scoring import engine
from shared.scoring.bgnbd import FitError
from shared.scoring.engine import (
    CustomerFrame,
    ModelFit,
    PartitionSummary,
    ScoreFrame,
    ScoringConfig,
    fit,
    score,
    summarise,
)
from shared.scoring.leads import decay_weight
from shared.scoring.rfm import SEGMENTS
from shared.scoring.transactions import frame_from_transactions

AS_OF = date(2026, 6, 30)


def _run(frame: CustomerFrame, config: ScoringConfig, n_parts: int) -> tuple[ModelFit, ScoreFrame]:
    """The cloud path: partitions summarised, summaries and fit passed as JSON, partitions scored."""
    parts = np.array_split(np.random.default_rng(n_parts).permutation(len(frame)), n_parts)
    payloads = [json.dumps(summarise(frame.take(p), config.as_of).to_dict(), allow_nan=False) for p in parts]
    merged = PartitionSummary.merge_all(PartitionSummary.from_dict(json.loads(s)) for s in payloads)
    model = ModelFit.from_dict(json.loads(json.dumps(fit(merged, config).to_dict(), allow_nan=False)))
    scored = [score(frame.take(p), model, config) for p in parts]
    order = np.argsort(np.concatenate(parts))
    columns = {
        name: np.concatenate([getattr(s, name) for s in scored])[order]
        for name in ScoreFrame.__dataclass_fields__
    }
    return model, ScoreFrame(**columns)


def _assert_same_scores(a: ScoreFrame, b: ScoreFrame) -> None:
    for name in ScoreFrame.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-9, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.fixture(scope="module")
def cdnow_frame(cdnow_transactions: Any, cdnow_calibration_end: date) -> CustomerFrame:
    tx = cdnow_transactions
    return frame_from_transactions(tx.id, tx.date, tx.amount, as_of=cdnow_calibration_end)


def test_cdnow_through_the_engine_reproduces_the_published_fit(
    cdnow_frame: CustomerFrame, cdnow_calibration_end: date
) -> None:
    config = ScoringConfig(as_of=cdnow_calibration_end, purchase_model="bgnbd")
    model, scores = _run(cdnow_frame, config, n_parts=4)
    assert model.purchase_status == "fitted"
    assert model.purchase is not None
    for name, value in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert getattr(model.purchase, name) == pytest.approx(value, rel=0.005), name
    assert model.purchase.loglik == pytest.approx(-9582.4, abs=0.5)
    assert (model.n_customers, model.n_repeat_customers) == (2357, 946)
    assert model.gamma_gamma_status == "fitted"
    assert model.pareto_share is not None
    assert 0.2 < model.pareto_share < 1.0
    # Partitioned and single-pass runs give the same model and the same scores.
    single_model, single_scores = _run(cdnow_frame, config, n_parts=1)
    assert single_model.rfm == model.rfm
    assert single_model.purchase == model.purchase
    assert single_model.gamma_gamma is not None
    assert model.gamma_gamma is not None
    assert single_model.gamma_gamma.p == pytest.approx(model.gamma_gamma.p, rel=1e-6)
    _assert_same_scores(scores, single_scores)


def test_cdnow_scores_are_consistent(cdnow_frame: CustomerFrame, cdnow_calibration_end: date) -> None:
    config = ScoringConfig(as_of=cdnow_calibration_end)
    _, s = _run(cdnow_frame, config, n_parts=3)
    assert np.all(s.is_customer)
    for col in (s.recency_score, s.frequency_score, s.monetary_score, s.fm_score):
        assert col.min() >= 1
        assert col.max() <= 5
    assert set(s.segment.tolist()) <= set(SEGMENTS)
    assert set(s.stage.tolist()) == {"customer"}
    assert np.all((s.p_alive >= 0) & (s.p_alive <= 1))
    np.testing.assert_allclose(s.churn_risk, 1 - s.p_alive)
    repeat = cdnow_frame.purchase_days > 1
    # MBG/NBD (the default): a one-time buyer may have dropped out, the more likely the longer ago they
    # bought, so churn risk follows recency; BG/NBD takes every one-time buyer to be alive.
    once = np.flatnonzero(~repeat)
    assert np.all(s.p_alive[once] < 1.0)
    by_age = once[np.argsort(cdnow_frame.first_purchase[once])[::-1]]  # most recent first purchase first
    assert np.all(np.diff(s.churn_risk[by_age]) >= 0)
    assert s.churn_risk[by_age[-1]] > s.churn_risk[by_age[0]]
    _, bg = _run(cdnow_frame, config.model_copy(update={"purchase_model": "bgnbd"}), n_parts=1)
    np.testing.assert_array_equal(bg.p_alive[~repeat], 1.0)
    assert np.all(s.expected_purchases > 0)
    assert np.all(s.expected_order_value > 0)
    assert np.all(s.clv > 0)
    # One-time buyers (about 60 %) all get F = 1, by the tie rule.
    assert set(s.frequency_score[cdnow_frame.purchase_count == 1].tolist()) == {1}
    # CLV = expected order value x discounted expected purchases: it tracks their product closely.
    assert np.corrcoef(s.clv, s.expected_purchases * s.expected_order_value)[0, 1] > 0.95


def _synthetic_frame(
    simulator: Callable[..., Any], gg: Callable[..., np.ndarray], n: int, seed: int
) -> CustomerFrame:
    rng = np.random.default_rng(seed)
    age_days = rng.integers(0, 500, n)
    sample = simulator(rng, age_days / 7.0, r=0.6, alpha=5.0, a=0.7, b=2.8)
    t_x_days = np.minimum(np.floor(sample.t_x * 7).astype(np.int64), age_days)
    days = sample.x.astype(np.int64) + 1
    spend = gg(rng, days, 6.0, 4.0, 15.0) * days
    first = np.datetime64(AS_OF, "D") - age_days.astype("timedelta64[D]")
    prospects = n // 5
    nat = np.full(prospects, np.datetime64("NaT"), dtype="datetime64[D]")
    return CustomerFrame(
        customer_id=np.array([f"c{i}" for i in range(n + prospects)], dtype=object),
        first_purchase=np.concatenate([first, nat]),
        last_purchase=np.concatenate([first + t_x_days.astype("timedelta64[D]"), nat]),
        purchase_days=np.concatenate([days, np.zeros(prospects, dtype=np.int64)]),
        purchase_count=np.concatenate([days + rng.binomial(days, 0.2), np.zeros(prospects, dtype=np.int64)]),
        total_spent=np.concatenate([np.round(spend, 2), np.zeros(prospects)]),
        engagement={"page_view": rng.poisson(3.0, n + prospects) * decay_weight(datetime(2026, 6, 1), 30.0)},
        has_company=rng.random(n + prospects) < 0.5,
    )


def test_synthetic_customers_and_prospects(
    bgnbd_simulator: Callable[..., Any], gamma_gamma_simulator: Callable[..., np.ndarray]
) -> None:
    frame = _synthetic_frame(bgnbd_simulator, gamma_gamma_simulator, 6000, seed=1)
    config = ScoringConfig(as_of=AS_OF, purchase_model="bgnbd")  # the data are drawn from BG/NBD
    model, s = _run(frame, config, n_parts=5)
    assert model.purchase is not None
    assert model.purchase.r == pytest.approx(0.6, rel=0.25)
    assert model.n_rows == 7200
    assert model.n_customers == 6000
    customer = s.is_customer
    assert customer.sum() == 6000
    # Prospects: no RFM, no models; stage from the lead score only.
    assert np.all(s.recency_score[~customer] == 0)
    assert all(v is None for v in s.segment[~customer])
    assert np.all(np.isnan(s.p_alive[~customer]))
    assert np.all(np.isnan(s.clv[~customer]))
    assert set(s.stage[~customer].tolist()) <= {"subscriber", "lead", "marketing_qualified"}
    assert set(s.stage[customer].tolist()) == {"customer"}
    # Customers: everything applicable is there.
    assert np.all(np.isfinite(s.clv[customer]))
    assert np.all(s.clv[customer] >= 0)
    assert np.all(s.expected_order_value[customer] > 0)
    records = list(s.records())
    prospect = records[-1]
    assert prospect["recency_score"] is None
    assert prospect["segment"] is None
    assert prospect["p_alive"] is None
    assert isinstance(prospect["lead_score"], float)
    buyer = records[0]
    assert buyer["segment"] in SEGMENTS
    assert isinstance(buyer["recency_score"], int)
    assert 0.0 <= buyer["p_alive"] <= 1.0


def test_tiny_population_falls_back_without_crashing() -> None:
    frame = CustomerFrame(
        customer_id=["a", "b", "c", "d"],
        first_purchase=np.array(["2026-01-05", "2026-03-01", "2026-06-01", "NaT"], dtype="datetime64[D]"),
        last_purchase=np.array(["2026-04-05", "2026-03-01", "2026-06-01", "NaT"], dtype="datetime64[D]"),
        purchase_days=[3, 1, 1, 0],
        purchase_count=[3, 1, 2, 0],
        total_spent=[90.0, 20.0, 35.0, 0.0],
    )
    config = ScoringConfig(as_of=AS_OF)
    model = fit(summarise(frame, AS_OF), config)
    assert model.purchase is None
    assert model.purchase_status == "insufficient_data"
    assert model.gamma_gamma_status == "insufficient_data"
    assert len(model.notes) == 2
    s = score(frame, model, config)
    assert s.recency_score[:3].min() >= 1
    assert s.recency_score[3] == 0
    assert np.all(np.isnan(s.p_alive))
    assert np.all(np.isnan(s.clv))
    # Without a Gamma-Gamma fit the expected order value is the customer's own mean spend per purchase day.
    np.testing.assert_allclose(s.expected_order_value[:3], [30.0, 20.0, 35.0])
    assert s.stage.tolist() == ["customer", "customer", "customer", "subscriber"]


def test_optimiser_failure_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch, cdnow_frame: CustomerFrame
) -> None:
    def broken(*_rows: object) -> None:
        raise FitError("no finite likelihood at any starting point")

    monkeypatch.setattr(engine, "fit_purchase_model", broken)  # the engine's one way to fit
    as_of = date(1997, 9, 30)
    config = ScoringConfig(as_of=as_of)
    model = fit(summarise(cdnow_frame, as_of), config)
    assert model.purchase_status == "failed"
    assert model.purchase is None
    assert any("BG/NBD fit failed" in n for n in model.notes)
    assert model.gamma_gamma_status == "fitted"
    s = score(cdnow_frame, model, config)
    assert np.all(np.isnan(s.clv))
    assert np.all(np.isfinite(s.expected_order_value))


def test_empty_frame() -> None:
    config = ScoringConfig(as_of=AS_OF)
    model = fit(summarise(CustomerFrame.empty(), AS_OF), config)
    assert model.n_rows == 0
    assert model.pareto_share is None
    assert model.purchase_status == "insufficient_data"
    s = score(CustomerFrame.empty(), model, config)
    assert len(s) == 0
    assert list(s.records()) == []
    # The fit of nothing is valid JSON and scores anyone 3.
    back = ModelFit.from_dict(json.loads(json.dumps(model.to_dict(), allow_nan=False)))
    assert back == model


def test_engagement_decays_to_the_configured_instant() -> None:
    now = datetime(2026, 7, 1, tzinfo=UTC)
    stored = decay_weight(now - timedelta(days=30), 30.0) + decay_weight(now - timedelta(days=60), 30.0)
    frame = CustomerFrame(
        customer_id=["p"],
        first_purchase=np.array(["NaT"], dtype="datetime64[D]"),
        last_purchase=np.array(["NaT"], dtype="datetime64[D]"),
        purchase_days=[0],
        purchase_count=[0],
        total_spent=[0.0],
        engagement={"contact_request": [stored]},
        has_phone=[True],
    )
    config = ScoringConfig(as_of=AS_OF, now=now)
    s = score(frame, fit(summarise(frame, AS_OF), config), config)
    assert s.lead_score[0] == pytest.approx(25 * (0.5 + 0.25) + 10)
    assert s.stage[0] == "lead"
    # The default instant is the end of the as_of day, which here is the same.
    default = ScoringConfig(as_of=AS_OF)
    assert default.decay_instant() == now


def test_inconsistent_rows_are_clipped() -> None:
    frame = CustomerFrame(
        customer_id=["late", "reversed", "count-only"],
        first_purchase=np.array(["2026-07-10", "2026-05-01", "2026-01-01"], dtype="datetime64[D]"),
        last_purchase=np.array(["2026-07-20", "2026-04-01", "2026-02-01"], dtype="datetime64[D]"),
        purchase_days=[2, 2, 0],
        purchase_count=[2, 2, 3],
        total_spent=[10.0, math.nan, 30.0],
    )
    d = engine._derive(frame, AS_OF)
    assert d.recency_days.tolist() == [0, 60, 149]
    assert d.t_x_days.tolist() == [10, 0, 0]
    assert np.all(d.T_days >= d.t_x_days)
    assert d.x.tolist() == [1, 1, 0]
    assert d.monetary.tolist() == [10.0, 0.0, 30.0]
    config = ScoringConfig(as_of=AS_OF)
    s = score(frame, fit(summarise(frame, AS_OF), config), config)
    assert s.stage.tolist() == ["customer"] * 3


def test_integer_days_and_validation() -> None:
    frame = CustomerFrame(
        customer_id=["a"],
        first_purchase=[20_000],
        last_purchase=[20_010],
        purchase_days=[2],
        purchase_count=[2],
        total_spent=[5.0],
    )
    assert frame.first_purchase[0] == np.datetime64("2024-10-04")
    assert frame.has_company.tolist() == [False]
    with pytest.raises(ValueError, match="one entry per customer"):
        CustomerFrame(
            customer_id=["a", "b"],
            first_purchase=[1],
            last_purchase=[1, 2],
            purchase_days=[1, 1],
            purchase_count=[1, 1],
            total_spent=[1.0, 1.0],
        )


def test_dates_must_agree() -> None:
    config = ScoringConfig(as_of=AS_OF)
    summary = summarise(CustomerFrame.empty(), AS_OF)
    with pytest.raises(ValueError, match="as of"):
        fit(summary, ScoringConfig(as_of=date(2026, 1, 1)))
    with pytest.raises(ValueError, match="as of"):
        summary.merge(summarise(CustomerFrame.empty(), date(2026, 1, 1)))
    with pytest.raises(ValueError, match="as of"):
        score(CustomerFrame.empty(), fit(summary, config), ScoringConfig(as_of=date(2026, 1, 1)))
    with pytest.raises(ValueError, match="no summaries"):
        PartitionSummary.merge_all([])
