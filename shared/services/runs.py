"""Run views and starting scoring runs (kept free of numpy: the API function imports this)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from shared.dal import runs
from shared.services import ports
from shared.services.errors import NotFoundError


class RunNotFoundError(NotFoundError):
    kind = "run"


def view(run_id: str) -> dict[str, Any]:
    run = runs.get(run_id)
    if run is None:
        raise RunNotFoundError(run_id)
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "progress": run.progress,
        "summary": run.summary,
        "error": run.error,
    }


def new_scoring_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"score-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def start_scoring(as_of: date | None, total_segments: int) -> dict[str, Any]:
    """Start a scoring run through the launch port: its view when it already finished (in-process),
    ``running`` while the state machine works on it (the cloud)."""
    run_id = new_scoring_run_id()
    ports.current().scoring_runs.start(run_id, as_of, total_segments)
    if runs.get(run_id) is None:
        return {"run_id": run_id, "status": "running"}
    return view(run_id)
