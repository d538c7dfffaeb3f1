"""Email channel: sends confirmation and campaign emails through SES.

Every campaign email carries ``List-Unsubscribe`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(RFC 8058) with a signed token. Sends are idempotent (powertools idempotency on the bus event id), so a
redelivered queue message sends nothing twice.
"""

from __future__ import annotations

import json
from email.message import EmailMessage
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.observability import logger, metrics
from functions.common.tracing import tracer
from shared.events import CampaignTriggered, ConsentConfirmationRequested, parse_detail
from shared.messaging.templates import render
from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

settings = get_settings()
persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
idempotency = IdempotencyConfig(event_key_jmespath="id", expires_after_seconds=7 * 24 * 3600)
processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def _ses() -> SESClient:
    return boto3.client("ses", region_name=settings.region)


def build_message(detail_type: str, detail: dict[str, Any]) -> EmailMessage | None:
    event = parse_detail(detail_type, detail)
    message = EmailMessage()
    message["From"] = settings.sender_email
    if isinstance(event, ConsentConfirmationRequested):
        subject, body = render(
            "confirm-subscription", {"first_name": event.first_name or "", "confirm_url": event.confirm_url}
        )
        message["To"] = event.email
    elif isinstance(event, CampaignTriggered) and event.email:
        subject, body = render(
            event.template,
            {
                "first_name": event.first_name or "",
                "recommended_products": ", ".join(event.recommended_products),
            },
        )
        message["To"] = event.email
        if event.unsubscribe_url:
            message["List-Unsubscribe"] = f"<{event.unsubscribe_url}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            body += f"\n\nUnsubscribe: {event.unsubscribe_url}"
        message["X-Campaign-Id"] = event.campaign_id
    else:
        return None
    message["Subject"] = subject
    message.set_content(body)
    return message


@idempotent_function(data_keyword_argument="envelope", persistence_store=persistence, config=idempotency)
def send(envelope: dict[str, Any]) -> dict[str, Any]:
    message = build_message(envelope["detail-type"], envelope["detail"])
    if message is None:
        return {"sent": False}
    response = _ses().send_raw_email(RawMessage={"Data": message.as_bytes()})
    return {"sent": True, "message_id": response["MessageId"]}


def record_handler(record: SQSRecord) -> None:
    result = send(envelope=json.loads(record.body))
    if result.get("sent"):
        metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
