"""SES sending events, as SES publishes them to EventBridge, parsed into models (pure).

The shapes follow AWS's own documentation of the event records:
- EventBridge envelope (``source: aws.ses``, ``detail-type`` "Email Bounced", "Email Complaint Received",
  "Email Delivered", "Email Opened", "Email Clicked", ...):
  https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html
- the ``detail`` (``eventType``, ``mail``, and one object per event type: ``bounce``, ``complaint``,
  ``delivery``, ``open``, ``click``, ...):
  https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
  (the same JSON SES publishes to SNS/Firehose; the EventBridge detail carries it unchanged).

Only the fields the engine uses are declared; the rest is ignored, so a field AWS adds never breaks
parsing. Event types the engine does not act on (Send, Reject, Rendering Failure, DeliveryDelay,
Subscription) parse as :class:`OtherEvent`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SES_SOURCE: Final = "aws.ses"
# detail-type of each event type the engine acts on (monitoring-eventbridge.html).
DETAIL_TYPES: Final[dict[str, str]] = {
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Delivery": "Email Delivered",
    "Open": "Email Opened",
    "Click": "Email Clicked",
}
# The message tags the email channel sets on every send (SES copies them into ``mail.tags``).
CAMPAIGN_TAG: Final = "campaign_id"
CUSTOMER_TAG: Final = "customer_id"
CAMPAIGN_HEADER: Final = "X-Campaign-Id"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Header(_Model):
    name: str
    value: str


class Mail(_Model):
    """The original message (``mail`` object)."""

    timestamp: datetime
    message_id: str = Field(alias="messageId")
    source: str = ""
    destination: list[str] = Field(default_factory=list)
    headers: list[Header] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)

    def tag(self, name: str) -> str | None:
        values = self.tags.get(name) or []
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return next((h.value for h in self.headers if h.name.lower() == name.lower()), None)

    @property
    def campaign_id(self) -> str | None:
        """The campaign of a campaign email (its tag; the header when tags were not set)."""
        return self.tag(CAMPAIGN_TAG) or self.header(CAMPAIGN_HEADER)


class Recipient(_Model):
    email_address: str = Field(alias="emailAddress")
    diagnostic_code: str | None = Field(default=None, alias="diagnosticCode")


class Bounce(_Model):
    bounce_type: Literal["Undetermined", "Permanent", "Transient"] = Field(alias="bounceType")
    bounce_sub_type: str = Field(default="", alias="bounceSubType")
    bounced_recipients: list[Recipient] = Field(alias="bouncedRecipients")
    timestamp: datetime
    feedback_id: str = Field(alias="feedbackId")


class Complaint(_Model):
    complained_recipients: list[Recipient] = Field(alias="complainedRecipients")
    timestamp: datetime
    feedback_id: str = Field(alias="feedbackId")
    complaint_feedback_type: str | None = Field(default=None, alias="complaintFeedbackType")


class Delivery(_Model):
    timestamp: datetime
    recipients: list[str]


class Open(_Model):
    timestamp: datetime


class Click(_Model):
    timestamp: datetime
    link: str


class BounceEvent(_Model):
    event_type: Literal["Bounce"] = Field(alias="eventType")
    mail: Mail
    bounce: Bounce


class ComplaintEvent(_Model):
    event_type: Literal["Complaint"] = Field(alias="eventType")
    mail: Mail
    complaint: Complaint


class DeliveryEvent(_Model):
    event_type: Literal["Delivery"] = Field(alias="eventType")
    mail: Mail
    delivery: Delivery


class OpenEvent(_Model):
    event_type: Literal["Open"] = Field(alias="eventType")
    mail: Mail
    open: Open


class ClickEvent(_Model):
    event_type: Literal["Click"] = Field(alias="eventType")
    mail: Mail
    click: Click


class OtherEvent(_Model):
    event_type: Literal["Send", "Reject", "Rendering Failure", "DeliveryDelay", "Subscription"] = Field(
        alias="eventType"
    )
    mail: Mail


SesEvent = Annotated[
    BounceEvent | ComplaintEvent | DeliveryEvent | OpenEvent | ClickEvent | OtherEvent,
    Field(discriminator="event_type"),
]


class SesEventBridgeEvent(_Model):
    """The EventBridge envelope around one SES event."""

    id: str
    source: Literal["aws.ses"]
    detail_type: str = Field(alias="detail-type")
    time: datetime
    detail: SesEvent
