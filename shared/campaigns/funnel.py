"""A journey's funnel as the report shows it (built by :func:`shared.campaigns.journeys.build_funnel`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class FunnelStep(BaseModel):
    """One step of the funnel: treated people (``held_out``: the messages the hold-out was not sent)."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: Literal["send", "wait", "branch"]
    template: str | None = None
    reached: int = Field(description="People whose way went through this step")
    at: int = Field(description="Active people at this step now")
    sent: int = 0
    queued: int = 0
    failed: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    held_out: int = Field(default=0, description="Messages not sent because the person is in the hold-out")


class JourneyFunnel(BaseModel):
    """Entered (treated + held out), at each step, converted (goal), exited (by reason), completed."""

    model_config = ConfigDict(frozen=True)

    journey_id: str
    goal: str
    entered: int
    treated: int
    held_out: int
    active: int
    completed: int
    converted: int = Field(description="Treated people whose journey ended on the goal")
    held_out_converted: int = Field(default=0, description="Held-out people whose journey ended on the goal")
    exited: dict[str, int] = Field(default_factory=dict)
    steps: list[FunnelStep]
