"""Campaign triggering: bus events (through the campaigns queue) and the scheduled sweeps.

- SQS batch with partial failures (powertools ``BatchProcessor(model=...)``): each record is parsed at
  the edge into an EventBridge envelope whose detail is one bus event; a failed record is retried, and
  decisions already recorded are not made twice. ``CampaignSweepRequested`` records are segments of
  the daily sweep.
- ``{"sweep": "due"}`` (every 5 minutes): deferred decisions now due, from the sparse due index.
- ``{"sweep": "daily"}`` (or ``true``): fans the inactivity/date sweep out into segments on the queue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, Json

from functions.common.observability import logger, metrics
from functions.common.tracing import tracer
from shared.campaigns.catalogue import Catalogue
from shared.events import CampaignSweepRequested, parse_detail
from shared.services import campaigns


class BusEnvelope(BaseModel):
    """The EventBridge event an SQS target delivers (only what routing needs)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]


class CampaignsQueueRecord(SqsRecordModel):
    body: Json[BusEnvelope]  # the body is JSON text in SQS


class ScheduledSweep(BaseModel):
    """The input of the scheduled rules (EventBridge Scheduler / rules, the local scheduler)."""

    model_config = ConfigDict(extra="forbid")

    sweep: Literal["due", "daily", True]
    segments: int = Field(default=campaigns.SWEEP_SEGMENTS, ge=1, le=10_000)


processor = BatchProcessor(event_type=EventType.SQS, model=CampaignsQueueRecord)
_outcomes: Counter[str] = Counter()
# The live catalogue (packaged campaigns + the table's enabled switches), read once per batch of records.
_catalogue: list[Catalogue] = []


def _live() -> Catalogue:
    if not _catalogue:
        _catalogue.append(campaigns.live_catalogue())
    return _catalogue[0]


def record_handler(record: CampaignsQueueRecord) -> None:
    event = parse_detail(record.body.detail_type, record.body.detail)
    if isinstance(event, CampaignSweepRequested):
        progress = campaigns.sweep_segment(event, catalogue=_live())
        _outcomes.update(progress.counts)
        logger.info("campaign sweep segment", extra=progress.model_dump(exclude={"next_key"}))
        return
    made, journey_counts = campaigns.handle(event, catalogue=_live())
    _outcomes.update(journey_counts)
    if journey_counts:
        logger.info("journeys", extra={"counts": journey_counts})
    for decision in made:
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
    if "sweep" in event:
        scheduled = ScheduledSweep.model_validate(event)
        if scheduled.sweep == "due":
            counts = campaigns.sweep_due()
            logger.info("campaign due sweep", extra={"counts": counts})
            _outcomes.update(counts)
            response: Mapping[str, Any] = {"sweep": counts}
        else:
            segments = campaigns.start_sweep(scheduled.segments, sweep_id=context.aws_request_id)
            response = {"sweep": {"segments": segments}}
    else:
        response = process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    for outcome, count in _outcomes.items():
        metrics.add_metric(name=f"Campaign_{outcome}", unit=MetricUnit.Count, value=count)
    return response
