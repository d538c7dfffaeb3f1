"""Segment exports: CSVs + manifest to S3, recorded in the Runs table.

Invoked by the scoring state machine's last step with ``{"trigger": "scoring_run", "run_id"}`` (every
segment of the run, plus prospects), and asynchronously by the admin API with
``{"trigger": "api", "export_id"}`` for an export it recorded (segment and filter are in the record).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.observability import logger, metrics
from functions.common.tracing import tracer
from shared.services import exports


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    trigger = event.get("trigger")
    if trigger == "scoring_run":
        logger.append_keys(run_id=event["run_id"])
        result = exports.export_scoring_run(str(event["run_id"]))
    elif trigger == "api":
        logger.append_keys(export_id=event["export_id"])
        result = exports.run_export(str(event["export_id"]))
    else:
        raise ValueError(f"unknown export trigger {trigger!r}")
    metrics.add_metric(name="ExportRows", unit=MetricUnit.Count, value=int(result.get("rows") or 0))
    logger.info("export finished", extra=result)
    return result
