"""Inject SES sending events into the local stack, in AWS's own format.

moto's SES accepts emails but publishes no events. This module builds the events SES would publish to
EventBridge for a message moto accepted (``mail`` with its message id, destination and headers; then
``bounce``/``complaint``/``delivery``/``open``/``click``, shaped as in
https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html) and puts them on
moto's default bus with ``source: aws.ses``, where the same rule as in the cloud
(:data:`shared.events.SES_FEEDBACK_RULE`) routes them to the ``ses_events`` function.

From a terminal, while ``make local`` serves (``make ses-event ARGS=...`` does the same)::

    python -m infra.local.ses_feedback bounce --to ann@example.com          # permanent bounce
    python -m infra.local.ses_feedback bounce --to ann@example.com --transient
    python -m infra.local.ses_feedback complaint --to ann@example.com
    python -m infra.local.ses_feedback delivery|open --to ann@example.com
    python -m infra.local.ses_feedback click --to ann@example.com --link https://shop.example.com/x

Each applies to the last email sent to that address (``--number N``: the outbox's email N).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email import message_from_string
from email.utils import getaddresses
from typing import Any, Final, Literal
from urllib import error, request

from infra.local.moto_process import SentMessage, sent_messages
from shared.messaging.ses_events import DETAIL_TYPES, SES_SOURCE, SesEventBridgeEvent

Kind = Literal["bounce", "complaint", "delivery", "open", "click"]
KINDS: Final[tuple[str, ...]] = ("bounce", "complaint", "delivery", "open", "click")
ACCOUNT: Final = "000000000000"
PATH: Final = "/local/ses-events"


class NoSuchEmailError(LookupError):
    pass


def find_message(region: str, to: str | None = None, number: int | None = None) -> SentMessage:
    """The email moto accepted: number N of the outbox (1-based), else the last one sent to ``to``."""
    messages = [m for m in sent_messages(region) if m.raw_data is not None]
    if number is not None:
        if not 1 <= number <= len(messages):
            raise NoSuchEmailError(f"no email number {number}")
        return messages[number - 1]
    for message in reversed(messages):
        if to is None or any(to.lower() == addr.lower() for _, addr in getaddresses(message.destinations)):
            return message
    raise NoSuchEmailError(f"no email was sent to {to}")


def _mail(message: SentMessage, now: datetime) -> dict[str, Any]:
    parsed = message_from_string(message.raw_data or "")
    destination = [addr for _, addr in getaddresses(message.destinations)]
    headers = [{"name": name, "value": str(value)} for name, value in parsed.items()]
    campaign = parsed.get("X-Campaign-Id")
    return {
        "timestamp": now.isoformat().replace("+00:00", "Z"),
        "source": message.source,
        "sendingAccountId": ACCOUNT,
        "messageId": message.id,
        "destination": destination,
        "headersTruncated": False,
        "headers": headers,
        "commonHeaders": {
            "from": [str(parsed.get("From", ""))],
            "to": destination,
            "messageId": message.id,
            "subject": str(parsed.get("Subject", "")),
        },
        # What SES adds from the configuration set and the SendRawEmail Tags (moto keeps no tags: the
        # campaign comes from the header the channel sets, the customer from the address).
        "tags": {
            "ses:configuration-set": [os.environ.get("RM_SES_CONFIGURATION_SET", "rm-email")],
            "ses:source-ip": ["127.0.0.1"],
            **({"campaign_id": [str(campaign)]} if campaign else {}),
        },
    }


def ses_event(
    kind: Kind,
    message: SentMessage,
    *,
    now: datetime | None = None,
    transient: bool = False,
    link: str = "https://www.example.com/",
) -> dict[str, Any]:
    """The EventBridge event SES would publish for ``message`` (validated against the handler's model)."""
    now = now or datetime.now(UTC)
    stamp = now.isoformat().replace("+00:00", "Z")
    mail = _mail(message, now)
    recipients = mail["destination"]
    feedback_id = f"{uuid.uuid4().hex}-000000"
    detail: dict[str, Any] = {"mail": mail}
    if kind == "bounce":
        detail["eventType"] = "Bounce"
        detail["bounce"] = {
            "feedbackId": feedback_id,
            "bounceType": "Transient" if transient else "Permanent",
            "bounceSubType": "MailboxFull" if transient else "General",
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "action": "failed",
                    "status": "4.2.2" if transient else "5.1.1",
                    "diagnosticCode": "smtp; 552 4.2.2 mailbox full"
                    if transient
                    else "smtp; 550 5.1.1 user unknown",
                }
                for r in recipients
            ],
            "timestamp": stamp,
            "reportingMTA": "dsn; a1-2.smtp-out.eu-west-1.amazonses.com",
        }
    elif kind == "complaint":
        detail["eventType"] = "Complaint"
        detail["complaint"] = {
            "feedbackId": feedback_id,
            "complaintSubType": None,
            "complainedRecipients": [{"emailAddress": r} for r in recipients],
            "timestamp": stamp,
            "userAgent": "ExampleCorp Feedback Loop (V0.01)",
            "complaintFeedbackType": "abuse",
            "arrivalDate": stamp,
        }
    elif kind == "delivery":
        detail["eventType"] = "Delivery"
        detail["delivery"] = {
            "timestamp": stamp,
            "processingTimeMillis": 546,
            "recipients": recipients,
            "smtpResponse": "250 ok:  Message 64111812 accepted",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
        }
    elif kind == "open":
        detail["eventType"] = "Open"
        detail["open"] = {"ipAddress": "192.0.2.1", "timestamp": stamp, "userAgent": "Mozilla/5.0"}
    elif kind == "click":
        detail["eventType"] = "Click"
        detail["click"] = {
            "ipAddress": "192.0.2.1",
            "timestamp": stamp,
            "userAgent": "Mozilla/5.0",
            "link": link,
            "linkTags": {},
        }
    else:
        raise ValueError(f"unknown SES event kind {kind!r}")
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPES[detail["eventType"]],
        "source": SES_SOURCE,
        "account": ACCOUNT,
        "time": stamp,
        "region": os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        "resources": [f"arn:aws:ses:eu-west-1:{ACCOUNT}:configuration-set/rm-email"],
        "detail": detail,
    }
    SesEventBridgeEvent.model_validate(event)  # what the handler will accept
    return event


