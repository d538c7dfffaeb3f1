"""DynamoDB stream consumer: keeps customer aggregates up to date and tells the bus what happened.

Batch processing with partial failures (powertools): a failed record is reported, Lambda retries from
it, and records already counted are recognised by their sequence number. After a failure, later records
of the same customer are failed too, so none is counted ahead of an earlier one that is still pending.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.observability import logger, metrics
from functions.common.tracing import tracer
from shared.dal.bus import publish
from shared.events import InteractionTracked
from shared.services import aggregation


class _Batch:
    """State of one invocation: customers with a failed record, events to publish."""

    def __init__(self) -> None:
        self.failed_customers: set[str] = set()
        self.events: list[InteractionTracked] = []
        self.applied = 0


_batch = _Batch()


def record_handler(record: DynamoDBRecord) -> None:
    if record.event_name != DynamoDBRecordEventName.INSERT or record.dynamodb is None:
        return  # updates and TTL/erasure deletes do not change aggregates
    image = record.dynamodb.new_image
    customer_id = str(image["customer_id"])
    if customer_id in _batch.failed_customers:
        raise RuntimeError(f"an earlier record of customer {customer_id} failed in this batch")
    try:
        event = aggregation.apply(image, str(record.dynamodb.sequence_number))
    except Exception:
        _batch.failed_customers.add(customer_id)
        raise
    _batch.applied += 1
    if event is not None:
        _batch.events.append(event)


processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _batch
    _batch = _Batch()
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    if _batch.events:
        # Raises if EventBridge keeps refusing: the batch is retried (aggregates are not counted twice).
        publish(_batch.events)
    metrics.add_metric(name="AggregatesApplied", unit=MetricUnit.Count, value=_batch.applied)
    metrics.add_metric(name="InteractionEventsPublished", unit=MetricUnit.Count, value=len(_batch.events))
    return response
