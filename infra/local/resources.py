"""Create the stack's resources on moto from the same definitions the CDK stack uses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from shared.dal.models import table_specs
from shared.events import RULES
from shared.settings import Settings


@dataclass
class LocalResources:
    stream_arns: dict[str, str] = field(default_factory=dict)  # table logical name -> stream ARN
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue logical name -> URL
    dead_letter_urls: dict[str, str] = field(default_factory=dict)
    webhook_queue_url: str = ""  # drained by the API destination stand-in (infra/local/channels.py)


def _attribute_definitions(spec: Any) -> list[dict[str, str]]:
    keys = [spec.partition_key, spec.sort_key]
    for index in spec.global_indexes:
        keys += [index.partition_key, index.sort_key]
    unique = {k.name: k.type for k in keys if k is not None}
    return [{"AttributeName": name, "AttributeType": kind} for name, kind in unique.items()]


def create_all(settings: Settings) -> LocalResources:
    resources = LocalResources()
    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    for spec in table_specs():
        key_schema = [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
        if spec.sort_key:
            key_schema.append({"AttributeName": spec.sort_key.name, "KeyType": "RANGE"})
        kwargs: dict[str, Any] = {
            "TableName": spec.table_name,
            "KeySchema": key_schema,
            "AttributeDefinitions": _attribute_definitions(spec),
            "BillingMode": "PAY_PER_REQUEST",
        }
        if spec.global_indexes:
            kwargs["GlobalSecondaryIndexes"] = [
                {
                    "IndexName": index.name,
                    "KeySchema": [{"AttributeName": index.partition_key.name, "KeyType": "HASH"}]
                    + (
                        [{"AttributeName": index.sort_key.name, "KeyType": "RANGE"}] if index.sort_key else []
                    ),
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in spec.global_indexes
            ]
        if spec.stream:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
        description = dynamodb.create_table(**kwargs)["TableDescription"]
        if spec.stream:
            resources.stream_arns[spec.logical_name] = description["LatestStreamArn"]
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=spec.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )

    sqs = boto3.client("sqs", region_name=settings.region)
    events = boto3.client("events", region_name=settings.region)
    events.create_event_bus(Name=settings.event_bus_name)
    for queue_name in sorted({queue for _, queue in RULES.values()}):
        dead_letter = sqs.create_queue(QueueName=f"{queue_name}-dlq")["QueueUrl"]
        resources.dead_letter_urls[queue_name] = dead_letter
        resources.queue_urls[queue_name] = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    for rule_name, (pattern, queue_name) in RULES.items():
        events.put_rule(
            Name=rule_name, EventBusName=settings.event_bus_name, EventPattern=json.dumps(pattern)
        )
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=resources.queue_urls[queue_name], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        events.put_targets(
            Rule=rule_name,
            EventBusName=settings.event_bus_name,
            Targets=[{"Id": queue_name, "Arn": queue_arn}],
        )

    boto3.client("s3", region_name=settings.region).create_bucket(
        Bucket=settings.exports_bucket,
        CreateBucketConfiguration={"LocationConstraint": settings.region},  # type: ignore[typeddict-item]
    )
    boto3.client("ses", region_name=settings.region).verify_email_identity(EmailAddress=settings.sender_email)
    return resources