def put_on_default_bus(event: dict[str, Any], region: str) -> None:
    """PutEvents on moto's default bus, as SES does in an account (the rule routes it on)."""
    import boto3

    response = boto3.client("events", region_name=region).put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
                "Resources": event["resources"],
                "EventBusName": "default",
            }
        ]
    )
    if response.get("FailedEntryCount"):
        raise RuntimeError(f"PutEvents failed: {response['Entries']}")


def inject(
    kind: Kind,
    region: str,
    *,
    to: str | None = None,
    number: int | None = None,
    transient: bool = False,
    link: str = "https://www.example.com/",
) -> dict[str, Any]:
    """Publish the SES event of ``kind`` for an email the local stack sent; returns the event."""
    message = find_message(region, to=to, number=number)
    event = ses_event(kind, message, transient=transient, link=link)
    put_on_default_bus(event, region)
    return event


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.ses_feedback", description=__doc__)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--to", help="the recipient (the last email sent to it)")
    parser.add_argument("--number", type=int, help="the outbox's email number instead")
    parser.add_argument("--transient", action="store_true", help="a soft bounce (mailbox full)")
    parser.add_argument("--link", default="https://www.example.com/", help="the clicked link")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the local stack's API URL")
    parser.add_argument("--key", default=os.environ.get("RM_LOCAL_API_KEY", "local-api-key"))
    args = parser.parse_args(argv)
    if args.to is None and args.number is None:
        parser.error("give --to or --number")
    payload = {k: getattr(args, k) for k in ("kind", "to", "number", "transient", "link")}
    req = request.Request(
        f"{args.url.rstrip('/')}{PATH}",
        data=json.dumps(payload).encode(),
        headers={"x-api-key": args.key, "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with request.urlopen(req, timeout=30) as response:
            event = json.loads(response.read())
    except error.HTTPError as exc:
        print(f"{exc.code}: {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except error.URLError as exc:
        print(f"is the local stack running (make local)? {exc.reason}", file=sys.stderr)
        return 1
    print(f"{event['detail-type']} for {', '.join(event['detail']['mail']['destination'])}: {event['id']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
