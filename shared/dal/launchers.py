"""AWS adapters of the launch ports (``shared.services.ports``): Step Functions and asynchronous Lambda."""

from __future__ import annotations

from datetime import date

import boto3

from shared.dal import exports
from shared.invocations import RecordedExport, StartPhase
from shared.settings import get_settings


def _required(value: str | None, variable: str) -> str:
    if not value:
        raise RuntimeError(f"{variable} is not set: this function cannot start the work in the cloud")
    return value


class StepFunctionsScoringRunLauncher:
    """A scoring run is one execution of the scoring state machine, named after the run."""

    def start(self, run_id: str, as_of: date | None, total_segments: int) -> None:
        settings = get_settings()
        # The execution input: the state machine adds {"phase": "start"} for the first task.
        payload = StartPhase(run_id=run_id, as_of=as_of, total_segments=total_segments)
        boto3.client("stepfunctions", region_name=settings.region).start_execution(
            stateMachineArn=_required(settings.scoring_state_machine_arn, "RM_SCORING_STATE_MACHINE_ARN"),
            name=run_id,
            input=payload.model_dump_json(exclude={"phase"}),
        )


class LambdaExportLauncher:
    """An on-demand export runs in the export function, invoked asynchronously (Lambda retries it)."""

    def start(self, export_id: str) -> None:
        function = _required(get_settings().export_function_name, "RM_EXPORT_FUNCTION_NAME")
        exports.invoke_async(function, RecordedExport(trigger="api", export_id=export_id).model_dump())
