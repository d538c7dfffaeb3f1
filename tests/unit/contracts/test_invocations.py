"""Invocation payloads of the score and export functions, parsed at the edge into models."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from shared.invocations import (
    DEFAULT_SEGMENTS,
    ExportInvocation,
    FailPhase,
    RecordedExport,
    RunPhase,
    ScoringRunExport,
    SegmentPhase,
    StartPhase,
    parse_scoring_phase,
)


def test_a_payload_without_phase_is_a_start_with_defaults() -> None:
    assert parse_scoring_phase({}) == StartPhase(run_id=None, as_of=None, total_segments=DEFAULT_SEGMENTS)


def test_the_admin_api_start_keeps_its_run_id_date_and_segments() -> None:
    started = parse_scoring_phase(
        {"phase": "start", "run_id": "score-1", "as_of": "1998-06-30", "total_segments": 8, "trigger": "api"}
    )
    assert started == StartPhase(run_id="score-1", as_of=date(1998, 6, 30), total_segments=8)


@pytest.mark.parametrize(
    ("payload", "model"),
    [
        ({"phase": "summarise", "run_id": "r", "segment": 0, "total_segments": 4}, SegmentPhase),
        ({"phase": "apply", "run_id": "r", "segment": 3, "total_segments": 4}, SegmentPhase),
        ({"phase": "fit", "run_id": "r"}, RunPhase),
        ({"phase": "finish", "run_id": "r"}, RunPhase),
        ({"phase": "fail", "run_id": "r", "error": {"Error": "E", "Cause": "c"}}, FailPhase),
    ],
)
def test_each_phase_parses_into_its_model(payload: dict[str, object], model: type) -> None:
    parsed = parse_scoring_phase(payload)
    assert type(parsed) is model
    assert parsed.phase == payload["phase"]


@pytest.mark.parametrize(
    "payload",
    [
        {"phase": "apply", "segment": 1, "total_segments": 4},  # no run id after start
        {"phase": "summarise", "run_id": "r", "segment": -1, "total_segments": 4},
        {"phase": "summarise", "run_id": "r", "total_segments": 4},  # no segment
        {"phase": "polish", "run_id": "r"},
        {"phase": "start", "total_segments": 0},
        {"phase": "start", "as_of": "last tuesday"},
    ],
)
def test_a_malformed_phase_is_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse_scoring_phase(payload)


def test_export_invocations_are_told_apart_by_trigger() -> None:
    run = ExportInvocation.model_validate({"trigger": "scoring_run", "run_id": "score-1"}).root
    recorded = ExportInvocation.model_validate({"trigger": "api", "export_id": "export-1"}).root
    assert run == ScoringRunExport(trigger="scoring_run", run_id="score-1")
    assert recorded == RecordedExport(trigger="api", export_id="export-1")
    with pytest.raises(ValidationError):
        ExportInvocation.model_validate({"trigger": "cron", "run_id": "score-1"})
    with pytest.raises(ValidationError):
        ExportInvocation.model_validate({"trigger": "api"})
