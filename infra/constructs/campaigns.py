"""Campaigns: the ``campaigns`` decision function (bus events via ``CampaignsQueue`` + a daily sweep for
inactivity/date triggers) and the ``email`` channel function (``EmailQueue`` -> SES)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.bus import EventBusRouting, dead_letter_queue
from infra.constructs.data import DataTables
from infra.constructs.functions import FunctionFactory

SQS_BATCH_SIZE = 10


class Campaigns(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        factory: FunctionFactory,
        data: DataTables,
        routing: EventBusRouting,
        token_secret: secretsmanager.ISecret,
        public_base_url: str,
        target_dlq: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        # Failed asynchronous invocations (the scheduled sweep) after Lambda's own retries.
        self.campaigns_dlq = dead_letter_queue(self, "SweepDlq")
        self.campaigns = factory.create(
            self,
            "campaigns",
            description="Campaign decisions (triggers, audience, consent, caps, hold-out)",
            memory_size=512,
            timeout=routing.consumer_timeout("CampaignsQueue"),
            dead_letter_queue=self.campaigns_dlq,
        )
        self.campaigns.target.configure_async_invoke(retry_attempts=2, max_event_age=Duration.hours(6))
        for logical_name in ("Campaigns", "Customers", "Scores", "Interactions"):
            # No index queries (the Scores table's by-segment index is the console's and the exports').
            self.campaigns.use_table(data.table(logical_name), data.spec(logical_name), indexes=False)
        (
            self.campaigns.use_table(
                data.table("CampaignDecisions"), data.spec("CampaignDecisions"), write=True
            )
            .use_bus(routing.bus)
            .use_secret(token_secret)
            .env("RM_PUBLIC_BASE_URL", public_base_url)
            # A send waiting for a pending consent waits as long as the confirmation link lives.
            .env("RM_CONSENT_TOKEN_TTL_HOURS", str(config.consent_token_ttl_hours))
        )
        self.campaigns.target.add_event_source(
            sources.SqsEventSource(
                routing.queues["CampaignsQueue"],
                batch_size=SQS_BATCH_SIZE,
                report_batch_item_failures=True,
            )
        )
        self.sweep = events.Rule(
            self,
            "DailySweep",
            description="Daily sweep for inactivity and date triggers (fanned out in scan segments)",
            schedule=events.Schedule.expression(config.campaign_sweep_schedule),
            targets=[
                targets.LambdaFunction(
                    self.campaigns.target,
                    event=events.RuleTargetInput.from_object({"sweep": True}),
                    dead_letter_queue=target_dlq,
                    retry_attempts=4,
                    max_event_age=Duration.hours(2),
                )
            ],
        )

        # Deferred decisions now due (sparse due index): a due send goes out within 5 minutes of its time.
        self.due_sweep = events.Rule(
            self,
            "DueSweep",
            description="Deferred campaign decisions now due (delays, quiet hours, pending consent)",
            schedule=events.Schedule.expression(config.campaign_due_sweep_schedule),
            targets=[
                targets.LambdaFunction(
                    self.campaigns.target,
                    event=events.RuleTargetInput.from_object({"sweep": "due"}),
                    dead_letter_queue=target_dlq,
                    retry_attempts=2,
                    max_event_age=Duration.minutes(10),
                )
            ],
        )

        self.email = factory.create(
            self,
            "email",
            description="Email channel: consent confirmations and campaign emails through SES",
            memory_size=256,
            timeout=routing.consumer_timeout("EmailQueue"),
        )
        # The content travels in the event (name, signed unsubscribe URL); the profile is read again at
        # send time (nothing to an erased person, campaign emails only while consent is still granted).
        # Powertools idempotency records make a redelivered message send nothing twice.
        (
            self.email.use_table(data.table("Idempotency"), data.spec("Idempotency"), write=True)
            .use_table(data.table("Customers"), data.spec("Customers"))
            # Suppression at send time: the address's holders (aliases) and the do-not-contact list.
            .use_table(data.table("Identities"), data.spec("Identities"), indexes=False)
            # Records what happened to each campaign email's decision (queued -> sent/failed/skipped).
            .use_table(
                data.table("CampaignDecisions"), data.spec("CampaignDecisions"), write=True, indexes=False
            )
            .use_ses(config)
        )
        self.email.target.add_event_source(
            sources.SqsEventSource(
                routing.queues["EmailQueue"],
                batch_size=SQS_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=max(2, config.email_max_concurrency),  # protects the SES sending rate
            )
        )
