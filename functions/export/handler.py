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
from shared.invocations import ExportInvocation, ScoringRunExport
from shared.services import exports


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    invocation = ExportInvocation.model_validate(event).root
    if isinstance(invocation, ScoringRunExport):
        logger.append_keys(run_id=invocation.run_id)
        result = exports.export_scoring_run(invocation.run_id)
    else:
        logger.append_keys(export_id=invocation.export_id)
        result = exports.run_export(invocation.export_id)
    metrics.add_metric(name="ExportRows", unit=MetricUnit.Count, value=int(result.get("rows") or 0))
    logger.info("export finished", extra=result)
    return result
