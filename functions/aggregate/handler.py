"""DynamoDB stream consumer: keeps customer aggregates up to date and tells the bus what happened.

Batch processing with partial failures (powertools): a failed record is reported, Lambda retries from
it, and records already counted are recognised by their sequence number. After a failure, later records
of the same customer are failed too, so none is counted ahead of an earlier one that is still pending.
A customer's records of one batch are first counted together, in one update; what that cannot count
(some were counted before, the profile was merged or erased) is applied record by record.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
    DynamoDBStreamEvent,
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
        self.counted: set[str] = set()  # sequence numbers counted together, ahead of their record's turn


_batch = _Batch()


def record_handler(record: DynamoDBRecord) -> None:
    if record.event_name != DynamoDBRecordEventName.INSERT or record.dynamodb is None:
        return  # updates and TTL/erasure deletes do not change aggregates
    image = record.dynamodb.new_image
    customer_id = str(image["customer_id"])
    if customer_id in _batch.failed_customers:
        raise RuntimeError(f"an earlier record of customer {customer_id} failed in this batch")
    sequence_number = str(record.dynamodb.sequence_number)
    try:
        if sequence_number in _batch.counted:
            event = aggregation.event_of(image)
        else:
            event = aggregation.apply(image, sequence_number)
    except Exception:
        _batch.failed_customers.add(customer_id)
        raise
    _batch.applied += 1
    if event is not None:
        _batch.events.append(event)


def _count_together(event: dict[str, Any]) -> None:
    """Count each customer's new interactions of the batch in one update (a shop's order replay or a
    visitor's burst of page views brings several per customer). A customer whose update fails has all
    their records of the batch failed, and retried."""
    groups: dict[str, list[tuple[dict[str, Any], str]]] = {}
    for record in DynamoDBStreamEvent(event).records:
        if record.event_name != DynamoDBRecordEventName.INSERT or record.dynamodb is None:
            continue
        image = record.dynamodb.new_image
        groups.setdefault(str(image["customer_id"]), []).append((image, str(record.dynamodb.sequence_number)))
    for customer_id, records in groups.items():
        if len(records) < 2:
            continue  # one record: applied in its turn, as cheaply
        try:
            if aggregation.apply_together(records):
                _batch.counted.update(sequence_number for _, sequence_number in records)
        except Exception:
            logger.exception(
                "counting a customer's records together failed", extra={"customer_id": customer_id}
            )
            _batch.failed_customers.add(customer_id)


processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _batch
    _batch = _Batch()
    _count_together(event)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    if _batch.events:
        # Raises if EventBridge keeps refusing: the batch is retried (aggregates are not counted twice).
        publish(_batch.events)
    metrics.add_metric(name="AggregatesApplied", unit=MetricUnit.Count, value=_batch.applied)
    metrics.add_metric(name="InteractionEventsPublished", unit=MetricUnit.Count, value=len(_batch.events))
    return response
