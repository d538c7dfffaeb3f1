"""The one schema module for events on the EventBridge bus.

Every event has ``source`` (:data:`SOURCE`), a ``detail-type`` (the model's class name) and a
``schema_version`` inside its detail. The routing rules below are used both by the CDK stack and by the
local dispatcher, so cloud and local deliver the same events to the same consumers.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "rm.engine"

Channel = Literal["email", "sms", "phone", "post"]


class BusEvent(BaseModel):
    """Base of every bus event's ``detail``."""

    # Built on first use (defer_build): the tracking function imports every event, most requests publish
    # none (cold start).
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    detail_type: ClassVar[str]
    schema_version: int = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.detail_type = cls.__name__

    def to_entry(self, bus_name: str) -> dict[str, Any]:
        """A ``PutEvents`` entry."""
        return {
            "Source": SOURCE,
            "DetailType": self.detail_type,
            "Detail": self.model_dump_json(),
            "EventBusName": bus_name,
        }


class InteractionTracked(BusEvent):
    """Published by the stream consumer for interactions that campaigns may react to."""

    customer_id: str
    event_id: str
    kind: str
    name: str | None = None
    occurred_at: str
    amount: float | None = None
    currency: str | None = None
    order_id: str | None = None
    product_ids: list[str] = Field(default_factory=list)


class ConsentConfirmationRequested(BusEvent):
    """A double opt-in is pending: the email channel sends the confirmation link."""

    customer_id: str
    channel: Channel
    email: str
    first_name: str | None = None
    confirm_url: str
    form_id: str | None = None
    # Identifies the message: the email channel sends each key once, so a republished event (a retried
    # request or a redelivered record) sends nothing twice.
    message_key: str | None = None


class ConsentChanged(BusEvent):
    """A profile's consent (or reachability) on a channel changed: published once per change, after the
    conditional write that made it (``shared.services.consent``). ``change_id`` names the change (the
    event id of the interaction recording it): a consumer that sees it twice (a request that failed
    between publishing and recording, then retried) drops the second."""

    customer_id: str
    channel: Channel
    # "suppressed": the address may not be mailed any more (SES hard bounce or complaint; ``reason``).
    status: Literal["pending", "granted", "revoked", "suppressed"]
    source: str | None = None
    change_id: str | None = None
    occurred_at: str | None = None
    reason: str | None = None  # for "suppressed": hard_bounce | complaint


class SegmentChanged(BusEvent):
    customer_id: str
    run_id: str
    previous_segment: str | None
    segment: str
    recency_score: int
    frequency_score: int
    monetary_score: int
    clv: float | None = None
    p_alive: float | None = None


class LeadQualified(BusEvent):
    customer_id: str
    run_id: str
    previous_stage: str | None
    stage: str
    lead_score: float


class CampaignTriggered(BusEvent):
    """A decision to contact one customer; channel functions personalise and send it."""

    campaign_id: str
    customer_id: str
    trigger_id: str
    channel: Literal["email", "sms", "webhook"]
    template: str
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    segment: str | None = None
    recommended_products: list[str] = Field(default_factory=list)
    unsubscribe_url: str | None = None
    message_key: str | None = None  # one message per decision (see ConsentConfirmationRequested)


class CampaignSweepRequested(BusEvent):
    """One segment of the daily campaign sweep (inactivity and date triggers; DynamoDB parallel scan
    ``segment`` of ``total_segments``), or its continuation from ``start_key`` (a LastEvaluatedKey)."""

    segment: int = Field(ge=0)
    total_segments: int = Field(ge=1, le=1_000_000)
    start_key: dict[str, Any] | None = None
    sweep_id: str = ""  # the sweep this segment belongs to (logs)


EVENT_TYPES: dict[str, type[BusEvent]] = {
    cls.__name__: cls
    for cls in (
        InteractionTracked,
        ConsentConfirmationRequested,
        ConsentChanged,
        SegmentChanged,
        LeadQualified,
        CampaignTriggered,
        CampaignSweepRequested,
    )
}


def parse_detail(detail_type: str, detail: dict[str, Any] | str) -> BusEvent:
    """Parse an event's detail into its model (raises KeyError for an unknown detail-type)."""
    model = EVENT_TYPES[detail_type]
    if isinstance(detail, str):
        return model.model_validate_json(detail)
    return model.model_validate(detail)


# Routing rules: rule name -> (event pattern, consumer queue logical name).
# Both CDK (EventBridge rules targeting SQS queues) and the local dispatcher use these.
RULES: dict[str, tuple[dict[str, Any], str]] = {
    "CampaignTriggers": (
        {"source": [SOURCE], "detail-type": ["InteractionTracked", "SegmentChanged", "LeadQualified"]},
        "CampaignsQueue",
    ),
    "EmailCampaigns": (
        {"source": [SOURCE], "detail-type": ["CampaignTriggered"], "detail": {"channel": ["email"]}},
        "EmailQueue",
    ),
    "ConsentEmails": (
        {"source": [SOURCE], "detail-type": ["ConsentConfirmationRequested"]},
        "EmailQueue",
    ),
    "CampaignSweeps": (
        {"source": [SOURCE], "detail-type": ["CampaignSweepRequested"]},
        "CampaignsQueue",
    ),
}


def rule_pattern_json(rule_name: str) -> str:
    return json.dumps(RULES[rule_name][0])


# --- channels (issue 13) ----------------------------------------------------------------------------------
# SES publishes its sending events to the account's *default* bus (not the engine's): this rule lives
# there, and routes bounces, complaints, deliveries, opens and clicks to the ses_events function's queue
# (https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html). The local stack creates the same
# rule on moto's default bus.
SES_FEEDBACK_RULE: tuple[dict[str, Any], str] = (
    {
        "source": ["aws.ses"],
        "detail-type": [
            "Email Bounced",
            "Email Complaint Received",
            "Email Delivered",
            "Email Opened",
            "Email Clicked",
        ],
    },
    "SesEventsQueue",
)
# Webhook decisions (sales-handover): in the cloud an EventBridge API destination delivers them to the
# CRM; locally a stand-in of the API destination (infra/local/webhooks.py) does.
WEBHOOK_RULE: dict[str, Any] = {
    "source": [SOURCE],
    "detail-type": ["CampaignTriggered"],
    "detail": {"channel": ["webhook"]},
}
# The webhook request: the body is the CampaignTriggered detail (JSON, fields above); these headers come
# from the event, so the receiver can drop a redelivery (EventBridge delivers at least once).
WEBHOOK_IDEMPOTENCY_HEADER = "Idempotency-Key"  # the decision's message_key
WEBHOOK_HEADER_PATHS: dict[str, str] = {
    WEBHOOK_IDEMPOTENCY_HEADER: "$.detail.message_key",
    "X-Rm-Campaign-Id": "$.detail.campaign_id",
    "X-Rm-Event-Id": "$.id",
}
