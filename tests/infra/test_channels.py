"""Channels (issue 13): the SES configuration set and its EventBridge event destination, the SES feedback
rule on the default bus with its queue and dead-letter queues, the CRM API destination with its
connection, retry policy and dead-letter queue, and the SES grants for the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.constructs.channels import WEBHOOK_MAX_EVENT_AGE, WEBHOOK_RETRY_ATTEMPTS
from shared.events import SES_FEEDBACK_RULE, WEBHOOK_HEADER_PATHS, WEBHOOK_RULE

from .conftest import Synth, _synth
from .helpers import as_list, flatten_join, get_att, of_type, policy_statements_for_role, ref


def _only(resources: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    (resource,) = of_type(resources, cfn_type).values()
    return dict(resource)


def test_the_configuration_set_publishes_to_the_default_bus(dev: Synth) -> None:
    config_set = _only(dev.resources, "AWS::SES::ConfigurationSet")
    assert config_set["Properties"]["Name"] == dev.stack.config.ses_configuration_set
    assert config_set["Properties"]["SuppressionOptions"] == {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}
    destination = _only(dev.resources, "AWS::SES::ConfigurationSetEventDestination")["Properties"]
    assert destination["ConfigurationSetName"] == ref(dev.logical_id(dev.stack.channels.configuration_set))
    event_destination = destination["EventDestination"]
    assert event_destination["Enabled"] is True
    assert {"bounce", "complaint", "delivery", "open", "click"} <= set(
        event_destination["MatchingEventTypes"]
    )
    bus_arn = flatten_join(event_destination["EventBridgeDestination"]["EventBusArn"])
    assert bus_arn.endswith(":event-bus/default")


def test_ses_feedback_reaches_its_function_through_a_queue_with_dead_letter_queues(dev: Synth) -> None:
    channels = dev.stack.channels
    rule = dev.resources[dev.logical_id(channels.ses_rule)]["Properties"]
    assert "EventBusName" not in rule  # the default bus, where SES publishes
    pattern, _ = SES_FEEDBACK_RULE
    assert rule["EventPattern"]["source"] == pattern["source"]
    assert rule["EventPattern"]["detail-type"] == pattern["detail-type"]
    assert rule["EventPattern"]["detail"] == {
        "mail": {"tags": {"ses:configuration-set": [dev.stack.config.ses_configuration_set]}}
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == get_att(dev.logical_id(channels.ses_events_queue))
    assert target["DeadLetterConfig"]["Arn"] == get_att(dev.logical_id(dev.stack.routing.target_dlq))
    queue = dev.resources[dev.logical_id(channels.ses_events_queue)]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == get_att(dev.logical_id(channels.ses_events_dlq))
    mappings = [
        m["Properties"]
        for m in of_type(dev.resources, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"].get("EventSourceArn") == get_att(dev.logical_id(channels.ses_events_queue))
    ]
    assert len(mappings) == 1
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_webhook_goes_to_the_crm_api_destination_with_retries_and_a_dead_letter_queue(dev: Synth) -> None:
    channels = dev.stack.channels
    connection = _only(dev.resources, "AWS::Events::Connection")["Properties"]
    assert connection["AuthorizationType"] == "API_KEY"
    api_key = connection["AuthParameters"]["ApiKeyAuthParameters"]
    assert api_key["ApiKeyName"] == dev.stack.config.crm_api_key_header
    # The key is resolved from Secrets Manager at deploy time, never written into the template.
    assert "resolve:secretsmanager" in flatten_join(api_key["ApiKeyValue"])
    destination = _only(dev.resources, "AWS::Events::ApiDestination")["Properties"]
    assert destination["InvocationEndpoint"] == dev.stack.config.crm_webhook_url
    assert destination["HttpMethod"] == "POST"
    assert destination["InvocationRateLimitPerSecond"] == dev.stack.config.crm_rate_limit_per_second

    rule = dev.resources[dev.logical_id(channels.webhook_rule)]
    assert rule["Properties"]["EventBusName"] == ref(dev.logical_id(dev.stack.routing.bus))
    assert rule["Properties"]["EventPattern"] == WEBHOOK_RULE
    (target,) = rule["Properties"]["Targets"]
    (destination_id,) = of_type(dev.resources, "AWS::Events::ApiDestination")
    assert target["Arn"] == get_att(destination_id)
    assert target["InputPath"] == "$.detail"
    assert target["HttpParameters"]["HeaderParameters"] == WEBHOOK_HEADER_PATHS
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": WEBHOOK_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": WEBHOOK_MAX_EVENT_AGE.to_seconds(),
    }
    assert target["DeadLetterConfig"]["Arn"] == get_att(dev.logical_id(channels.webhook_dlq))
    # Regions without these resource types deploy without them (cfn-lint checks every region).
    assert rule["Condition"] == dev.logical_id(channels.available)


def test_the_dead_letter_queues_are_alarmed(dev: Synth) -> None:
    alarmed = {
        flatten_join(d["Value"])
        for a in of_type(dev.resources, "AWS::CloudWatch::Alarm").values()
        for d in a["Properties"].get("Dimensions", [])
    }
    for queue in (dev.stack.channels.ses_events_dlq, dev.stack.channels.webhook_dlq):
        assert f"<{dev.logical_id(queue)}.QueueName>" in alarmed


def _ses_statement(synth: Synth) -> dict[str, Any]:
    fn = synth.resources[synth.logical_id(synth.stack.factory.functions["email"].function)]
    role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = policy_statements_for_role(synth.resources, role)
    return next(s for s in statements if "ses:SendRawEmail" in as_list(s["Action"]))


def test_in_the_sandbox_the_recipient_identities_are_granted_too(
    dev: Synth, app_dir: Path, tmp_path: Path
) -> None:
    assert dev.stack.config.ses_sandbox  # dev: SES sandbox by default
    sandbox = _synth({"ses_sandbox_recipients": "tester@example.org,example.net"}, app_dir, tmp_path)
    names = sorted(flatten_join(r).rsplit("/", 1)[1] for r in as_list(_ses_statement(sandbox)["Resource"]))
    assert names == sorted(
        ["example.com", "example.net", "no-reply@example.com", "tester@example.org", "rm-email-dev"]
    )


def test_out_of_the_sandbox_only_the_sender_is_granted(prod: Synth) -> None:
    assert not prod.stack.config.ses_sandbox
    names = sorted(flatten_join(r).rsplit("/", 1)[1] for r in as_list(_ses_statement(prod)["Resource"]))
    assert names == sorted(["example.com", "hello@example.com", "rm-email-prod"])
