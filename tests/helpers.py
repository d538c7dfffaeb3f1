"""Helpers for tests that drive the local stack."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3

from infra.local.stack import LocalStack
from shared.events import SOURCE
from shared.settings import get_settings


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


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
