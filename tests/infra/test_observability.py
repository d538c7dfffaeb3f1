"""Alarms on every DLQ, every function and the scoring state machine; SNS only with an alarm email."""

from __future__ import annotations

from typing import Any

from .conftest import Synth
from .helpers import get_att, of_type, ref


def _alarms(synth: Synth) -> list[dict[str, Any]]:
    return [a["Properties"] for a in of_type(synth.resources, "AWS::CloudWatch::Alarm").values()]


def _dimension(alarm: dict[str, Any], name: str) -> Any:
    return next((d["Value"] for d in alarm.get("Dimensions", []) if d["Name"] == name), None)


def test_every_dead_letter_queue_has_a_depth_alarm(dev: Synth) -> None:
    watched = {
        str(_dimension(a, "QueueName"))
        for a in _alarms(dev)
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible" and a["Threshold"] == 0
    }
    for name, queue in dev.stack.dead_letter_queues.items():
        assert str(get_att(dev.logical_id(queue), "QueueName")) in watched, name


def test_every_function_has_error_and_throttle_alarms(dev: Synth) -> None:
    for name, fn in dev.stack.factory.functions.items():
        function_ref = ref(dev.logical_id(fn.function))
        metrics = {a["MetricName"] for a in _alarms(dev) if _dimension(a, "FunctionName") == function_ref}
        assert {"Errors", "Throttles"} <= metrics, name


def test_state_machine_failure_alarm(dev: Synth) -> None:
    machine = ref(dev.logical_id(dev.stack.scoring.state_machine))
    metrics = {a["MetricName"] for a in _alarms(dev) if _dimension(a, "StateMachineArn") == machine}
    assert {"ExecutionsFailed", "ExecutionsTimedOut"} <= metrics


def test_alarm_topic_only_with_email(dev: Synth, prod: Synth) -> None:
    assert not of_type(dev.resources, "AWS::SNS::Topic")
    (topic_id,) = of_type(prod.resources, "AWS::SNS::Topic")
    (subscription,) = of_type(prod.resources, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "ops@example.com"
    for alarm in _alarms(prod):
        assert alarm["AlarmActions"] == [ref(topic_id)]
