"""Channels that close the loop (issue 13).

- **SES feedback**: the configuration set every email names, with an EventBridge event destination
  (bounces, complaints, deliveries, opens, clicks, ...). SES publishes to the account's *default* bus
  (https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html), so the rule
  (:data:`shared.events.SES_FEEDBACK_RULE`) lives there and routes to ``SesEventsQueue`` (with its own
  dead-letter queue) -> the ``ses_events`` function. The configuration set also turns on SES's
  account-level suppression for bounces and complaints, a second line behind the engine's own.
- **Webhook** (``sales-handover``): :data:`shared.events.WEBHOOK_RULE` on the engine's bus targets an
  EventBridge API destination: a connection with API-key authorisation (EventBridge keeps the credentials
  in a Secrets Manager secret it manages; the key comes from the ``CrmApiKey`` secret), a retry policy,
  and a dead-letter queue for what could not be delivered
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html). The request body is
  the CampaignTriggered detail; ``Idempotency-Key`` (the decision's message key) lets the CRM drop a
  redelivery (EventBridge delivers at least once).
"""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, CfnResource, Duration, Fn, ICfnConditionExpression, SecretValue
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.bus import (
    MAX_RECEIVE_COUNT,
    TARGET_MAX_EVENT_AGE,
    TARGET_RETRY_ATTEMPTS,
    dead_letter_queue,
    event_pattern,
    secure_queue,
)
from infra.constructs.data import DataTables
from infra.constructs.functions import FunctionFactory
from infra.constructs.nag import acknowledge
from shared.events import SES_FEEDBACK_RULE, WEBHOOK_HEADER_PATHS, WEBHOOK_RULE

SES_EVENTS_TIMEOUT = Duration.seconds(60)
SQS_BATCH_SIZE = 10
# EventBridge retries a failed API destination call (429, 5xx, timeouts) this often within this age.
WEBHOOK_RETRY_ATTEMPTS = 24
WEBHOOK_MAX_EVENT_AGE = Duration.hours(24)
# Regions of the target partitions (cdk.json) without SES configuration sets / event destinations or
# EventBridge API destinations (CloudFormation resource types, as cfn-lint's schemas list them): there the
# stack deploys without these resources, and emails are sent without a configuration set.
UNSUPPORTED_REGIONS = (
    "ap-east-1",
    "ap-east-2",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-south-2",
    "il-central-1",
    "mx-central-1",
)
SES_EVENT_TYPES = (
    ses.EmailSendingEvent.SEND,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.OPEN,
    ses.EmailSendingEvent.CLICK,
    ses.EmailSendingEvent.RENDERING_FAILURE,
    ses.EmailSendingEvent.DELIVERY_DELAY,
)


def _any_region(regions: tuple[str, ...]) -> ICfnConditionExpression:
    """``Fn::Or`` over region equalities (at most 10 operands each, nested)."""
    equals = [Fn.condition_equals(Aws.REGION, region) for region in regions]
    while len(equals) > 1:
        equals = [
            Fn.condition_or(*equals[i : i + 10]) if len(equals[i : i + 10]) > 1 else equals[i]
            for i in range(0, len(equals), 10)
        ]
    return equals[0]


