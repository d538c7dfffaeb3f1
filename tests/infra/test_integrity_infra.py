"""Nothing undeliverable vanishes and nothing falls behind unnoticed: every EventBridge target has a
dead-letter queue and a retry policy; the stream consumer's iterator age and every consumer queue's
oldest message are alarmed; the state machine logs to a /aws/vendedlogs/ log group."""

from __future__ import annotations

from typing import Any

from infra.constructs.bus import TARGET_MAX_EVENT_AGE, TARGET_RETRY_ATTEMPTS
from infra.constructs.observability import ITERATOR_AGE_THRESHOLD, OLDEST_MESSAGE_AGE_THRESHOLD

from .conftest import Synth
from .helpers import get_att, of_type


def test_every_eventbridge_target_has_a_dead_letter_queue_and_a_retry_policy(dev: Synth) -> None:
    targets = [
        target
        for rule in of_type(dev.resources, "AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
    ]
    assert len(targets) >= 4  # the bus's queue rules, the scoring schedule, the daily sweep
    for target in targets:
        assert "Arn" in target.get("DeadLetterConfig", {}), target["Id"]
        policy = target.get("RetryPolicy", {})
        assert policy.get("MaximumRetryAttempts", 0) >= 1, target["Id"]
        assert policy.get("MaximumEventAgeInSeconds", 0) > 0, target["Id"]
    queue_targets = [t for t in targets if ":sqs:" in str(t["Arn"]) or "Queue" in str(t["Arn"])]
    target_dlq = get_att(dev.logical_id(dev.stack.routing.target_dlq))
    for target in queue_targets:
        assert target["DeadLetterConfig"]["Arn"] == target_dlq
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": TARGET_RETRY_ATTEMPTS,
            "MaximumEventAgeInSeconds": TARGET_MAX_EVENT_AGE.to_seconds(),
        }


def _alarms(synth: Synth, metric: str) -> list[dict[str, Any]]:
    return [
        alarm["Properties"]
        for alarm in of_type(synth.resources, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == metric
    ]


def test_the_stream_consumer_falling_behind_is_alarmed(dev: Synth) -> None:
    [alarm] = _alarms(dev, "IteratorAge")
    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == ITERATOR_AGE_THRESHOLD.to_milliseconds()
    function = dev.logical_id(dev.stack.aggregation.aggregate.function)
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": function}}]


def test_every_consumer_queue_oldest_message_age_is_alarmed(dev: Synth) -> None:
    alarms = _alarms(dev, "ApproximateAgeOfOldestMessage")
    queues = {dev.logical_id(q) for q in dev.stack.routing.queues.values()}
    queues.add(dev.logical_id(dev.stack.channels.ses_events_queue))  # the SES events' queue (issue 13)
    alarmed = {d["Value"]["Fn::GetAtt"][0] for a in alarms for d in a["Dimensions"]}
    assert alarmed == queues
    assert all(a["Threshold"] == OLDEST_MESSAGE_AGE_THRESHOLD.to_seconds() for a in alarms)


def test_the_state_machine_logs_under_vendedlogs(dev: Synth) -> None:
    log_group = dev.resources[dev.logical_id(dev.stack.scoring.log_group)]["Properties"]
    assert str(log_group["LogGroupName"]).startswith("/aws/vendedlogs/states/")
