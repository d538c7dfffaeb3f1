"""The EventBridge bus (with an archive for replay), the consumer queues and one rule per
:data:`shared.events.RULES` entry - the same routing the local dispatcher uses."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.nag import acknowledge
from shared.events import RULES, SOURCE
from shared.settings import Settings

# EventPattern field for each top-level key of an event pattern.
_PATTERN_FIELDS = {
    "source": "source",
    "detail-type": "detail_type",
    "detail": "detail",
    "account": "account",
    "region": "region",
    "resources": "resources",
    "id": "id",
    "time": "time",
    "version": "version",
}

# How long consumers may take per batch; SQS visibility timeouts are six times this (AWS guidance).
CONSUMER_TIMEOUTS: dict[str, Duration] = {
    "CampaignsQueue": Duration.minutes(5),
    "EmailQueue": Duration.seconds(60),
}
MAX_RECEIVE_COUNT = 5
# Every EventBridge target: retried this often within this age, then sent to the target dead-letter queue
# (without a DLQ an event EventBridge cannot deliver is dropped after 24 hours of retries).
TARGET_RETRY_ATTEMPTS = 8
TARGET_MAX_EVENT_AGE = Duration.hours(2)


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    unknown = set(pattern) - set(_PATTERN_FIELDS)
    if unknown:
        raise ValueError(f"unsupported event pattern keys: {sorted(unknown)}")
    return events.EventPattern(**{_PATTERN_FIELDS[key]: value for key, value in pattern.items()})


def secure_queue(scope: Construct, construct_id: str, **kwargs: Any) -> sqs.Queue:
    """An SQS queue encrypted with SQS-managed keys (EventBridge can deliver to it) that refuses non-TLS."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        **kwargs,
    )


def dead_letter_queue(scope: Construct, construct_id: str) -> sqs.Queue:
    return secure_queue(scope, construct_id, retention_period=Duration.days(14))


def default_bus_name() -> str:
    """The settings' default bus name (not the environment's: synth must not depend on RM_* variables)."""
    return str(Settings.model_fields["event_bus_name"].default)


class EventBusRouting(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"{default_bus_name()}-{config.stage}")
        self.archive = self.bus.archive(
            "Archive",
            description="Every engine event, kept for replay.",
            event_pattern=events.EventPattern(source=[SOURCE]),
            retention=Duration.days(config.event_archive_retention_days),
        )
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for queue_name in dict.fromkeys(queue for _, queue in RULES.values()):
            timeout = CONSUMER_TIMEOUTS.get(queue_name, Duration.seconds(60))
            dlq = dead_letter_queue(self, f"{queue_name}Dlq")
            self.dead_letter_queues[queue_name] = dlq
            self.queues[queue_name] = secure_queue(
                self,
                queue_name,
                visibility_timeout=Duration.seconds(timeout.to_seconds() * 6),
                retention_period=Duration.days(4),
                dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
            )
        # Events that EventBridge could not deliver to a target (a queue, a schedule's Lambda or Step
        # Functions) after its retries.
        self.target_dlq = dead_letter_queue(self, "TargetDlq")
        acknowledge(
            self.target_dlq,
            "AwsSolutions-SQS3",
            "This queue is itself a dead-letter queue: the DLQ of EventBridge rule targets (cdk-nag only "
            "recognises SQS redrive policies and Lambda DLQs).",
        )
        self.rules: dict[str, events.Rule] = {}
        for rule_name, (pattern, queue_name) in RULES.items():
            self.rules[rule_name] = events.Rule(
                self,
                rule_name,
                event_bus=self.bus,
                description=f"{rule_name}: route to {queue_name}",
                event_pattern=event_pattern(pattern),
                targets=[
                    targets.SqsQueue(
                        self.queues[queue_name],
                        dead_letter_queue=self.target_dlq,
                        retry_attempts=TARGET_RETRY_ATTEMPTS,
                        max_event_age=TARGET_MAX_EVENT_AGE,
                    )
                ],
            )

    def consumer_timeout(self, queue_name: str) -> Duration:
        return CONSUMER_TIMEOUTS.get(queue_name, Duration.seconds(60))
