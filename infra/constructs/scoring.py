"""Scoring: the ``score`` function's phases orchestrated by Step Functions, started on a schedule.

::

    Start ─> Summarise (Map over scan segments) ─> Fit ─> Apply (Map) ─> Finish ─> Export ─> Succeed
      └─(catch)─> Fail          any later state ─(catch)─> MarkRunFailed {"phase": "fail"} ─> Fail

Payloads stay small: per-segment summaries go to the exports bucket under ``runs/``.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.config import RUNS_PREFIX, StageConfig
from infra.constructs.data import DataTables
from infra.constructs.functions import EngineFunction, FunctionFactory, log_group
from infra.constructs.nag import acknowledge, acknowledge_wildcard

_THROTTLED = ["Lambda.TooManyRequestsException"]


class Scoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        factory: FunctionFactory,
        data: DataTables,
        bus: events.IEventBus,
        bucket: s3.IBucket,
        export: EngineFunction,
        target_dlq: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.score = factory.create(
            self,
            "score",
            description="Scoring phases (start, summarise, fit, apply, finish, fail) run by Step Functions",
            memory_size=2048,
            timeout=Duration.minutes(15),
            science=True,
        )
        (
            self.score.use_table(data.table("Customers"), data.spec("Customers"))
            .use_table(data.table("Scores"), data.spec("Scores"), write=True, indexes=False)
            .use_table(data.table("ScoreHistory"), data.spec("ScoreHistory"), write=True)
            .use_table(data.table("Runs"), data.spec("Runs"), write=True)
            .use_bucket(bucket, write=[RUNS_PREFIX])
            .use_bus(bus)
            .env("RM_ENGAGEMENT_HALF_LIFE_DAYS", str(config.engagement_half_life_days))
            .env("RM_SCORE_HISTORY_TTL_DAYS", str(config.score_history_ttl_days))
        )

        def invoke(
            state_id: str, payload: dict[str, Any], function: EngineFunction | None = None
        ) -> tasks.LambdaInvoke:
            task = tasks.LambdaInvoke(
                self,
                state_id,
                lambda_function=(function or self.score).function,
                payload=sfn.TaskInput.from_object(payload),
                result_path=sfn.JsonPath.DISCARD,
                retry_on_service_exceptions=True,
            )
            task.add_retry(
                errors=_THROTTLED,
                interval=Duration.seconds(2),
                max_attempts=8,
                backoff_rate=2,
                jitter_strategy=sfn.JitterType.FULL,
            )
            return task

        run_failed = sfn.Fail(self, "RunFailed", error_path="$.error.Error", cause_path="$.error.Cause")
        mark_failed = invoke("MarkRunFailed", {"phase": "fail", "run_id.$": "$.run_id", "error.$": "$.error"})
        mark_failed.add_catch(run_failed, result_path="$.mark_failed_error")
        mark_failed.next(run_failed)

        start = tasks.LambdaInvoke(
            self,
            "Start",
            lambda_function=self.score.function,
            # The execution input (admin API: run_id, total_segments, as_of; schedule: {}) plus the phase.
            payload=sfn.TaskInput.from_json_path_at(
                sfn.JsonPath.json_merge(
                    sfn.JsonPath.object_at("$"), sfn.JsonPath.string_to_json('{"phase": "start"}')
                )
            ),
            result_selector={
                "run_id.$": "$.Payload.run_id",
                "segments.$": "$.Payload.segments",
                "total_segments.$": "$.Payload.total_segments",
            },
            result_path="$",
            retry_on_service_exceptions=True,
        )
        start.add_retry(errors=_THROTTLED, interval=Duration.seconds(2), max_attempts=6, backoff_rate=2)
        start.add_catch(
            sfn.Fail(self, "StartFailed", error_path="$.error.Error", cause_path="$.error.Cause"),
            result_path="$.error",
        )

        def fan_out(state_id: str, phase: str) -> sfn.Map:
            mapped = sfn.Map(
                self,
                state_id,
                items_path="$.segments",
                max_concurrency=config.scoring_max_concurrency,
                item_selector={
                    "phase": phase,
                    "run_id.$": "$.run_id",
                    "segment.$": "$$.Map.Item.Value",
                    "total_segments.$": "$.total_segments",
                },
                result_path=sfn.JsonPath.DISCARD,
            )
            item = tasks.LambdaInvoke(
                self,
                f"{state_id}Segment",
                lambda_function=self.score.function,
                payload=sfn.TaskInput.from_json_path_at("$"),
                result_path=sfn.JsonPath.DISCARD,
                retry_on_service_exceptions=True,
            )
            item.add_retry(
                errors=_THROTTLED,
                interval=Duration.seconds(2),
                max_attempts=8,
                backoff_rate=2,
                jitter_strategy=sfn.JitterType.FULL,
            )
            mapped.item_processor(item)
            return mapped

        summarise = fan_out("Summarise", "summarise")
        fit = invoke("Fit", {"phase": "fit", "run_id.$": "$.run_id"})
        apply = fan_out("Apply", "apply")
        finish = invoke("Finish", {"phase": "finish", "run_id.$": "$.run_id"})
        export_run = invoke("ExportSegments", {"trigger": "scoring_run", "run_id.$": "$.run_id"}, export)
        for state in (summarise, fit, apply, finish, export_run):
            state.add_catch(mark_failed, result_path="$.error")

        definition = (
            start.next(summarise)
            .next(fit)
            .next(apply)
            .next(finish)
            .next(export_run)
            .next(sfn.Succeed(self, "Done"))
        )
        # Step Functions delivers logs as a vended log source: under /aws/vendedlogs/ its resource policy
        # stays small however many log groups the account has (CloudWatch's 5,120-character limit).
        self.log_group = log_group(
            self,
            "StateMachineLogs",
            config,
            name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-scoring-{config.stage}",
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=Duration.hours(config.scoring_timeout_hours),
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=False,  # payloads are run ids only; keep it that way in the logs
            ),
        )
        for fn in (self.score, export):
            acknowledge_wildcard(
                self.state_machine,
                f"{fn.function.function_arn}:*",
                f"Granted by the LambdaInvoke task: invoking the {fn.name} function's versions/aliases "
                "(ARN + ':*'); nothing else.",
            )
        acknowledge(
            self.state_machine,
            "AwsSolutions-IAM5[Resource::*]",
            "CloudWatch Logs vended-delivery actions (logs:CreateLogDelivery etc.) and X-Ray actions that "
            "Step Functions logging/tracing need support no resource-level permissions.",
        )

        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Starts a scoring run",
            schedule=events.Schedule.expression(config.scoring_schedule),
            targets=[
                targets.SfnStateMachine(
                    self.state_machine,
                    input=events.RuleTargetInput.from_object(
                        {"trigger": "schedule"}
                    ),  # defaults for the rest
                    dead_letter_queue=target_dlq,
                    retry_attempts=4,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
