"""Scoring phases, called by the Step Functions state machine (``shared.invocations.ScoringPhase``).

start -> summarise (Map over scan segments) -> fit -> apply (Map) -> finish; fail on any error.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.observability import logger, metrics
from functions.common.tracing import tracer
from shared.invocations import FailPhase, RunPhase, SegmentPhase, StartPhase, parse_scoring_phase
from shared.services import scoring


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    payload = parse_scoring_phase(event)
    logger.append_keys(run_id=payload.run_id, phase=payload.phase)
    match payload:
        case StartPhase():
            return scoring.start(payload.as_of, payload.total_segments, payload.run_id)
        case SegmentPhase(phase="summarise"):
            return scoring.summarise_segment(payload.run_id, payload.segment, payload.total_segments)
        case SegmentPhase():
            result = scoring.apply_segment(payload.run_id, payload.segment, payload.total_segments)
            metrics.add_metric(name="ScoresChanged", unit=MetricUnit.Count, value=result["scores_written"])
            metrics.add_metric(name="ScoreEventsPublished", unit=MetricUnit.Count, value=result["events"])
            return result
        case RunPhase(phase="fit"):
            return scoring.fit_models(payload.run_id)
        case RunPhase():
            return scoring.finish(payload.run_id)
        case FailPhase():
            return scoring.fail(payload.run_id, str(payload.error))
