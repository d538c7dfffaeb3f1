"""The local moto server's direct JSON path (``infra/local/moto_direct.py``), its HTTP header parser
(``infra/local/moto_http.py``) and its speed-ups (``infra/local/moto_speedups.py``) change no answer.

The same script of DynamoDB, DynamoDB Streams, SQS and EventBridge calls (successes and errors) runs,
through real boto3 clients, against three servers: the class the local stack runs, in this process, with
the direct path; the same class serving every request through moto's Flask apps (``direct=False``), in
another account of the same moto (``x-moto-account-id``) so that neither sees the other's data; and
plain moto (its own ``ThreadedMotoServer``, none of our changes) in a process of its own. The raw HTTP
answers botocore received (status, headers, body) must be the same, once the values that differ between
any two runs are masked: request ids, generated ids, timestamps, the account and port.
"""

from __future__ import annotations

import binascii
import io
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.local import moto_http
from infra.local.moto_direct import DirectJson
from infra.local.moto_server import KeepAliveMotoServer
from infra.local.stack import LocalStack
from shared.settings import get_settings

Answer = tuple[str, int, dict[str, str], Any]
# Values generated per call (ids, timestamps, request ids, receipt handles): masked before comparing.
_VOLATILE_KEYS = {
    "MessageId",
    "ReceiptHandle",
    "EventId",
    "eventID",
    "ApproximateCreationDateTime",
    "CreationDateTime",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "CreationRequestDateTime",
    "LastUpdateToPayPerRequestDateTime",
    "NextShardIterator",
    "ShardIterator",
    "LatestStreamLabel",
    "LatestStreamArn",
    "StreamArn",
    "StreamLabel",
    "TableId",
    "SequenceNumber",
    "SizeBytes",  # the length of the record with its timestamp in it
    "StartingSequenceNumber",
    "ShardId",
}
# DynamoDB sets are unordered: moto lists a projected set in its Python set's order (string hashes
# differ between processes), so sets are compared sorted.
_SETS = {"SS", "NS", "BS"}
# (moto's own server closes every connection; ours keeps it alive: that header is not an answer.)
_MASKED_HEADERS = {"date", "x-amzn-requestid", "x-amz-crc32", "content-length", "connection"}


@pytest.fixture(scope="module")
def servers(stack: LocalStack) -> Iterator[dict[str, Any]]:
    """Two moto servers: with the direct path, and all through Flask (``stack``: the local credentials)."""
    direct, flask = KeepAliveMotoServer("127.0.0.1", 0), KeepAliveMotoServer("127.0.0.1", 0, direct=False)
    for server in (direct, flask):
        server.start()
    yield {"direct": direct, "flask": flask}
    for server in (direct, flask):
        server.stop()


