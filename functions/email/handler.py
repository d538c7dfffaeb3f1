"""Email channel: sends confirmation and campaign emails through SES.

Every campaign email carries ``List-Unsubscribe`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(RFC 8058) with a signed token. Sends are idempotent (powertools idempotency on the event's message key),
so a redelivered queue message or a republished event sends nothing twice.

The decision to send was taken earlier, on what the profile said then. At send time the profile is read
again (``shared.services.sending``): nothing goes to a person who was erased meanwhile (or is being
erased), nothing to a suppressed address (permanent bounce, complaint: confirmations included), and a
campaign email goes only while email consent is still granted, to the address on the profile now. Every
send names the SES configuration set (its event destination feeds ``functions/ses_events``) and carries
the campaign and customer ids as message tags. Such a send is skipped:
counted, logged without personal data, and not retried. The idempotency record stores the return value,
so it holds only ``sent``, ``skipped`` and ``failed`` (no message id, no address): it outlives an erasure
by up to its expiry.

A message that cannot be sent (it cannot be built, or SES rejects it for good) is ``failed``: recorded,
not retried, never dead-lettered. A campaign email's decision is ``queued`` until this function records
what happened to it: ``sent`` only once SES accepted the message, else ``failed`` or ``skipped`` with
the reason (shown in the campaign report).

On the wire (``shared.messaging.mime``): ``List-Unsubscribe: <https://...>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` exactly as RFC 2369/8058 write them, never as
encoded-words; names and subjects cannot add header lines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, Json

from functions.common.observability import logger, metrics
from functions.common.sqs import SqsRecord
from functions.common.tracing import tracer
from shared.dal import decisions
from shared.events import CampaignTriggered, ConsentConfirmationRequested, parse_detail
from shared.messaging import mime
from shared.services import sending
from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

settings = get_settings()
persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)
# Keyed on the message (one per decision or confirmation request, see shared.events), so an event published
# twice - a retried request, a redelivered record - sends once; events without a key fall back to their id.
idempotency = IdempotencyConfig(
    event_key_jmespath="detail.message_key || id", expires_after_seconds=7 * 24 * 3600
)


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    id: str


class CampaignEmailEvent(_Envelope):
    detail_type: Literal["CampaignTriggered"] = Field(alias="detail-type")
    detail: CampaignTriggered


class ConfirmationEmailEvent(_Envelope):
    detail_type: Literal["ConsentConfirmationRequested"] = Field(alias="detail-type")
    detail: ConsentConfirmationRequested


EmailEvent = Annotated[CampaignEmailEvent | ConfirmationEmailEvent, Field(discriminator="detail_type")]


class EmailRecord(SqsRecord):
    """One EmailQueue message: the bus event (EventBridge envelope), parsed at the edge."""

    body: Json[EmailEvent]


# Typed for powertools' own record models; any pydantic model with messageId works (functions.common.sqs).
processor = BatchProcessor(event_type=EventType.SQS, model=EmailRecord)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def _ses() -> SESClient:
    return boto3.client("ses", region_name=settings.region)


# SES refuses these for this message's content or address: retrying cannot help, so the send is failed
# (recorded, not retried, never dead-lettered). Any other SES error is raised: throttling and server
# errors are retried; MessageRejected (which also covers a paused account or a sandbox recipient) is
# retried by the queue and dead-lettered, where it can be redriven, and its decision says ``failed``
# meanwhile.
PERMANENT_SES_ERRORS = frozenset({"InvalidParameterValue"})
TRANSIENT_SES_ERRORS = frozenset(
    {"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure", "RequestTimeout"}
)


def _send_raw(raw: bytes, tags: tuple[dict[str, str], ...]) -> None:
    """SendRawEmail with the envelope sender (``Source``), the configuration set and the message tags
    (https://docs.aws.amazon.com/ses/latest/APIReference/API_SendRawEmail.html); ``FromArn``/``SourceArn``
    only when sending through another account's identity (sending authorisation)."""
    kwargs: dict[str, Any] = {
        "RawMessage": {"Data": raw},
        "Source": settings.sender_email,
        "Tags": list(tags),
    }
    if settings.ses_configuration_set:
        kwargs["ConfigurationSetName"] = settings.ses_configuration_set
    if settings.ses_identity_arn:
        kwargs["FromArn"] = kwargs["SourceArn"] = settings.ses_identity_arn
    _ses().send_raw_email(**kwargs)


@idempotent_function(data_keyword_argument="envelope", persistence_store=persistence, config=idempotency)
def send(envelope: dict[str, Any]) -> dict[str, Any]:
    """Send one bus event's email. The return value is stored in the idempotency table: no personal data."""
    event = parse_detail(envelope["detail-type"], envelope["detail"])
    message = sending.outgoing(event, settings.sender_email)
    if message.email is None:
        return {"sent": False, "skipped": message.skipped}
    try:
        raw = mime.to_bytes(message.email, datetime.now(UTC))
    except mime.MessageError as exc:
        return {"sent": False, "failed": f"unbuildable: {exc}"}
    try:
        _send_raw(raw, message.tags)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in PERMANENT_SES_ERRORS:
            raise
        return {"sent": False, "failed": f"rejected by SES: {code}"}
    return {"sent": True}


def _record_delivery(event: CampaignEmailEvent | ConfirmationEmailEvent, result: dict[str, Any]) -> None:
    """Tell the campaign decision what happened to its message: ``sent`` only once SES accepted it,
    ``failed`` with the reason, ``skipped`` when consent or the person went away. Outside the idempotent
    send, so a retry after a failed update completes it (each update applies once)."""
    if not isinstance(event, CampaignEmailEvent) or event.detail.channel != "email":
        return
    detail = event.detail
    if result.get("sent"):
        outcome, reason = "sent", None
    elif result.get("failed"):
        outcome, reason = "failed", str(result["failed"])
    else:
        outcome, reason = "skipped", f"at_send:{result.get('skipped')}"
    # The decision key of shared.campaigns.rules.Decision: one decision per campaign and trigger.
    decisions.record_delivery(
        detail.customer_id, f"{detail.campaign_id}#{detail.trigger_id}", outcome, reason
    )


def record_handler(record: EmailRecord) -> None:
    event = record.body
    envelope = {
        "id": event.id,
        "detail-type": event.detail_type,
        "detail": event.detail.model_dump(mode="json"),
    }
    try:
        result = send(envelope=envelope)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in TRANSIENT_SES_ERRORS:
            _record_delivery(event, {"failed": f"rejected by SES: {code}"})  # until a retry succeeds
        raise
    _record_delivery(event, result)
    extra = {"event_id": event.id, "type": event.detail_type}
    if result.get("sent"):
        metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=1)
    elif result.get("failed"):
        metrics.add_metric(name="EmailsFailed", unit=MetricUnit.Count, value=1)
        logger.warning("email failed", extra={"reason": result["failed"], **extra})
    elif result.get("skipped"):
        metrics.add_metric(name="EmailsSkipped", unit=MetricUnit.Count, value=1)
        logger.info("email skipped", extra={"reason": result["skipped"], **extra})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
