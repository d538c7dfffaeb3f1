"""Lead scoring: ADD-able decay sums, the reading side, score and funnel stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.scoring.leads import (
    EPOCH,
    LeadScoringConfig,
    decay_weight,
    decayed,
    funnel_stage,
    lead_scores,
)


def test_decay_weight_is_one_at_the_epoch_and_doubles_per_half_life() -> None:
    assert decay_weight(EPOCH, 30.0) == 1.0
    assert decay_weight(EPOCH + timedelta(days=30), 30.0) == pytest.approx(2.0)
    assert decay_weight(EPOCH - timedelta(days=60), 30.0) == pytest.approx(0.25)
    # A naive datetime is UTC.
    assert decay_weight(datetime(2020, 1, 31), 30.0) == pytest.approx(2.0)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5 * 365 * 24), min_size=0, max_size=30),
    st.integers(min_value=0, max_value=400 * 24),
    st.floats(min_value=5.0, max_value=120.0),  # 5 years / 5 days stays below MAX_EXPONENT
)
def test_added_weights_read_back_as_exponential_decay(hours: list[int], later: int, half_life: float) -> None:
    """Summing write-time weights and scaling at read time equals sum_i 2**(-(now - t_i) / h)."""
    events = [EPOCH + timedelta(hours=h) for h in hours]
    now = EPOCH + timedelta(hours=max(hours, default=0) + later)
    stored = sum(decay_weight(t, half_life) for t in events)
    want = sum(2.0 ** (-(now - t).total_seconds() / 86400.0 / half_life) for t in events)
    assert decayed(np.array([stored]), now, half_life)[0] == pytest.approx(want, rel=1e-9, abs=1e-300)


def test_decay_weight_refuses_values_dynamodb_cannot_store() -> None:
    with pytest.raises(ValueError, match="EPOCH"):
        decay_weight(datetime(2040, 1, 1, tzinfo=UTC), 7.0)
    assert decay_weight(datetime(2040, 1, 1, tzinfo=UTC), 30.0) < 1e125
    with pytest.raises(ValueError, match="half_life"):
        decay_weight(EPOCH, 0.0)


def test_decayed_treats_missing_sums_as_zero() -> None:
    out = decayed(np.array([np.nan, 4.0]), EPOCH + timedelta(days=30), 30.0)
    np.testing.assert_allclose(out, [0.0, 2.0])


def test_lead_score_and_stage_with_the_defaults() -> None:
    config = LeadScoringConfig()
    engagement = {
        "contact_request": np.array([1.0, 0.0, 0.0, 0.0, 0.0]),
        "form_post": np.array([0.0, 1.0, 0.0, 0.0, 0.0]),
        "page_view": np.array([0.0, 0.0, 14.0, 15.0, 2.0]),
        "unknown_kind": np.array([100.0, 100.0, 100.0, 100.0, 100.0]),
    }
    company = np.array([True, True, False, False, False])
    phone = np.array([True, False, False, False, False])
    job = np.zeros(5, dtype=bool)
    score = lead_scores(engagement, company, job, phone, config)
    np.testing.assert_allclose(score, [25 + 5 + 10, 10 + 5, 14, 15, 2])
    stage = funnel_stage(score, np.array([False, False, False, False, True]), config)
    assert stage.tolist() == ["marketing_qualified", "lead", "subscriber", "lead", "customer"]


@settings(max_examples=100, deadline=None)
@given(
    st.floats(min_value=0, max_value=100),
    st.floats(min_value=0, max_value=100),
    st.lists(st.floats(min_value=0, max_value=200), min_size=1, max_size=20),
)
def test_stage_is_monotone_in_the_score(lead: float, gap: float, scores: list[float]) -> None:
    config = LeadScoringConfig(lead_threshold=lead, mql_threshold=lead + gap)
    s = np.sort(np.asarray(scores))
    rank = {"subscriber": 0, "lead": 1, "marketing_qualified": 2}
    stages = [rank[x] for x in funnel_stage(s, np.zeros(s.size, dtype=bool), config).tolist()]
    assert stages == sorted(stages)
    assert funnel_stage(s, np.ones(s.size, dtype=bool), config).tolist() == ["customer"] * s.size


def test_config_validates_thresholds_and_half_life() -> None:
    with pytest.raises(ValidationError):
        LeadScoringConfig(lead_threshold=50, mql_threshold=10)
    with pytest.raises(ValidationError):
        LeadScoringConfig(half_life_days=0)
    custom = LeadScoringConfig(weights={"webinar": 12.0})
    assert custom.weights == {"webinar": 12.0}
