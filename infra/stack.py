"""The relationship-marketing stack: wires the constructs of ``infra/constructs`` together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.aggregation import Aggregation
from infra.constructs.api import Api
from infra.constructs.bus import EventBusRouting
from infra.constructs.campaigns import Campaigns
from infra.constructs.channels import Channels
from infra.constructs.console import Console
from infra.constructs.data import DataTables
from infra.constructs.exports import Exports
from infra.constructs.functions import FunctionFactory
from infra.constructs.nag import acknowledge
from infra.constructs.observability import Observability
from infra.constructs.scoring import Scoring


def stack_name(config: StageConfig) -> str:
    return f"RelationshipMarketing-{config.stage}"


class RelationshipMarketingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        app_dir: Path,
        layers_dir: Path,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        Tags.of(self).add("project", "relationship-marketing")
        Tags.of(self).add("stage", config.stage)
        for key, value in config.tags.items():
            Tags.of(self).add(key, value)

        self.data = DataTables(self, "Data", config=config)
        self.routing = EventBusRouting(self, "Events", config=config)
        self.token_secret = secretsmanager.Secret(
            self,
            "TokenSecret",
            description="HMAC key for consent-confirmation and unsubscribe tokens",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=config.removal_policy,
        )
        acknowledge(
            self.token_secret,
            "AwsSolutions-SMG4",
            "HMAC signing key for consent/unsubscribe links: automatic rotation would invalidate links "
            "already sent by email (valid for days, unsubscribe links indefinitely); rotate manually with a "
            "key id.",
        )
        self.factory = FunctionFactory(
            self, "Functions", config=config, app_dir=app_dir, layers_dir=layers_dir
        )
        self.exports = Exports(self, "Exports", config=config, factory=self.factory, data=self.data)
        self.scoring = Scoring(
            self,
            "Scoring",
            config=config,
            factory=self.factory,
            data=self.data,
            bus=self.routing.bus,
            bucket=self.exports.bucket,
            export=self.exports.export,
            target_dlq=self.routing.target_dlq,
        )
        self.api = Api(
            self,
            "Api",
            config=config,
            factory=self.factory,
            data=self.data,
            bus=self.routing.bus,
            bucket=self.exports.bucket,
            token_secret=self.token_secret,
            state_machine=self.scoring.state_machine,
            export=self.exports.export,
        )
        self.aggregation = Aggregation(
            self, "Aggregation", config=config, factory=self.factory, data=self.data, bus=self.routing.bus
        )
        self.campaigns = Campaigns(
            self,
            "Campaigns",
            config=config,
            factory=self.factory,
            data=self.data,
            routing=self.routing,
            token_secret=self.token_secret,
            public_base_url=self.api.base_url,
            target_dlq=self.routing.target_dlq,
        )
        self.channels = Channels(
            self,
            "Channels",
            config=config,
            factory=self.factory,
            data=self.data,
            bus=self.routing.bus,
            target_dlq=self.routing.target_dlq,
        )
        self.observability = Observability(
            self,
            "Observability",
            config=config,
            functions=self.factory.functions,
            dead_letter_queues=self.dead_letter_queues,
            state_machine=self.scoring.state_machine,
            rest_api=self.api.rest_api,
            stream_consumers={"aggregate": self.aggregation.aggregate},
            consumer_queues={**self.routing.queues, "SesEventsQueue": self.channels.ses_events_queue},
        )

        # The marketing console: Cognito sign-in, its API (Cognito authorizer), pages on CloudFront.
        self.console: Console | None = None
        if config.console:
            self.console = Console(
                self,
                "Console",
                config=config,
                admin=self.api.admin,
                access_logs_bucket=self.exports.access_logs_bucket,
            )

        CfnOutput(self, "EventBusName", value=self.routing.bus.event_bus_name)
        CfnOutput(self, "ExportsBucketName", value=self.exports.bucket.bucket_name)
        CfnOutput(self, "AccessLogsBucketName", value=self.exports.access_logs_bucket.bucket_name)
        CfnOutput(self, "ScoringStateMachineArn", value=self.scoring.state_machine.state_machine_arn)
        for logical_name, table in self.data.tables.items():
            CfnOutput(self, f"{logical_name}TableName", value=table.table_name)

    @property
    def dead_letter_queues(self) -> dict[str, sqs.IQueue]:
        queues: dict[str, sqs.IQueue] = {
            f"{name}Dlq": queue for name, queue in self.routing.dead_letter_queues.items()
        }
        queues["EventTargetDlq"] = self.routing.target_dlq
        queues["StreamDlq"] = self.aggregation.stream_dlq
        queues["ExportDlq"] = self.exports.export_dlq
        queues["SweepDlq"] = self.campaigns.campaigns_dlq
        queues["SesEventsDlq"] = self.channels.ses_events_dlq
        queues["WebhookDlq"] = self.channels.webhook_dlq
        return queues
