"""Direct invocation payloads (not bus events): what the scoring state machine and the admin API send to
the ``score`` and ``export`` functions. One model per payload, parsed at the handler's edge; the state
machine in ``infra/constructs/scoring.py`` builds exactly these shapes (a test pins both sides).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

DEFAULT_SEGMENTS = 4
"""Parallel scan segments of a scoring run when the caller names none (the schedule)."""


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)  # the execution input may carry more keys


class StartPhase(_Payload):
    """The execution input (admin API: run_id, total_segments, as_of; schedule: trigger only) + the phase."""

    phase: Literal["start"] = "start"
    run_id: str | None = None
    as_of: date | None = None
    total_segments: int = Field(default=DEFAULT_SEGMENTS, ge=1, le=1000)


class SegmentPhase(_Payload):
    phase: Literal["summarise", "apply"]
    run_id: str
    segment: int = Field(ge=0)
    total_segments: int = Field(ge=1, le=1000)


class RunPhase(_Payload):
    phase: Literal["fit", "finish"]
    run_id: str


class FailPhase(_Payload):
    phase: Literal["fail"]
    run_id: str
    error: Any = "unknown error"  # the Catch's {"Error", "Cause"} object


class ScoringPhase(
    RootModel[Annotated[StartPhase | SegmentPhase | RunPhase | FailPhase, Field(discriminator="phase")]]
):
    """One invocation of the score function; a payload without ``phase`` is a start."""


def parse_scoring_phase(event: dict[str, Any]) -> StartPhase | SegmentPhase | RunPhase | FailPhase:
    return ScoringPhase.model_validate({"phase": "start", **event}).root


class ScoringRunExport(_Payload):
    """The state machine's last step: every segment of the run, plus prospects."""

    trigger: Literal["scoring_run"]
    run_id: str


class RecordedExport(_Payload):
    """The admin API's asynchronous invocation for an export it recorded (segment and filter are there)."""

    trigger: Literal["api"]
    export_id: str


class ExportInvocation(
    RootModel[Annotated[ScoringRunExport | RecordedExport, Field(discriminator="trigger")]]
):
    """One invocation of the export function."""
