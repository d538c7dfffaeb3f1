"""Alarms: every dead-letter queue (depth > 0), every function (errors, throttles), the stream consumer
falling behind (IteratorAge), a consumer queue's oldest message getting old (ApproximateAgeOfOldestMessage),
the scoring state machine (failed / timed-out executions) and API 5xx; an SNS topic with an email
subscription when ``alarm_email`` is configured."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.functions import EngineFunction

PERIOD = Duration.minutes(5)
API_5XX_THRESHOLD = 5
# The stream consumer is behind when its newest record read is this old (the stream keeps 24 hours).
ITERATOR_AGE_THRESHOLD = Duration.minutes(10)
# A consumer queue is stuck when its oldest message waits this long (queues keep messages 4 days).
OLDEST_MESSAGE_AGE_THRESHOLD = Duration.minutes(30)


class Observability(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Mapping[str, EngineFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        state_machine: sfn.StateMachine,
        rest_api: apigw.RestApi,
        stream_consumers: Mapping[str, EngineFunction] | None = None,
        consumer_queues: Mapping[str, sqs.IQueue] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic: sns.Topic | None = None
        if config.alarm_email:
            self.topic = sns.Topic(
                self,
                "AlarmTopic",
                display_name=f"Relationship marketing {config.stage} alarms",
                enforce_ssl=True,
            )
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        for name, queue in dead_letter_queues.items():
            self._alarm(
                f"{name}Depth",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"Messages in dead-letter queue {name}: something failed for good; inspect and replay.",
            )
        for name, fn in functions.items():
            self._alarm(
                f"{_camel(name)}Errors",
                fn.function.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {name} function returned errors.",
            )
            self._alarm(
                f"{_camel(name)}Throttles",
                fn.function.metric_throttles(period=PERIOD, statistic="Sum"),
                f"The {name} function was throttled.",
            )
        for name, fn in (stream_consumers or {}).items():
            self._alarm(
                f"{_camel(name)}IteratorAge",
                fn.function.metric("IteratorAge", period=PERIOD, statistic="Maximum"),
                f"The {name} stream consumer is falling behind (records older than "
                f"{ITERATOR_AGE_THRESHOLD.to_minutes()} minutes); the stream keeps records 24 hours.",
                threshold=ITERATOR_AGE_THRESHOLD.to_milliseconds(),
            )
        for name, queue in (consumer_queues or {}).items():
            self._alarm(
                f"{name}OldestMessageAge",
                queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum"),
                f"A message has waited in {name} for over {OLDEST_MESSAGE_AGE_THRESHOLD.to_minutes()} "
                "minutes: its consumer is failing or throttled.",
                threshold=OLDEST_MESSAGE_AGE_THRESHOLD.to_seconds(),
            )
        self._alarm(
            "ScoringFailed",
            state_machine.metric_failed(period=PERIOD, statistic="Sum"),
            "A scoring run failed (see the state machine's execution history and the Runs table).",
        )
        self._alarm(
            "ScoringTimedOut",
            state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            "A scoring run timed out.",
        )
        self._alarm(
            "Api5xx",
            rest_api.metric_server_error(period=PERIOD, statistic="Sum"),
            "The API returned server errors.",
            threshold=API_5XX_THRESHOLD - 1,
        )

    def _alarm(
        self, alarm_id: str, metric: cloudwatch.IMetric, description: str, threshold: float = 0
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            alarm_id,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        if self.topic is not None:
            alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
            alarm.add_ok_action(cw_actions.SnsAction(self.topic))
        self.alarms[alarm_id] = alarm


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
