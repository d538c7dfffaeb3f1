"""EventBridge bus, routing rules (same patterns as shared.events.RULES), SQS queues and event sources."""

from __future__ import annotations

from typing import Any

from infra.constructs.aggregation import STREAM_BATCH_SIZE, STREAM_RETRY_ATTEMPTS
from infra.constructs.bus import MAX_RECEIVE_COUNT
from shared.events import RULES, SOURCE

from .conftest import Synth
from .helpers import get_att, of_type, ref


def test_bus_and_archive(dev: Synth) -> None:
    (bus,) = of_type(dev.resources, "AWS::Events::EventBus").values()
    assert bus["Properties"]["Name"] == "rm-bus-dev"
    (archive,) = of_type(dev.resources, "AWS::Events::Archive").values()
    assert archive["Properties"]["EventPattern"] == {"source": [SOURCE]}
    assert archive["Properties"]["RetentionDays"] == dev.stack.config.event_archive_retention_days


def test_one_rule_per_routing_entry(dev: Synth) -> None:
    bus_id = dev.logical_id(dev.stack.routing.bus)
    rules = {
        k: v
        for k, v in of_type(dev.resources, "AWS::Events::Rule").items()
        if "EventBusName" in v["Properties"]
    }
    assert len(rules) == len(RULES) + 1  # + the webhook rule to the CRM API destination (issue 13)
    for rule_name, (pattern, queue_name) in RULES.items():
        rule = dev.resources[dev.logical_id(dev.stack.routing.rules[rule_name])]["Properties"]
        assert rule["EventBusName"] == ref(bus_id)
        assert rule["EventPattern"] == pattern
        (target,) = rule["Targets"]
        assert target["Arn"] == get_att(dev.logical_id(dev.stack.routing.queues[queue_name]))


def _queues(synth: Synth) -> dict[str, dict[str, Any]]:
    return of_type(synth.resources, "AWS::SQS::Queue")


def test_queues_encrypted_ssl_only_and_dead_lettered(dev: Synth) -> None:
    dlq_ids = {dev.logical_id(q) for q in dev.stack.dead_letter_queues.values()}
    queues = _queues(dev)
    assert dlq_ids <= set(queues)
    ssl_only: set[str] = set()
    for policy in of_type(dev.resources, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                ssl_only.update(q["Ref"] for q in policy["Properties"]["Queues"])
    for logical_id, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, logical_id
        assert logical_id in ssl_only, logical_id
        if logical_id not in dlq_ids:
            redrive = props["RedrivePolicy"]
            assert redrive["maxReceiveCount"] == MAX_RECEIVE_COUNT
            assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][0] in dlq_ids


def test_consumer_queue_visibility_covers_function_timeout(dev: Synth) -> None:
    for name, queue in dev.stack.routing.queues.items():
        visibility = dev.resources[dev.logical_id(queue)]["Properties"]["VisibilityTimeout"]
        assert visibility >= 6 * dev.stack.routing.consumer_timeout(name).to_seconds()


def _mappings(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        m["Properties"]["FunctionName"]["Ref"]: m["Properties"]
        for m in of_type(synth.resources, "AWS::Lambda::EventSourceMapping").values()
    }


def test_queue_consumers_report_partial_failures(dev: Synth) -> None:
    mappings = _mappings(dev)
    expected = {
        "campaigns": dev.stack.routing.queues["CampaignsQueue"],
        "email": dev.stack.routing.queues["EmailQueue"],
    }
    for name, queue in expected.items():
        mapping = mappings[dev.logical_id(dev.stack.factory.functions[name].function)]
        assert mapping["EventSourceArn"] == get_att(dev.logical_id(queue))
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_stream_consumer(dev: Synth) -> None:
    mapping = _mappings(dev)[dev.logical_id(dev.stack.aggregation.aggregate.function)]
    interactions = dev.logical_id(dev.stack.data.tables["Interactions"])
    assert mapping["EventSourceArn"] == get_att(interactions, "StreamArn")
    assert mapping["BatchSize"] == STREAM_BATCH_SIZE
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["MaximumRetryAttempts"] == STREAM_RETRY_ATTEMPTS
    assert mapping["MaximumRecordAgeInSeconds"] > 0
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == get_att(
        dev.logical_id(dev.stack.aggregation.stream_dlq)
    )


def test_campaign_sweep_schedule(dev: Synth) -> None:
    rule = dev.resources[dev.logical_id(dev.stack.campaigns.sweep)]["Properties"]
    assert rule["ScheduleExpression"] == dev.stack.config.campaign_sweep_schedule
    (target,) = rule["Targets"]
    assert target["Arn"] == get_att(dev.logical_id(dev.stack.campaigns.campaigns.function))
    assert target["Input"] == '{"sweep":true}'
    assert target["DeadLetterConfig"]["Arn"] == get_att(dev.logical_id(dev.stack.routing.target_dlq))
