"""Email channel: sends confirmation and campaign emails through SES.

Every campaign email carries ``List-Unsubscribe`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
(RFC 8058) with a signed token. Sends are idempotent (powertools idempotency on the event's message key),
so a redelivered queue message or a republished event sends nothing twice.

The decision to send was taken earlier, on what the profile said then. At send time the profile is read
again: nothing goes to a person who was erased meanwhile (or is being erased), and a campaign email goes
only while email consent is still granted, to the address on the profile now. Such a send is skipped:
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

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from functions.common.observability import logger, metrics
from functions.common.tracing import tracer
from shared.dal import customers, decisions
from shared.events import BusEvent, CampaignTriggered, ConsentConfirmationRequested, parse_detail
from shared.messaging import mime
from shared.messaging.mime import Email
from shared.messaging.templates import render
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
processor = BatchProcessor(event_type=EventType.SQS)


@lru_cache(maxsize=1)
def _ses() -> SESClient:
    return boto3.client("ses", region_name=settings.region)


def recipient(event: BusEvent) -> tuple[str | None, str | None]:
    """(address to send to, None) or (None, why the send is skipped), from the profile as it is now."""
    if not isinstance(event, ConsentConfirmationRequested | CampaignTriggered):
        return None, "not_an_email"
    customer = customers.live(event.customer_id)
    if customer is None:
        return None, "customer_gone"  # erased (or being erased) since the event was published
    if isinstance(event, ConsentConfirmationRequested):
        return event.email, None  # the address being confirmed
    if customer.merged_into:
        return None, "customer_merged"
    consent = customer.consent_email.attribute_values if customer.consent_email else {}
    if consent.get("status") != "granted":
        return None, "no_consent"  # withdrawn since the decision
    if not customer.email:
        return None, "no_address"
    return customer.email, None


def build_email(event: BusEvent, to: str | None = None) -> Email | None:
    """The email for a bus event (``to`` overrides the address the event carries)."""
    if isinstance(event, ConsentConfirmationRequested):
        subject, body = render(
            "confirm-subscription", {"first_name": event.first_name or "", "confirm_url": event.confirm_url}
        )
        return Email(settings.sender_email, to or event.email, subject, body)
    if isinstance(event, CampaignTriggered) and (to or event.email):
        subject, body = render(
            event.template,
            {
                "first_name": event.first_name or "",
                "recommended_products": ", ".join(event.recommended_products),
            },
        )
        if event.unsubscribe_url:
            body += f"\n\nUnsubscribe: {event.unsubscribe_url}"
        return Email(
            settings.sender_email,
            to or event.email or "",
            subject,
            body,
            unsubscribe_url=event.unsubscribe_url,
            headers={"X-Campaign-Id": event.campaign_id},
        )
    return None


# SES refuses these for this message's content or address: retrying cannot help, so the send is failed
# (recorded, not retried, never dead-lettered). Any other SES error is raised: throttling and server
# errors are retried; MessageRejected (which also covers a paused account or a sandbox recipient) is
# retried by the queue and dead-lettered, where it can be redriven, and its decision says ``failed``
# meanwhile.
PERMANENT_SES_ERRORS = frozenset({"InvalidParameterValue"})
TRANSIENT_SES_ERRORS = frozenset(
    {"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure", "RequestTimeout"}
)


@idempotent_function(data_keyword_argument="envelope", persistence_store=persistence, config=idempotency)
def send(envelope: dict[str, Any]) -> dict[str, Any]:
    """Send one bus event's email. The return value is stored in the idempotency table: no personal data."""
    event = parse_detail(envelope["detail-type"], envelope["detail"])
    address, skipped = recipient(event)
    if address is None:
        return {"sent": False, "skipped": skipped}
    email = build_email(event, to=address)
    if email is None:
        return {"sent": False, "skipped": "not_an_email"}
    try:
        raw = mime.to_bytes(email, datetime.now(UTC))
    except mime.MessageError as exc:
        return {"sent": False, "failed": f"unbuildable: {exc}"}
    try:
        _ses().send_raw_email(RawMessage={"Data": raw})
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in PERMANENT_SES_ERRORS:
            raise
        return {"sent": False, "failed": f"rejected by SES: {code}"}
    return {"sent": True}


def _record_delivery(envelope: dict[str, Any], result: dict[str, Any]) -> None:
    """Tell the campaign decision what happened to its message: ``sent`` only once SES accepted it,
    ``failed`` with the reason, ``skipped`` when consent or the person went away. Outside the idempotent
    send, so a retry after a failed update completes it (each update applies once)."""
    if envelope.get("detail-type") != "CampaignTriggered" or envelope["detail"].get("channel") != "email":
        return
    event = parse_detail(envelope["detail-type"], envelope["detail"])
    assert isinstance(event, CampaignTriggered)
    if result.get("sent"):
        outcome, reason = "sent", None
    elif result.get("failed"):
        outcome, reason = "failed", str(result["failed"])
    else:
        outcome, reason = "skipped", f"at_send:{result.get('skipped')}"
    # The decision key of shared.campaigns.rules.Decision: one decision per campaign and trigger.
    decisions.record_delivery(event.customer_id, f"{event.campaign_id}#{event.trigger_id}", outcome, reason)


def record_handler(record: SQSRecord) -> None:
    envelope = json.loads(record.body)
    try:
        result = send(envelope=envelope)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in TRANSIENT_SES_ERRORS:
            _record_delivery(envelope, {"failed": f"rejected by SES: {code}"})  # until a retry succeeds
        raise
    _record_delivery(envelope, result)
    if result.get("sent"):
        metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=1)
    elif result.get("failed"):
        metrics.add_metric(name="EmailsFailed", unit=MetricUnit.Count, value=1)
        logger.warning(
            "email failed",
            extra={
                "reason": result["failed"],
                "event_id": envelope.get("id"),
                "type": envelope["detail-type"],
            },
        )
    elif result.get("skipped"):
        metrics.add_metric(name="EmailsSkipped", unit=MetricUnit.Count, value=1)
        logger.info(
            "email skipped",
            extra={
                "reason": result["skipped"],
                "event_id": envelope.get("id"),
                "type": envelope["detail-type"],
            },
        )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
