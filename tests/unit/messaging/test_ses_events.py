"""SES events parsed into models: the records as AWS documents them
(https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html, inside the
EventBridge envelope of https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html), and the
local injector's events, which must be accepted by the same model."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from infra.local.ses_feedback import KINDS, ses_event
from shared.messaging.ses_events import (
    BounceEvent,
    ClickEvent,
    ComplaintEvent,
    DeliveryEvent,
    OpenEvent,
    OtherEvent,
    SesEventBridgeEvent,
)

MAIL: dict[str, Any] = {
    "timestamp": "2017-08-05T00:40:02.012Z",
    "source": "Sender Name <sender@example.com>",
    "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
    "sendingAccountId": "123456789012",
    "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
    "destination": ["recipient@example.com"],
    "headersTruncated": False,
    "headers": [
        {"name": "From", "value": "Sender Name <sender@example.com>"},
        {"name": "To", "value": "recipient@example.com"},
        {"name": "Subject", "value": "Message sent from Amazon SES"},
        {"name": "X-Campaign-Id", "value": "win-back"},
    ],
    "commonHeaders": {
        "from": ["Sender Name <sender@example.com>"],
        "to": ["recipient@example.com"],
        "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "subject": "Message sent from Amazon SES",
    },
    "tags": {
        "ses:configuration-set": ["ConfigSet"],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": ["example.com"],
        "ses:caller-identity": ["ses_user"],
        "customer_id": ["c_0123"],
    },
}
DETAILS: dict[str, dict[str, Any]] = {
    "Email Bounced": {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "recipient@example.com",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2017-08-05T00:41:02.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "reportingMTA": "dsn; mta.example.com",
        },
    },
    "Email Complaint Received": {
        "eventType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
            "timestamp": "2017-08-05T00:41:02.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "userAgent": "Mozilla/5.0",
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2017-08-05T00:41:02.669Z",
        },
    },
    "Email Delivered": {
        "eventType": "Delivery",
        "delivery": {
            "timestamp": "2016-10-19T23:21:04.133Z",
            "processingTimeMillis": 11893,
            "recipients": ["recipient@example.com"],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": "mta.example.com",
        },
    },
    "Email Opened": {
        "eventType": "Open",
        "open": {
            "ipAddress": "192.0.2.1",
            "timestamp": "2017-08-09T22:00:19.652Z",
            "userAgent": "Mozilla/5.0",
        },
    },
    "Email Clicked": {
        "eventType": "Click",
        "click": {
            "ipAddress": "192.0.2.1",
            "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
            "linkTags": {"samplekey0": ["samplevalue0"]},
            "timestamp": "2017-08-09T23:51:25.570Z",
            "userAgent": "Mozilla/5.0",
        },
    },
    "Email Sent": {"eventType": "Send", "send": {}},
}
MODELS = {
    "Email Bounced": BounceEvent,
    "Email Complaint Received": ComplaintEvent,
    "Email Delivered": DeliveryEvent,
    "Email Opened": OpenEvent,
    "Email Clicked": ClickEvent,
    "Email Sent": OtherEvent,
}


def _envelope(detail_type: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "b1a2c3d4-0000-0000-0000-000000000000",
        "detail-type": detail_type,
        "source": "aws.ses",
        "account": "123456789012",
        "time": "2017-08-05T00:41:03Z",
        "region": "us-east-1",
        "resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/ConfigSet"],
        "detail": {"mail": copy.deepcopy(MAIL), **DETAILS[detail_type]},
    }


@pytest.mark.parametrize("detail_type", sorted(DETAILS))
def test_the_documented_records_parse_into_their_model(detail_type: str) -> None:
    event = SesEventBridgeEvent.model_validate(_envelope(detail_type))
    assert isinstance(event.detail, MODELS[detail_type])
    mail = event.detail.mail
    assert mail.message_id.startswith("EXAMPLE7c191be45")
    assert mail.campaign_id == "win-back"  # from the header when no campaign tag is set
    assert mail.tag("customer_id") == "c_0123"


def test_the_bounce_and_click_fields_the_engine_acts_on() -> None:
    bounce = SesEventBridgeEvent.model_validate(_envelope("Email Bounced")).detail
    assert isinstance(bounce, BounceEvent)
    assert bounce.bounce.bounce_type == "Permanent"
    assert [r.email_address for r in bounce.bounce.bounced_recipients] == ["recipient@example.com"]
    click = SesEventBridgeEvent.model_validate(_envelope("Email Clicked")).detail
    assert isinstance(click, ClickEvent)
    assert click.click.link.endswith("send-email-smtp.html")


def test_an_event_of_another_source_or_an_unknown_type_is_refused() -> None:
    other_source = _envelope("Email Bounced") | {"source": "rm.engine"}
    with pytest.raises(ValidationError):
        SesEventBridgeEvent.model_validate(other_source)
    unknown = _envelope("Email Bounced")
    unknown["detail"]["eventType"] = "Teleported"
    with pytest.raises(ValidationError):
        SesEventBridgeEvent.model_validate(unknown)
    missing = _envelope("Email Bounced")
    del missing["detail"]["bounce"]["bouncedRecipients"]
    with pytest.raises(ValidationError):
        SesEventBridgeEvent.model_validate(missing)


@pytest.mark.parametrize("kind", KINDS)
def test_the_local_injector_builds_what_the_handler_accepts(kind: str) -> None:
    raw = (
        "From: m@example.com\r\nTo: ann@example.com\r\nSubject: Hi\r\nX-Campaign-Id: welcome\r\n\r\nBody\r\n"
    )
    message = SimpleNamespace(id="0100abc-000000", source="m@example.com", destinations=[], raw_data=raw)
    message.destinations = ["ann@example.com"]
    event = SesEventBridgeEvent.model_validate(ses_event(kind, message))
    assert event.detail.mail.destination == ["ann@example.com"]
    assert event.detail.mail.campaign_id == "welcome"
    assert event.detail.mail.message_id == "0100abc-000000"
