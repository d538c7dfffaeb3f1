"""AWS adapters of the launch ports (``shared.services.ports``): Step Functions and asynchronous Lambda."""

from __future__ import annotations

import json
from datetime import date

import boto3

from shared.dal import exports
from shared.settings import get_settings


def _required(value: str | None, variable: str) -> str:
    if not value:
        raise RuntimeError(f"{variable} is not set: this function cannot start the work in the cloud")
    return value


class StepFunctionsScoringRunLauncher:
    """A scoring run is one execution of the scoring state machine, named after the run."""

    def start(self, run_id: str, as_of: date | None, total_segments: int) -> None:
        settings = get_settings()
        payload = {
            "run_id": run_id,
            "total_segments": total_segments,
            "as_of": as_of.isoformat() if as_of else None,
        }
        boto3.client("stepfunctions", region_name=settings.region).start_execution(
            stateMachineArn=_required(settings.scoring_state_machine_arn, "RM_SCORING_STATE_MACHINE_ARN"),
            name=run_id,
            input=json.dumps(payload),
        )


class LambdaExportLauncher:
    """An on-demand export runs in the export function, invoked asynchronously (Lambda retries it)."""

    def start(self, export_id: str) -> None:
        function = _required(get_settings().export_function_name, "RM_EXPORT_FUNCTION_NAME")
        exports.invoke_async(function, {"trigger": "api", "export_id": export_id})
