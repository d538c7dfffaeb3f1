"""Run views and starting scoring runs (kept free of numpy: the API function imports this)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import boto3

from shared.dal import runs
from shared.services.errors import NotFoundError
from shared.settings import get_settings


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
        "progress": run.progress.as_dict() if run.progress else None,
        "summary": run.summary.as_dict() if run.summary else None,
        "error": run.error,
    }


def new_scoring_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"score-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def start_scoring(as_of: date | None, total_segments: int) -> dict[str, Any]:
    """Start a scoring run: on Step Functions in the cloud, in this process in local mode."""
    settings = get_settings()
    run_id = new_scoring_run_id()
    payload = {
        "run_id": run_id,
        "total_segments": total_segments,
        "as_of": as_of.isoformat() if as_of else None,
    }
    if settings.scoring_state_machine_arn:
        boto3.client("stepfunctions", region_name=settings.region).start_execution(
            stateMachineArn=settings.scoring_state_machine_arn, name=run_id, input=json.dumps(payload)
        )
        return {"run_id": run_id, "status": "running"}
    from shared.services import scoring  # local mode only: numpy/scipy are not in the API's layer

    scoring.run_in_process(as_of, total_segments, run_id=run_id)
    from shared.services import exports  # the state machine's last step, in local mode

    exports.export_scoring_run(run_id)
    return view(run_id)
