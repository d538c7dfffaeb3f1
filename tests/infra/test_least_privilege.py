"""Least privilege, action by action: each function's role may grant exactly what its code calls.

:data:`CODE_CALLS` is the table of what each function's code (and the event source Lambda runs for it)
calls on which resource, written from the code (the module that makes each call is named). The test reads
every statement of every function's role in the synthesised template, names each resource, and fails on
any grant the table does not list (and on anything listed that is not granted).
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Synth
from .helpers import as_list, flatten_join, policy_statements_for_role

# DynamoDB, as the code calls it: PynamoDB reads (get, batch get, query, scan, a transaction's condition
# check) and writes (put, update, delete, batch write; a transaction needs the same item actions).
TABLE_READ = frozenset(
    {
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    }
)
TABLE_WRITE = TABLE_READ | {
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
}
INDEX_QUERY = frozenset({"dynamodb:Query"})
OBJECT_READ = frozenset({"s3:GetObject"})
OBJECT_WRITE = OBJECT_READ | {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}
LIST_BUCKET = frozenset({"s3:ListBucket"})
PUT_EVENTS = frozenset({"events:PutEvents"})
SECRET = frozenset({"secretsmanager:GetSecretValue"})
# Lambda's event sources, on the function's behalf.
QUEUE_SOURCE = frozenset(
    {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    }
)
STREAM_SOURCE = frozenset({"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"})
# Every function: its own log group, X-Ray (no resource-level permissions).
EVERY_FUNCTION: dict[str, frozenset[str]] = {
    "logs:own": frozenset({"logs:CreateLogStream", "logs:PutLogEvents"}),
    "*": frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}),
}

CODE_CALLS: dict[str, dict[str, frozenset[str]]] = {
    # shared.services.tracking: profiles, aliases (transactions with the profile), tombstone checks,
    # interactions, merges (the by-customer index); consent events; signs links with the token secret.
    "track": {
        "table:Customers": TABLE_WRITE,
        "table:Interactions": TABLE_WRITE,
        "table:Identities": TABLE_WRITE,
        "table:Identities/index/by-customer": INDEX_QUERY,
        "table:RejectedCalls": TABLE_WRITE,  # shared.services.rejected_calls: refused calls, kept 7 days
        "bus": PUT_EVENTS,
        "secret": SECRET,
    },
    # shared.services.customers (views, access export, erasure in every table), exports.start_export/view
    # (export records; presigned links need GetObject), campaigns report (by-campaign index), scoring runs.
    "admin_api": {
        **{
            f"table:{name}": TABLE_WRITE
            for name in (
                "Customers",
                "Interactions",
                "Identities",
                "Scores",
                "Runs",
                "Campaigns",
                "CampaignDecisions",
                "ScoreHistory",  # the profile's scores over runs; erasure deletes them
            )
        },
        "table:Identities/index/by-customer": INDEX_QUERY,
        "table:Scores/index/by-segment": INDEX_QUERY,  # shared.services.segments.detail: the sample
        "table:CampaignDecisions/index/by-campaign": INDEX_QUERY,
        "table:RejectedCalls": TABLE_READ,  # GET /v1/rejected-calls
        "bucket/exports/*": OBJECT_READ,
        "bucket/runs/*": OBJECT_READ,
        "bucket": LIST_BUCKET,
        "state_machine": frozenset({"states:StartExecution"}),
        "function:export": frozenset({"lambda:InvokeFunction"}),
    },
    # shared.services.aggregation: aggregates; forwards a merged profile's interaction, deletes an erased
    # person's; InteractionTracked events. The stream event source and its on-failure queue.
    "aggregate": {
        "table:Customers": TABLE_WRITE,
        "table:Interactions": TABLE_WRITE,
        "bus": PUT_EVENTS,
        "stream:Interactions": STREAM_SOURCE,
        "*": frozenset({"dynamodb:ListStreams"}),
        "queue:StreamDlq": frozenset({"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}),
    },
    # shared.services.scoring: reads customers, writes scores and runs, summaries under runs/.
    "score": {
        "table:Customers": TABLE_READ,
        "table:Scores": TABLE_WRITE,
        "table:ScoreHistory": TABLE_WRITE,  # shared.dal.scores.save_all: each run's entry per customer
        "table:Runs": TABLE_WRITE,
        "bucket/runs/*": OBJECT_WRITE,
        "bucket": LIST_BUCKET,
        "bus": PUT_EVENTS,
    },
    # shared.services.campaigns: catalogue, customers, scores, recent purchases; records decisions.
    "campaigns": {
        "table:Campaigns": TABLE_READ,
        "table:Customers": TABLE_READ,
        "table:Scores": TABLE_READ,
        "table:Interactions": TABLE_READ,
        "table:CampaignDecisions": TABLE_WRITE,
        "table:CampaignDecisions/index/by-campaign": INDEX_QUERY,
        "table:CampaignDecisions/index/due": INDEX_QUERY,  # sweep_due: deferred decisions now due
        "bus": PUT_EVENTS,
        "secret": SECRET,
        "queue:CampaignsQueue": QUEUE_SOURCE,
        "queue:SweepDlq": frozenset({"sqs:SendMessage"}),
    },
    # functions.email: idempotency records, re-reads the profile at send time, sends through SES, records
    # the decision's outcome (sent once SES accepted, failed with its reason).
    "email": {
        "table:Idempotency": TABLE_WRITE,
        "table:Customers": TABLE_READ,
        "table:CampaignDecisions": TABLE_WRITE,
        "table:Identities": TABLE_READ,  # the address's holders and the do-not-contact list
        "ses:identity": frozenset({"ses:SendEmail", "ses:SendRawEmail"}),
        "ses:configuration-set": frozenset({"ses:SendEmail", "ses:SendRawEmail"}),  # ConfigurationSetName
        "queue:EmailQueue": QUEUE_SOURCE,
    },
    # shared.services.exports: reads scores joined with customers, writes export records and files.
    "export": {
        "table:Scores": TABLE_READ,
        "table:Customers": TABLE_READ,
        "table:Runs": TABLE_WRITE,
        "bucket/exports/*": OBJECT_WRITE,
        "bucket/runs/*": OBJECT_READ,
        "bucket": LIST_BUCKET,
        "queue:ExportDlq": frozenset({"sqs:SendMessage"}),
    },
    # shared.services.feedback: profiles by address (alias batch get), suppression, consent revocation and
    # interactions on profiles; fed by SesEventsQueue.
    "ses_events": {
        "table:Customers": TABLE_WRITE,
        "table:Interactions": TABLE_WRITE,
        "table:Identities": TABLE_READ,
        "bus": PUT_EVENTS,  # ConsentChanged
        "queue:SesEventsQueue": QUEUE_SOURCE,
    },
}


def _labels(synth: Synth, name: str) -> dict[str, str]:
    """Logical id (with attribute) -> the resource's name in :data:`CODE_CALLS`."""
    stack = synth.stack
    labels: dict[str, str] = {}
    for logical, table in stack.data.tables.items():
        labels[f"<{synth.logical_id(table)}.Arn>"] = f"table:{logical}"
        labels[f"<{synth.logical_id(table)}.StreamArn>"] = f"stream:{logical}"
    labels[f"<{synth.logical_id(stack.exports.bucket)}.Arn>"] = "bucket"
    labels[f"<{synth.logical_id(stack.routing.bus)}.Arn>"] = "bus"
    labels[f"<{synth.logical_id(stack.token_secret)}>"] = "secret"
    labels[f"<{synth.logical_id(stack.scoring.state_machine)}>"] = "state_machine"
    for function_name, fn in stack.factory.functions.items():
        labels[f"<{synth.logical_id(fn.function)}.Arn>"] = f"function:{function_name}"
        if function_name == name:
            labels[f"<{synth.logical_id(fn.log_group)}.Arn>"] = "logs:own"
    queues = {
        **stack.routing.queues,
        **stack.dead_letter_queues,
        "SesEventsQueue": stack.channels.ses_events_queue,
    }
    for queue_name, queue in queues.items():
        labels[f"<{synth.logical_id(queue)}.Arn>"] = f"queue:{queue_name}"
    return labels


