"""Helpers for tests that drive the local stack."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from infra.local.demo import Client, cdnow_orders
from infra.local.stack import LocalStack
from shared.events import SOURCE, SegmentChanged
from shared.settings import get_settings


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def prefixed_orders(prefix: str, customers: int) -> list[dict[str, Any]]:
    """The CDNOW sample's orders of ``customers`` customers as Segment track calls, their user and order ids
    prefixed so that they are new to the session's shared stack."""
    calls = cdnow_orders(customers)
    for call in calls:
        call["userId"] = f"{prefix}-{call['userId']}"
        call["properties"]["order_id"] = f"{prefix}-{call['properties']['order_id']}"
    return calls


def post_batches(client: Client, calls: list[dict[str, Any]]) -> None:
    """Send the calls through ``/v1/batch``, 100 at a time; each batch must be accepted."""
    for start in range(0, len(calls), 100):
        status, body, _ = client.call("POST", "/v1/batch", {"batch": calls[start : start + 100]})
        assert status == 200, body


def emails_to(stack: LocalStack, address: str) -> list[dict[str, str]]:
    """Emails SES accepted for ``address`` (the local stack's moto keeps them)."""
    return [m for m in stack.sent_emails() if m["To"] == address]


def daytime_zone(now: datetime | None = None) -> str:
    """A fixed-offset time zone where it is around noon now, so quiet hours never defer a test's send."""
    hour = (now or datetime.now(UTC)).hour
    offset = 12 - hour  # hours to add to UTC to reach noon: -11..12
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")


def bus_tap(detail_type: str) -> tuple[Any, str]:
    """An SQS queue subscribed to one detail-type on the bus (as a consumer team would add one)."""
    settings = get_settings()
    sqs = boto3.client("sqs", region_name=settings.region)
    events = boto3.client("events", region_name=settings.region)
    name = f"tap-{detail_type}-{uuid.uuid4().hex[:6]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=name,
        EventBusName=settings.event_bus_name,
        EventPattern=json.dumps({"source": [SOURCE], "detail-type": [detail_type]}),
    )
    events.put_targets(Rule=name, EventBusName=settings.event_bus_name, Targets=[{"Id": "tap", "Arn": arn}])
    return sqs, url


def drain_queue(sqs: Any, url: str) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def raw_emails(stack: LocalStack) -> list[bytes]:
    """The exact bytes of every message SES (moto) accepted: ``SendRawEmail``'s data as received."""
    assert stack.moto is not None
    # moto keeps the data as the UTF-8 text it decoded from the request: encoding it gives the bytes back.
    return [
        sent.raw_data.encode() for sent in stack.moto.sent_messages(get_settings().region) if sent.raw_data
    ]


class WireError(AssertionError):
    pass


def wire_headers(raw: bytes) -> dict[str, list[bytes]]:
    """Check a message's header block byte by byte (RFC 5322 2.1/2.2, no decoding parser involved) and
    return each header's unfolded value as bytes, by lower-case name.

    Strict: CRLF line endings only (no bare CR or LF), printable US-ASCII in the header block, every
    line at most 998 bytes, folded lines start with a space or tab, field names of printable characters
    without colon, a blank line before the body.
    """
    head, sep, _ = raw.partition(b"\r\n\r\n")
    if not sep:
        raise WireError("no CRLF CRLF between the header block and the body")
    headers: dict[str, list[bytes]] = {}
    name: str | None = None
    for line in head.split(b"\r\n"):
        if b"\r" in line or b"\n" in line:
            raise WireError(f"bare CR or LF in a header line: {line!r}")
        if len(line) > 998:
            raise WireError(f"header line of {len(line)} bytes")
        if any(b > 126 or (b < 32 and b != 9) for b in line):
            raise WireError(f"non-ASCII or control byte in a header line: {line!r}")
        if line[:1] in (b" ", b"\t"):
            if name is None:
                raise WireError("the header block starts with a continuation line")
            headers[name][-1] += line  # unfolding: drop the CRLF, keep the whitespace
            continue
        field, colon, value = line.partition(b":")
        if not colon or not field or any(b <= 32 or b > 126 for b in field):
            raise WireError(f"not a header field: {line!r}")
        name = field.decode().lower()
        headers.setdefault(name, []).append(value.removeprefix(b" "))
    return headers


def new_champions(prefix: str, count: int) -> list[SegmentChanged]:
    """``count`` people who just became Champions (each a new id): bus events for the campaigns queue."""
    return [
        SegmentChanged(
            customer_id=unique(prefix),
            run_id=prefix,
            previous_segment=None,
            segment="Champions",
            recency_score=5,
            frequency_score=5,
            monetary_score=5,
            clv=10.0,
            p_alive=0.9,
        )
        for _ in range(count)
    ]
