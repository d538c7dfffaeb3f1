"""Campaign triggering: bus events (through the campaigns queue) and the daily sweep.

SQS batch with partial failures (powertools): each record is one EventBridge event; a failed record is
retried, and decisions already recorded are not made twice.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.observability import logger, metrics
from functions.common.tracing import tracer
from shared.campaigns.catalogue import Catalogue
from shared.events import parse_detail
from shared.services import campaigns

processor = BatchProcessor(event_type=EventType.SQS)
_outcomes: Counter[str] = Counter()
# The live catalogue (packaged campaigns + the table's enabled switches), read once per batch of records.
_catalogue: list[Catalogue] = []


def record_handler(record: SQSRecord) -> None:
    envelope = json.loads(record.body)
    event = parse_detail(envelope["detail-type"], envelope["detail"])
    if not _catalogue:
        _catalogue.append(campaigns.live_catalogue())
    for decision in campaigns.handle_event(event, catalogue=_catalogue[0]):
        _outcomes[decision.outcome] += 1
        logger.info(
            "campaign decision",
            extra={"campaign": decision.campaign_id, "outcome": decision.outcome, "reason": decision.reason},
        )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> Mapping[str, Any]:
    _outcomes.clear()
    _catalogue.clear()
    if event.get("sweep"):
        counts = campaigns.sweep()
        logger.info("campaign sweep", extra={"counts": counts})
        _outcomes.update(counts)
        response: Mapping[str, Any] = {"sweep": counts}
    else:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    for outcome, count in _outcomes.items():
        metrics.add_metric(name=f"Campaign_{outcome}", unit=MetricUnit.Count, value=count)
    return response
