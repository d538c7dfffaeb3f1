"""Scoring phases, called by the Step Functions state machine (``{"phase": ...}`` payloads).

start -> summarise (Map over scan segments) -> fit -> apply (Map) -> finish; fail on any error.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.observability import logger, metrics
from functions.common.tracing import tracer
from shared.services import scoring


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    phase = event.get("phase", "start")
    run_id = event.get("run_id")
    logger.append_keys(run_id=run_id, phase=phase)
    if phase == "start":
        as_of = date.fromisoformat(event["as_of"]) if event.get("as_of") else None
        return scoring.start(as_of, int(event.get("total_segments", scoring.DEFAULT_SEGMENTS)), run_id)
    assert run_id, "every phase after start needs the run_id"
    if phase == "summarise":
        return scoring.summarise_segment(run_id, int(event["segment"]), int(event["total_segments"]))
    if phase == "fit":
        return scoring.fit_models(run_id)
    if phase == "apply":
        result = scoring.apply_segment(run_id, int(event["segment"]), int(event["total_segments"]))
        metrics.add_metric(name="ScoresChanged", unit=MetricUnit.Count, value=result["scores_written"])
        metrics.add_metric(name="ScoreEventsPublished", unit=MetricUnit.Count, value=result["events"])
        return result
    if phase == "finish":
        return scoring.finish(run_id)
    if phase == "fail":
        return scoring.fail(run_id, str(event.get("error", "unknown error")))
    raise ValueError(f"unknown phase {phase!r}")
