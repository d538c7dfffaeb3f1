"""SES feedback: bounces, complaints, deliveries, opens and clicks (SES configuration set -> EventBridge
default bus -> SesEventsQueue -> this function). Each SQS record is parsed at the edge into AWS's event
format (:mod:`shared.messaging.ses_events`); a record that does not parse fails alone (retried, then
dead-lettered), the others of the batch go on.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Json

from functions.common.observability import logger, metrics
from functions.common.sqs import SqsRecord
from functions.common.tracing import tracer
from shared.messaging.ses_events import SesEventBridgeEvent
from shared.services import feedback


class SesEventRecord(SqsRecord):
    body: Json[SesEventBridgeEvent]


# Typed for powertools' own record models; any pydantic model with messageId works (functions.common.sqs).
processor = BatchProcessor(event_type=EventType.SQS, model=SesEventRecord)  # type: ignore[arg-type]


def record_handler(record: SesEventRecord) -> None:
    result = feedback.handle(record.body.detail)
    metrics.add_metric(name=f"SesEvent_{result.event_type}", unit=MetricUnit.Count, value=1)
    if result.suppressed:
        metrics.add_metric(name="EmailAddressesSuppressed", unit=MetricUnit.Count, value=result.suppressed)
    logger.info(
        "ses event",
        extra={
            "event_type": result.event_type,
            "suppressed": result.suppressed,
            "revoked": result.revoked,
            "recorded": result.recorded,
        },
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
