"""The ``aggregate`` function: consumes the Interactions table's stream and keeps customer aggregates up to
date (atomic ADD/SET), publishing ``InteractionTracked`` events for campaigns."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.bus import dead_letter_queue
from infra.constructs.data import DataTables
from infra.constructs.functions import FunctionFactory
from infra.constructs.nag import acknowledge

STREAM_BATCH_SIZE = 100
STREAM_RETRY_ATTEMPTS = 5
STREAM_MAX_RECORD_AGE = Duration.hours(24)


class Aggregation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        factory: FunctionFactory,
        data: DataTables,
        bus: events.IEventBus,
    ) -> None:
        super().__init__(scope, construct_id)
        interactions = data.table("Interactions")
        self.aggregate = factory.create(
            self,
            "aggregate",
            description="Interactions stream consumer: customer aggregates + InteractionTracked events",
            memory_size=512,
            timeout=Duration.seconds(60),
            extra_wildcard_actions="dynamodb:ListStreams (stream event source; reads use the stream ARN)",
        )
        (
            self.aggregate.use_table(data.table("Customers"), data.spec("Customers"), write=True)
            # Forwards an interaction of a merged profile to its survivor, deletes one of an erased person.
            .use_table(data.table("Interactions"), data.spec("Interactions"), write=True)
            .use_bus(bus)
            .env("RM_ENGAGEMENT_HALF_LIFE_DAYS", str(config.engagement_half_life_days))
        )
        # Records that still fail after bisecting and retrying: their metadata (shard, sequence numbers) goes
        # here for inspection and replay.
        self.stream_dlq = dead_letter_queue(self, "StreamDlq")
        acknowledge(
            self.stream_dlq,
            "AwsSolutions-SQS3",
            "This queue is itself a dead-letter destination: the on-failure destination of the Interactions "
            "stream event source mapping (cdk-nag only recognises redrive policies and Lambda DLQs).",
        )
        self.event_source = sources.DynamoEventSource(
            interactions,
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            batch_size=STREAM_BATCH_SIZE,
            bisect_batch_on_error=True,
            retry_attempts=STREAM_RETRY_ATTEMPTS,
            max_record_age=STREAM_MAX_RECORD_AGE,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(self.stream_dlq),
            # Interactions are written once (conditional put); TTL expiries and updates carry no new facts.
            filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})],
        )
        self.aggregate.target.add_event_source(self.event_source)