class Channels(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        factory: FunctionFactory,
        data: DataTables,
        bus: events.IEventBus,
        target_dlq: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.available = CfnCondition(
            self, "Available", expression=Fn.condition_not(_any_region(UNSUPPORTED_REGIONS))
        )
        # --- SES feedback -------------------------------------------------------------------------
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=config.ses_configuration_set,
            reputation_metrics=True,
            sending_enabled=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        default_bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
        self.event_destination = ses.ConfigurationSetEventDestination(
            self,
            "ToEventBridge",
            configuration_set=self.configuration_set,
            destination=ses.EventDestination.event_bus(default_bus),
            events=list(SES_EVENT_TYPES),
        )
        pattern, queue_name = SES_FEEDBACK_RULE
        self.ses_events_dlq = dead_letter_queue(self, "SesEventsDlq")
        self.ses_events_queue = secure_queue(
            self,
            queue_name,
            visibility_timeout=Duration.seconds(SES_EVENTS_TIMEOUT.to_seconds() * 6),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.ses_events_dlq, max_receive_count=MAX_RECEIVE_COUNT
            ),
        )
        self.ses_rule = events.Rule(
            self,
            "SesFeedback",  # on the default bus (no event_bus): where SES publishes
            description="SES sending events of the engine's configuration set -> ses_events",
            event_pattern=event_pattern(
                {
                    **pattern,
                    "detail": {"mail": {"tags": {"ses:configuration-set": [config.ses_configuration_set]}}},
                }
            ),
            targets=[
                targets.SqsQueue(
                    self.ses_events_queue,
                    dead_letter_queue=target_dlq,
                    retry_attempts=TARGET_RETRY_ATTEMPTS,
                    max_event_age=TARGET_MAX_EVENT_AGE,
                )
            ],
        )
        self.ses_events = factory.create(
            self,
            "ses_events",
            description="SES feedback: bounces/complaints suppress, deliveries/opens/clicks are interactions",
            memory_size=256,
            timeout=SES_EVENTS_TIMEOUT,
        )
        # shared.services.feedback: address -> profiles (alias batch get), suppression and consent on the
        # profile, interactions of the recipient.
        (
            self.ses_events.use_table(data.table("Customers"), data.spec("Customers"), write=True)
            .use_table(data.table("Interactions"), data.spec("Interactions"), write=True)
            .use_table(data.table("Identities"), data.spec("Identities"), indexes=False)
            # ConsentChanged (suppressed, revoked) for each change it makes (shared.services.consent).
            .use_bus(bus)
        )
        self.ses_events.target.add_event_source(
            sources.SqsEventSource(
                self.ses_events_queue, batch_size=SQS_BATCH_SIZE, report_batch_item_failures=True
            )
        )

        # --- webhook (API destination) ----------------------------------------------------------
        self.crm_api_key = secretsmanager.Secret(
            self,
            "CrmApiKey",
            description="API key of the CRM webhook (sales hand-over): put the CRM's key here",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=40, exclude_punctuation=True
            ),
            removal_policy=config.removal_policy,
        )
        acknowledge(
            self.crm_api_key,
            "AwsSolutions-SMG4",
            "The CRM issues this API key: it is rotated in the CRM and then pasted here, not by a Lambda.",
        )
        self.connection = events.Connection(
            self,
            "CrmConnection",
            description="The CRM's API (sales hand-over webhook)",
            authorization=events.Authorization.api_key(
                config.crm_api_key_header, SecretValue.secrets_manager(self.crm_api_key.secret_arn)
            ),
        )
        self.api_destination = events.ApiDestination(
            self,
            "CrmDestination",
            connection=self.connection,
            endpoint=config.crm_webhook_url,
            http_method=events.HttpMethod.POST,
            rate_limit_per_second=config.crm_rate_limit_per_second,
            description="Marketing-qualified leads to the CRM",
        )
        self.webhook_dlq = dead_letter_queue(self, "WebhookDlq")
        acknowledge(
            self.webhook_dlq,
            "AwsSolutions-SQS3",
            "This queue is itself a dead-letter queue: the DLQ of the CRM API destination target.",
        )
        self.webhook_rule = events.Rule(
            self,
            "WebhookCampaigns",
            event_bus=bus,
            description="Webhook campaign decisions (sales hand-over) -> the CRM API destination",
            event_pattern=event_pattern(WEBHOOK_RULE),
            targets=[
                targets.ApiDestination(
                    self.api_destination,
                    event=events.RuleTargetInput.from_event_path("$.detail"),
                    header_parameters=dict(WEBHOOK_HEADER_PATHS),
                    dead_letter_queue=self.webhook_dlq,
                    retry_attempts=WEBHOOK_RETRY_ATTEMPTS,
                    max_event_age=WEBHOOK_MAX_EVENT_AGE,
                )
            ],
        )
        # Everything these define (the rule's target role included) exists only where the types do.
        for construct in (
            self.configuration_set,
            self.event_destination,
            self.connection,
            self.api_destination,
            self.webhook_rule,
        ):
            for child in construct.node.find_all():
                if isinstance(child, CfnResource):
                    child.cfn_options.condition = self.available
        for child in self.webhook_dlq.node.find_all():  # its policy names the rule
            if isinstance(child, CfnResource) and child.cfn_resource_type == "AWS::SQS::QueuePolicy":
                child.cfn_options.condition = self.available
        email = factory.functions["email"]
        email.env(
            "RM_SES_CONFIGURATION_SET",
            Fn.condition_if(self.available.logical_id, config.ses_configuration_set, "").to_string(),
        )