def _resource_name(text: str, labels: dict[str, str]) -> str:
    if ":ses:" in text and ":identity/" in text:
        return "ses:identity"
    if ":ses:" in text and ":configuration-set/" in text:
        return "ses:configuration-set"
    for token, label in labels.items():
        if text.startswith(token):
            return label + text[len(token) :]
    return text


def _granted(synth: Synth, name: str) -> dict[str, set[str]]:
    function = synth.resources[synth.logical_id(synth.stack.factory.functions[name].function)]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    labels = _labels(synth, name)
    granted: dict[str, set[str]] = {}
    for statement in policy_statements_for_role(synth.resources, role):
        assert statement["Effect"] == "Allow"
        for resource in as_list(statement["Resource"]):
            label = _resource_name(flatten_join(resource), labels)
            granted.setdefault(label, set()).update(as_list(statement["Action"]))
    return granted


@pytest.mark.parametrize("name", sorted(CODE_CALLS))
def test_each_function_is_granted_exactly_what_its_code_calls(dev: Synth, name: str) -> None:
    allowed: dict[str, set[str]] = {}
    for table in (EVERY_FUNCTION, CODE_CALLS[name]):
        for resource, actions in table.items():
            allowed.setdefault(resource, set()).update(actions)
    granted = _granted(dev, name)
    extra = {r: sorted(a - allowed.get(r, set())) for r, a in granted.items() if a - allowed.get(r, set())}
    missing = {r: sorted(a - granted.get(r, set())) for r, a in allowed.items() if a - granted.get(r, set())}
    assert extra == {}, f"{name} is granted more than its code calls"
    assert missing == {}, f"{name} lacks a grant its code needs"


def test_the_table_covers_every_function(dev: Synth) -> None:
    assert sorted(dev.stack.factory.functions) == sorted(CODE_CALLS)


def test_no_function_writes_what_it_only_reads(dev: Synth) -> None:
    """The two grants the table caught: export only reads customers and scores, admin_api writes no file."""
    export = _granted(dev, "export")
    assert not export["table:Customers"] & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    assert not export["table:Scores"] & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    admin: dict[str, Any] = _granted(dev, "admin_api")
    assert admin["bucket/exports/*"] == {"s3:GetObject"}