_PLAIN_MOTO = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@pytest.fixture(scope="module")
def plain_moto(stack: LocalStack) -> Iterator[str]:
    """moto's own server, unpatched, in a child process: the reference answers."""
    child = subprocess.Popen(
        [sys.executable, "-c", _PLAIN_MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert child.stdout is not None
    assert child.stdin is not None
    try:
        yield f"http://127.0.0.1:{int(child.stdout.readline())}"
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()


def _url(server: KeepAliveMotoServer) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def _clients(url: str, account: str, answers: list[Answer]) -> dict[str, Any]:
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    clients = {}
    for name in ("dynamodb", "dynamodbstreams", "sqs", "events"):
        client = boto3.client(name, region_name=get_settings().region, endpoint_url=url, config=config)

        def account_header(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account

        def record(http_response: Any, model: Any, **_: Any) -> None:
            headers = {k.lower(): v for k, v in http_response.headers.items()}
            answers.append((model.name, http_response.status_code, headers, http_response.content))

        client.meta.events.register("before-sign.*.*", account_header)
        client.meta.events.register("after-call.*.*", record)
        clients[name] = client
    return clients


def _attempt(call: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except ClientError as error:
        return error.response


def _script(c: dict[str, Any]) -> None:
    """Calls of every fast-pathed service, successes and errors, deterministic inputs."""
    ddb, streams, sqs, events = c["dynamodb"], c["dynamodbstreams"], c["sqs"], c["events"]
    ddb.create_table(
        TableName="direct",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
            {"AttributeName": "rank", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-kind",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by-kind-rank",
                "KeySchema": [
                    {"AttributeName": "kind", "KeyType": "HASH"},
                    {"AttributeName": "rank", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    item = {"pk": {"S": "p"}, "sk": {"S": "1"}, "n": {"N": "1"}, "b": {"B": b"\x00\xff"}, "l": {"L": []}}
    ddb.put_item(TableName="direct", Item=item, ReturnConsumedCapacity="TOTAL")
    new_only = {"ConditionExpression": "attribute_not_exists(pk)"}
    _attempt(ddb.put_item, TableName="direct", Item=item, **new_only)
    _attempt(
        ddb.put_item, TableName="direct", Item=item, ReturnValuesOnConditionCheckFailure="ALL_OLD", **new_only
    )
    _attempt(ddb.put_item, TableName="missing", Item=item)
    _attempt(ddb.put_item, TableName="direct", Item={"pk": {"S": "p"}})
    ddb.get_item(TableName="direct", Key={"pk": {"S": "p"}, "sk": {"S": "1"}})
    ddb.get_item(TableName="direct", Key={"pk": {"S": "p"}, "sk": {"S": "none"}})
    _attempt(ddb.get_item, TableName="missing", Key={"pk": {"S": "p"}, "sk": {"S": "1"}})
    update = {
        "TableName": "direct",
        "Key": {"pk": {"S": "p"}, "sk": {"S": "1"}},
        "UpdateExpression": "SET #n = #n + :one, s = if_not_exists(s, :s) ADD c :one",
        "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":one": {"N": "1"}, ":s": {"S": "x"}},
    }
    for _ in range(2):  # the same expression twice: the cached parse must give the same answer
        ddb.update_item(**update, ReturnValues="ALL_NEW")
    _attempt(ddb.update_item, **{**update, "Key": {"pk": {"S": "p"}, "sk": {"S": "2"}}})  # no such n
    ddb.update_item(
        **{
            **update,
            "Key": {"pk": {"S": "p"}, "sk": {"S": "2"}},
            "UpdateExpression": "SET #n = :s ADD c :one",
        },
        ReturnValues="UPDATED_OLD",
    )
    _attempt(ddb.update_item, **{**update, "UpdateExpression": "SET #n = = :one"})
    _attempt(ddb.update_item, **{**update, "ExpressionAttributeValues": {":one": {"N": "1"}}})
    # Shape checks (one clause of each kind, no overlapping paths) run again for other names, and each
    # time for an expression that failed them.
    shaped = {**update, "UpdateExpression": "SET #n = :one, s = :s ADD c :one"}
    for names in ({"#n": "n"}, {"#n": "c"}, {"#n": "n"}):
        _attempt(ddb.update_item, **{**shaped, "ExpressionAttributeNames": names})
    for _ in range(2):
        _attempt(ddb.update_item, **{**update, "UpdateExpression": "SET #n = :one SET s = :s ADD c :one"})
        _attempt(
            ddb.update_item, **{**update, "UpdateExpression": "SET #n = :one, s = :s, s = :one ADD c :one"}
        )
    # The same condition with other values, then the first values again (cached parses).
    for version in ("1", "2", "1"):
        _attempt(
            ddb.put_item,
            TableName="direct",
            Item={"pk": {"S": "v"}, "sk": {"S": "1"}, "version": {"N": version}},
            ConditionExpression="attribute_not_exists(pk) OR version < :v",
            ExpressionAttributeValues={":v": {"N": version}},
        )
    guarded = {**update, "ConditionExpression": "n < :one"}
    _attempt(ddb.update_item, **guarded)
    _attempt(ddb.update_item, **guarded, ReturnValuesOnConditionCheckFailure="ALL_OLD")
    # Paths, functions and clauses of every kind, each expression twice (copies of one cached tree), and
    # their errors: a type mismatch, a missing document path, a key attribute, an item grown too large.
    nested = {"TableName": "direct", "Key": {"pk": {"S": "p"}, "sk": {"S": "3"}}, "ReturnValues": "ALL_NEW"}
    for expression, values in (
        (
            "SET m = :m, l = :l, s3 = :ss",
            {":m": {"M": {"a": {"L": [{"N": "1"}]}}}, ":l": {"L": []}, ":ss": {"SS": ["x", "y"]}},
        ),
        (
            "SET m.a[0] = m.a[0] + :one, l = list_append(l, :l) REMOVE gone DELETE s3 :ss",
            {":one": {"N": "1"}, ":l": {"L": [{"S": "z"}]}, ":ss": {"SS": ["x"]}},
        ),
        ("SET m.b = :one ADD m.c :one REMOVE l[0]", {":one": {"N": "1"}}),
        ("SET l = :one + l", {":one": {"N": "1"}}),
        ("SET m.none.deeper = :one", {":one": {"N": "1"}}),
        ("SET pk = :one", {":one": {"N": "1"}}),
        ("SET big = :big", {":big": {"S": "x" * 410_000}}),
    ):
        for _ in range(2):
            _attempt(ddb.update_item, **nested, UpdateExpression=expression, ExpressionAttributeValues=values)
    ddb.get_item(TableName="direct", Key=nested["Key"])
    # Conditions parsed once per expression, names and value names, built with each request's values:
    # the same expressions with values that pass and fail, and of another type; filters likewise. (A
    # NULL bound of BETWEEN, or a value name missing, makes moto raise a plain exception: an HTTP 500
    # on every path, not an answer to compare.)
    counter = {"TableName": "direct", "Key": {"pk": {"S": "c"}, "sk": {"S": "1"}}}
    ddb.put_item(TableName="direct", Item={**counter["Key"], "v": {"N": "1"}, "s": {"S": "abc"}})
    for condition, values in (
        ("v = :v", ({":v": {"N": "1"}}, {":v": {"N": "7"}}, {":v": {"S": "1"}})),
        (
            "v BETWEEN :lo AND :hi",
            ({":lo": {"N": "0"}, ":hi": {"N": "9"}}, {":lo": {"N": "2"}, ":hi": {"N": "9"}}),
        ),
        (
            "v IN (:a, :b) AND begins_with(s, :p)",
            (
                {":a": {"N": "1"}, ":b": {"N": "2"}, ":p": {"S": "ab"}},
                {":a": {"N": "3"}, ":b": {"N": "2"}, ":p": {"S": "ab"}},
            ),
        ),
        (
            "size(s) > :n OR attribute_type(v, :t) OR contains(s, :p)",
            (
                {":n": {"N": "5"}, ":t": {"S": "N"}, ":p": {"S": "z"}},
                {":n": {"N": "5"}, ":t": {"S": "S"}, ":p": {"S": "z"}},
            ),
        ),
    ):
        for value_set in values:
            for returned in ({}, {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}):
                _attempt(
                    ddb.update_item,
                    **counter,
                    UpdateExpression="SET touched = :t0",
                    ConditionExpression=condition,
                    ExpressionAttributeValues={**value_set, ":t0": {"S": condition[:5]}},
                    ReturnValues="ALL_NEW",
                    **returned,
                )
            _attempt(
                ddb.scan, TableName="direct", FilterExpression=condition, ExpressionAttributeValues=value_set
            )
    # Projections: top-level names (the fast path: missing, repeated, sets and numbers as stored), and
    # nested paths and list items (moto's own); item sizes checked as an item is built.
    rich = {
        "pk": {"S": "p"},
        "sk": {"S": "rich"},
        "n": {"N": "12.50"},
        "ss": {"SS": ["b", "a", "c"]},
        "ns": {"NS": ["3", "1.0", "2"]},
        "bs": {"BS": [b"y", b"x"]},
        "m": {"M": {"a": {"L": [{"N": "1"}, {"S": "two"}]}, "b": {"NULL": True}, "c": {"BOOL": False}}},
        "b": {"B": b"\x01"},
    }
    ddb.put_item(TableName="direct", Item=rich)
    for projection, names in (
        ("pk, n, ss, ns, bs, m, b, missing", None),
        ("#n, #n, sk", {"#n": "n"}),
        ("m.a[1], m.c, ss", None),
        ("m, m.a", None),
        ("m.a[0]", None),
    ):
        key = {"pk": {"S": "p"}, "sk": {"S": "rich"}}
        extra = {"ExpressionAttributeNames": names} if names else {}
        _attempt(ddb.get_item, TableName="direct", Key=key, ProjectionExpression=projection, **extra)
        _attempt(
            ddb.batch_get_item,
            RequestItems={"direct": {"Keys": [key], "ProjectionExpression": projection, **extra}},
        )
        _attempt(
            ddb.query,
            TableName="direct",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            ProjectionExpression=projection,
            **extra,
        )
    wide = {f"a{i:03d}": {"S": "x" * 1000} for i in range(420)}
    _attempt(ddb.put_item, TableName="direct", Item={"pk": {"S": "w"}, "sk": {"S": "1"}, **wide})
    _attempt(
        ddb.put_item,
        TableName="direct",
        Item={"pk": {"S": "w"}, "sk": {"S": "2"}, **dict(list(wide.items())[:390])},
    )
    _attempt(
        ddb.get_item,
        TableName="direct",
        Key={"pk": {"S": "w"}, "sk": {"S": "2"}},
        ProjectionExpression="a001",
    )
    ddb.query(
        TableName="direct",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ScanIndexForward=False,
    )
    _attempt(ddb.query, TableName="direct", KeyConditionExpression="nope = :p", ExpressionAttributeValues={})
    for n in range(12):  # index queries: items of several partitions, ties on the index keys
        ddb.put_item(
            TableName="direct",
            Item={
                "pk": {"S": f"k{n % 4}"},
                "sk": {"S": f"{n % 3}"},
                "kind": {"S": "even" if n % 2 else "odd"},
                "rank": {"N": str(n % 5)},
            },
        )
    for index, forward in (
        ("by-kind", True),
        ("by-kind", False),
        ("by-kind-rank", True),
        ("by-kind-rank", False),
    ):
        ddb.query(
            TableName="direct",
            IndexName=index,
            KeyConditionExpression="kind = :k",
            ExpressionAttributeValues={":k": {"S": "even"}},
            ScanIndexForward=forward,
        )
    page = ddb.query(
        TableName="direct",
        IndexName="by-kind-rank",
        KeyConditionExpression="kind = :k AND #r > :r",
        ExpressionAttributeNames={"#r": "rank"},
        ExpressionAttributeValues={":k": {"S": "odd"}, ":r": {"N": "0"}},
        Limit=2,
    )
    ddb.query(
        TableName="direct",
        IndexName="by-kind-rank",
        KeyConditionExpression="kind = :k AND #r > :r",
        ExpressionAttributeNames={"#r": "rank"},
        ExpressionAttributeValues={":k": {"S": "odd"}, ":r": {"N": "0"}},
        ExclusiveStartKey=page["LastEvaluatedKey"],
    )
    ddb.query(
        TableName="direct",
        IndexName="by-kind",
        KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "none"}},
    )
    ddb.scan(TableName="direct", FilterExpression="c > :z", ExpressionAttributeValues={":z": {"N": "0"}})
    ddb.batch_get_item(
        RequestItems={"direct": {"Keys": [{"pk": {"S": "p"}, "sk": {"S": s}} for s in ("1", "2", "3")]}}
    )
    transaction = [
        {"Put": {"TableName": "direct", "Item": {"pk": {"S": "t"}, "sk": {"S": "1"}}}},
        {
            "Update": {
                "TableName": "direct",
                "Key": {"pk": {"S": "p"}, "sk": {"S": "1"}},
                "UpdateExpression": "SET n = :z",
                "ConditionExpression": "n = :z",
                "ExpressionAttributeValues": {":z": {"N": "0"}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
    ]
    _attempt(ddb.transact_write_items, TransactItems=transaction)
    ddb.transact_write_items(TransactItems=transaction[:1])
    ddb.delete_item(TableName="direct", Key={"pk": {"S": "t"}, "sk": {"S": "1"}}, ReturnValues="ALL_OLD")
    ddb.describe_table(TableName="direct")
    arn = ddb.describe_table(TableName="direct")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    streams.get_records(ShardIterator=iterator["ShardIterator"])
    _attempt(streams.describe_stream, StreamArn=arn + "-missing")

    queue = sqs.create_queue(QueueName="direct")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]["QueueArn"]
    sqs.send_message(
        QueueUrl=queue, MessageBody="one", MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}}
    )
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(3)])
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    for message in received.get("Messages", []):
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    sqs.receive_message(QueueUrl=queue)
    _attempt(sqs.delete_message, QueueUrl=queue, ReceiptHandle="not-a-handle")
    _attempt(sqs.get_queue_url, QueueName="missing")
    _attempt(sqs.send_message, QueueUrl=queue, MessageBody="")

    events.create_event_bus(Name="direct")
    events.put_rule(Name="all", EventBusName="direct", EventPattern=json.dumps({"source": ["s"]}))
    events.put_targets(Rule="all", EventBusName="direct", Targets=[{"Id": "q", "Arn": queue_arn}])
    entry = {"Source": "s", "DetailType": "t", "Detail": json.dumps({"a": 1}), "EventBusName": "direct"}
    events.put_events(Entries=[entry, {**entry, "Detail": "not json"}])
    _attempt(events.put_events, Entries=[entry, {**entry, "EventBusName": "missing"}])
    sqs.receive_message(QueueUrl=queue)
    _attempt(events.describe_rule, Name="missing", EventBusName="direct")
    _attempt(
        events.put_targets, Rule="missing", EventBusName="direct", Targets=[{"Id": "q", "Arn": queue_arn}]
    )


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<volatile>" if k in _VOLATILE_KEYS else sorted(v) if k in _SETS else _masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _normalised(answers: list[Answer], account: str, url: str) -> list[Answer]:
    port = url.rsplit(":", 1)[1]
    out = []
    for operation, status, headers, content in answers:
        text = content.decode().replace(account, "<account>").replace(port, "<port>")
        text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
        body = _masked(json.loads(text)) if text else text
        kept = {k: v for k, v in headers.items() if k not in _MASKED_HEADERS}
        if "x-amz-crc32" in headers:  # botocore checks DynamoDB's CRC32 of the body
            assert int(headers["x-amz-crc32"]) == binascii.crc32(content) & 0xFFFFFFFF
            kept["x-amz-crc32"] = "<present>"
        if "content-length" in headers:
            assert int(headers["content-length"]) == len(content)
        out.append((operation, status, kept, body))
    return out


def test_the_direct_path_answers_as_moto_flask_apps(servers: dict[str, Any], plain_moto: str) -> None:
    direct_app = servers["direct"]._server.app
    assert isinstance(direct_app, DirectJson)
    through_flask: list[str] = []
    fallback = direct_app.fallback

    def spy(environ: dict[str, Any], start_response: Any) -> Any:
        through_flask.append(str(environ.get("HTTP_X_AMZ_TARGET")))
        return fallback(environ, start_response)

    direct_app.fallback = spy
    runs: dict[str, list[Answer]] = {}
    try:
        for name, account in (
            ("direct", "111111111111"),
            ("flask", "222222222222"),
            ("plain", "333333333333"),
        ):
            answers: list[Answer] = []
            url = plain_moto if name == "plain" else _url(servers[name])
            _script(_clients(url, account, answers))
            runs[name] = _normalised(answers, account, url)
    finally:
        direct_app.fallback = fallback
    assert through_flask == []  # every call of the script took the direct path
    assert len(runs["direct"]) == len(runs["flask"]) > 50
    statuses = {status for _, status, _, _ in runs["flask"]}
    assert {200, 400} <= statuses  # errors compared too
    for direct, flask, plain in zip(runs["direct"], runs["flask"], runs["plain"], strict=True):
        assert direct == flask
        assert direct == plain


def test_requests_the_direct_path_leaves_to_moto(servers: dict[str, Any]) -> None:
    """Query-protocol, unsigned, CORS and other paths go through moto's dispatcher as before."""
    app = servers["direct"]._server.app
    signed = "AWS4-HMAC-SHA256 Credential=AKIA/20261130/eu-west-1/{}/aws4_request, SignedHeaders=host"
    base = {"PATH_INFO": "/", "REQUEST_METHOD": "POST", "HTTP_AUTHORIZATION": signed.format("dynamodb")}
    target = {"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.GetItem"}
    assert app.handler_for({**base, **target}) is not None
    assert app.handler_for({**base, "HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"}) is None  # signed dynamodb
    assert app.handler_for(base) is None  # no target: query protocol
    assert app.handler_for({**base, **target, "HTTP_ORIGIN": "http://x"}) is None
    assert app.handler_for({**base, **target, "PATH_INFO": "/other"}) is None
    assert app.handler_for({**base, **target, "REQUEST_METHOD": "GET"}) is None
    assert app.handler_for({**target, "PATH_INFO": "/", "REQUEST_METHOD": "POST"}) is None  # unsigned
    assert app.handler_for({**base, "HTTP_X_AMZ_TARGET": "DynamoDB_20111205.GetItem"}) is None


@pytest.mark.parametrize(
    "block",
    [
        b"Host: a\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\nContent-Length: 2\r\n\r\n",
        b"Host:a\r\nX-Empty:\r\nX-Spaces: \t v  \r\nx-dup: 1\r\nX-Dup: 2\r\n\r\n",
        b"Host: a\nUnix: lines\n\n",
        b"Host: \xe9t\xe9\r\n\r\n",
        b"Folded: a\r\n  continued\r\nNext: b\r\n\r\n",
        b"Host: a\r\nnot a header\r\nAfter: x\r\n\r\n",
        b": empty name\r\nHost: a\r\n\r\n",
        b"Host: a\rB: c\r\n\r\n",
        b"From me\r\nHost: a\r\n\r\n",
        b"Host: a\r\nCut: short",
        b"\r\n",
    ],
)
def test_the_header_parser_builds_the_message_of_the_email_parser(block: bytes) -> None:
    import http.client

    ours = moto_http.parse_headers(io.BytesIO(block + b"body"))
    theirs = http.client.parse_headers(io.BytesIO(block + b"body"))
    assert type(ours) is type(theirs)
    assert ours.items() == theirs.items()
    assert [str(d) for d in ours.defects] == [str(d) for d in theirs.defects]
    assert ours.get_payload() == theirs.get_payload()
    assert ours.get_all("x-dup") == theirs.get_all("x-dup")


def test_the_keep_alive_server_serves_many_requests_on_one_connection(servers: dict[str, Any]) -> None:
    """The faster header parsing keeps the connection's framing: a hundred requests, one connection."""
    import http.client as client

    host, port = servers["direct"].get_host_and_port()
    connection = client.HTTPConnection(host, port)
    signed = "AWS4-HMAC-SHA256 Credential=AKIA/20261130/eu-west-1/dynamodb/aws4_request, SignedHeaders=host"
    try:
        for i in range(100):
            body = json.dumps({"TableName": f"none-{uuid.uuid4().hex[:6]}-{i}"})
            headers = {
                "X-Amz-Target": "DynamoDB_20120810.DescribeTable",
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": signed,
            }
            connection.request("POST", "/", body=body, headers=headers)
            response = connection.getresponse()
            answer = json.loads(response.read())
            assert response.status == 400
            assert answer["__type"].endswith("ResourceNotFoundException")
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("host", "script", "content_type"),
    [
        ("127.0.0.1:5000", "", "application/x-amz-json-1.0"),
        ("localhost", "/root/", "application/x-amz-json-1.1"),
        (None, "", "application/x-amz-json-1.0"),
    ],
)
def test_the_json_request_holds_the_values_of_motos_request(
    host: str | None, script: str, content_type: str
) -> None:
    """The direct path's request (form and files set directly, URL root cached) reads as moto's."""
    from moto.moto_server.werkzeug_app import BackendRequest

    from infra.local.moto_direct import _request_class

    body = json.dumps({"TableName": "t", "Key": {"pk": {"S": "a=b&c"}}}).encode()

    def environ() -> dict[str, Any]:
        values = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/",
            "SCRIPT_NAME": script,
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "5000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": content_type,
            "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.GetItem",
        }
        if host is not None:
            values["HTTP_HOST"] = host
        return values

    json_request = _request_class()
    for _ in range(2):  # the second time, the URL root comes from the cache
        ours, theirs = json_request(environ()), BackendRequest(environ())
        assert ours.data == theirs.data == body
        assert ours.form == theirs.form
        assert ours.files == theirs.files
        assert ours.values == theirs.values
        assert ours.raw_url == theirs.raw_url
        assert ours.url_root == theirs.url_root
        assert ours.raw_path == theirs.raw_path
        assert dict(ours.headers) == dict(theirs.headers)


def test_answers_without_a_body_keep_the_connection_framed(servers: dict[str, Any]) -> None:
    """Header block and body go out in one write: HEAD answers and 204s carry no body, and the next
    request on the same connection is answered in turn (S3 through botocore's pooled connection)."""
    s3 = boto3.client("s3", region_name=get_settings().region, endpoint_url=_url(servers["direct"]))
    bucket = f"framing-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": get_settings().region})
    for round_ in range(3):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x" * (round_ * 1000 + 1))
        head = s3.head_object(Bucket=bucket, Key="k")
        assert head["ContentLength"] == round_ * 1000 + 1
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x" * (round_ * 1000 + 1)
        deleted = s3.delete_object(Bucket=bucket, Key="k")
        assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
        with pytest.raises(ClientError) as missing:
            s3.head_object(Bucket=bucket, Key="k")
        assert missing.value.response["Error"]["Code"] == "404"
    s3.delete_bucket(Bucket=bucket)
