"""The local moto server's speed-ups (``infra/local/moto_speedups.py``) change no answer: DynamoDB's
data-plane responses are the JSON moto's own serializer writes, and a cancelled transaction leaves no
item and no stream record behind, as before (and as DynamoDB).

The speed-ups patch moto's classes, so they are checked on a moto server in this process (the local
stack's moto runs in a process of its own), the same server class the stack runs."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

from infra.local import moto_speedups
from infra.local.moto_server import KeepAliveMotoServer
from infra.local.stack import LocalStack
from shared.settings import get_settings


@pytest.fixture(scope="module")
def moto_url(stack: LocalStack) -> Iterator[str]:
    """A moto server with the speed-ups in this process (``stack``: for the local credentials)."""
    server = KeepAliveMotoServer("127.0.0.1", 0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _client(service: str, moto_url: str) -> Any:
    return boto3.client(service, region_name=get_settings().region, endpoint_url=moto_url)


@pytest.fixture
def table(moto_url: str) -> Iterator[tuple[Any, str]]:
    client = _client("dynamodb", moto_url)
    name = f"speedups-{uuid.uuid4().hex[:8]}"
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-kind",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    yield client, name
    client.delete_table(TableName=name)


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Any]]:
    """Every DynamoDB (and DynamoDB Streams) response served while the test runs, as (operation, fast
    JSON, moto's JSON)."""
    seen: list[tuple[str, Any, Any]] = []
    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        fast = handler.serialized
        original = fast.__wrapped__  # type: ignore[attr-defined]

        def both(self: Any, action_result: Any, fast: Any = fast, original: Any = original) -> Any:
            answer = fast(self, action_result)
            reference = original(self, action_result)
            seen.append(
                (
                    self._get_action(),
                    (answer[0], json.loads(answer[2])),
                    (reference[0], json.loads(reference[2])),
                )
            )
            return answer

        monkeypatch.setattr(handler, "serialized", both)
    return seen


def _item(pk: str, sk: str) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"S": sk},
        "kind": {"S": "k"},
        "count": {"N": "12.50"},
        "blob": {"B": b"\x00\xffbytes"},
        "tags": {"SS": ["a", "b"]},
        "numbers": {"NS": ["1", "2.5"]},
        "blobs": {"BS": [b"x", b"y"]},
        "nested": {"M": {"list": {"L": [{"S": "é"}, {"N": "3"}, {"BOOL": True}, {"NULL": True}]}}},
    }


def test_data_plane_responses_are_the_json_motos_serializer_writes(
    table: tuple[Any, str], compared: list[tuple[str, Any, Any]]
) -> None:
    client, name = table
    total = {"ReturnConsumedCapacity": "INDEXES"}
    for i in range(5):
        client.put_item(TableName=name, Item=_item("p", f"s{i}"), **total)
    client.put_item(TableName=name, Item=_item("p", "s0"), ReturnValues="ALL_OLD")
    client.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": "s1"}}, ConsistentRead=True, **total)
    client.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": "missing"}})
    client.update_item(
        TableName=name,
        Key={"pk": {"S": "p"}, "sk": {"S": "s2"}},
        UpdateExpression="ADD #c :one SET extra = :e",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":e": {"S": "x"}},
        ReturnValues="ALL_NEW",
        **total,
    )
    client.update_item(
        TableName=name,
        Key={"pk": {"S": "p"}, "sk": {"S": "s3"}},
        UpdateExpression="REMOVE tags",
        ReturnValues="UPDATED_OLD",
    )
    page = client.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        Limit=2,
        **total,
    )
    client.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ExclusiveStartKey=page["LastEvaluatedKey"],
        ScanIndexForward=False,
    )
    client.query(
        TableName=name,
        IndexName="by-kind",
        KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "k"}},
        Select="COUNT",
    )
    client.scan(
        TableName=name,
        FilterExpression="attribute_exists(extra)",
        ProjectionExpression="pk, sk, nested, #b",
        ExpressionAttributeNames={"#b": "blob"},
    )
    client.scan(TableName=name, Segment=0, TotalSegments=2, Limit=3)
    client.batch_write_item(
        RequestItems={name: [{"PutRequest": {"Item": _item("q", f"s{i}")}} for i in range(3)]},
        ReturnConsumedCapacity="TOTAL",
    )
    client.batch_get_item(
        RequestItems={name: {"Keys": [{"pk": {"S": "q"}, "sk": {"S": f"s{i}"}} for i in range(3)]}}
    )
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": _item("r", "s0")}},
            {"Delete": {"TableName": name, "Key": {"pk": {"S": "q"}, "sk": {"S": "s0"}}}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    client.transact_get_items(
        TransactItems=[{"Get": {"TableName": name, "Key": {"pk": {"S": "r"}, "sk": {"S": "s0"}}}}]
    )
    client.delete_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": "s4"}}, ReturnValues="ALL_OLD")
    assert _stream_length(client, name) > 10  # GetRecords: inserts, modifies and removes, with images

    fast_operations = {
        operation
        for operation, _, _ in compared
        if operation in moto_speedups.FAST_OPERATIONS | moto_speedups.FAST_STREAM_OPERATIONS
    }
    assert fast_operations == moto_speedups.FAST_OPERATIONS | moto_speedups.FAST_STREAM_OPERATIONS
    mismatches = [(operation, a, b) for operation, a, b in compared if a != b]
    assert mismatches == []


def _stream_length(client: Any, name: str) -> int:
    streams = _client("dynamodbstreams", client.meta.endpoint_url)
    arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    return len(records)


def _everything(client: Any, name: str) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=name)["Items"], key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


@pytest.mark.parametrize("failure", ["condition", "invalid update"])
def test_a_cancelled_transaction_leaves_no_item_and_no_stream_record(
    table: tuple[Any, str], failure: str
) -> None:
    client, name = table
    client.put_item(TableName=name, Item=_item("p", "kept"))
    client.put_item(TableName=name, Item=_item("p", "changed"))
    before, records_before = _everything(client, name), _stream_length(client, name)
    last: dict[str, Any] = (
        {
            "ConditionCheck": {
                "TableName": name,
                "Key": {"pk": {"S": "p"}, "sk": {"S": "kept"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        if failure == "condition"
        else {
            "Update": {
                "TableName": name,
                "Key": {"pk": {"S": "p"}, "sk": {"S": "kept"}},
                "UpdateExpression": "SET #n = #n + :one",  # a string set plus a number: refused mid-way
                "ExpressionAttributeNames": {"#n": "tags"},
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        }
    )
    with pytest.raises(ClientError):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": _item("p", "new")}},
                {"Delete": {"TableName": name, "Key": {"pk": {"S": "p"}, "sk": {"S": "changed"}}}},
                last,
            ]
        )
    assert _everything(client, name) == before
    assert _stream_length(client, name) == records_before

    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": _item("p", "new")}},
            {"Delete": {"TableName": name, "Key": {"pk": {"S": "p"}, "sk": {"S": "changed"}}}},
        ]
    )
    assert [item["sk"]["S"] for item in _everything(client, name)] == ["kept", "new"]
    assert _stream_length(client, name) == records_before + 2


def test_queue_attributes_read_one_by_one_are_motos_attributes(moto_url: str) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID  # type: ignore[attr-defined]
    from moto.sqs.models import sqs_backends

    sqs = _client("sqs", moto_url)
    suffix = uuid.uuid4().hex[:8]
    dead = sqs.create_queue(QueueName=f"dead-{suffix}")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    standard = sqs.create_queue(
        QueueName=f"standard-{suffix}",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dead_arn, "maxReceiveCount": 5})},
    )["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName=f"ordered-{suffix}.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "KmsMasterKeyId": "alias/aws/sqs",
        },
    )["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=standard, MessageBody=f"m{i}", DelaySeconds=i)
        sqs.send_message(QueueUrl=fifo, MessageBody="same body", MessageGroupId="g")  # deduplicated
    sqs.receive_message(QueueUrl=standard, MaxNumberOfMessages=1)

    backend = sqs_backends[DEFAULT_ACCOUNT_ID][get_settings().region]
    for url in (standard, fifo, dead):
        queue = backend.get_queue(url.rsplit("/", 1)[1])
        assert dict(moto_speedups.QueueAttributes(queue)) == moto_speedups.QueueAttributes.moto_property.fget(
            queue
        )
    answered = sqs.get_queue_attributes(QueueUrl=fifo, AttributeNames=["All"])["Attributes"]
    assert answered["ApproximateNumberOfMessages"] == "1"  # content-based deduplication still applies
    assert answered["ContentBasedDeduplication"] == "true"
    counts = sqs.get_queue_attributes(
        QueueUrl=standard,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert (
        int(counts["ApproximateNumberOfMessages"]) + int(counts["ApproximateNumberOfMessagesNotVisible"]) >= 1
    )
    for url in (standard, fifo, dead):
        sqs.delete_queue(QueueUrl=url)


def test_query_and_scan_results_by_reference_leave_the_stored_items_whole(table: tuple[Any, str]) -> None:
    """Query and Scan hand moto's stored items to the response (no deep copy): projections, index
    projections and filters must still answer from, and leave untouched, the stored item."""
    client, name = table
    key = {"pk": {"S": "r"}, "sk": {"S": "1"}}
    client.put_item(TableName=name, Item=_item("r", "1"))
    stored = client.get_item(TableName=name, Key=key)["Item"]
    projected = {"ProjectionExpression": "pk, nested, #c", "ExpressionAttributeNames": {"#c": "count"}}
    queried = client.query(
        TableName=name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "r"}},
        **projected,
    )["Items"]
    assert queried == [{"pk": stored["pk"], "nested": stored["nested"], "count": stored["count"]}]
    by_kind = client.query(
        TableName=name,
        IndexName="by-kind",
        KeyConditionExpression="kind = :k",
        FilterExpression="pk = :p",
        ExpressionAttributeValues={":k": {"S": "k"}, ":p": {"S": "r"}},
    )["Items"]
    assert by_kind == [stored]
    scanned = client.scan(
        TableName=name, FilterExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "r"}}, **projected
    )["Items"]
    assert scanned == queried
    assert client.scan(TableName=name, IndexName="by-kind")["Items"] == [stored]
    assert client.get_item(TableName=name, Key=key)["Item"] == stored
    client.update_item(
        TableName=name,
        Key=key,
        UpdateExpression="SET #c = :n",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":n": {"N": "7"}},
    )
    after = client.query(
        TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "r"}}
    )["Items"]
    assert after == [{**stored, "count": {"N": "7"}}]
    assert queried == [{"pk": stored["pk"], "nested": stored["nested"], "count": stored["count"]}]


def test_a_receive_skips_the_messages_in_flight_and_the_delayed_ones(moto_url: str) -> None:
    from moto.sqs.models import Queue

    assert Queue.messages.fget is moto_speedups._visible_messages  # the scan under test
    sqs = _client("sqs", moto_url)
    url = sqs.create_queue(QueueName=f"visible-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="first")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.send_message(QueueUrl=url, MessageBody="third")
    taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
    assert [m["Body"] for m in taken] == ["first"]
    # "first" is in flight for a minute and "later" delayed for one: only "third" is visible.
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]
    assert [m["Body"] for m in rest] == ["third"]
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    # Back on the queue once its visibility ends: a receive made visible again is taken again.
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=taken[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == ["first"]


def _shape(root: Any) -> list[tuple[Any, ...]]:
    """A tree as (class, type, leaves, parent's position) per node, depth first; every node's id too."""
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    order: dict[int, int] = {}
    out: list[tuple[Any, ...]] = []

    def walk(node: Any) -> None:
        order[id(node)] = len(order)
        parent = None if node.parent is None else order.get(id(node.parent), "outside")
        leaves = [c if not isinstance(c, Node) else "<node>" for c in node.children or []]
        out.append((type(node), node.type, leaves, parent, sorted(node.__dict__)))
        for child in node.children or []:
            if isinstance(child, Node):
                walk(child)

    walk(root)
    return out


@pytest.mark.parametrize(
    "expression",
    [
        "SET #n = if_not_exists(#n, :zero) + :one, updated = :now ADD seen :one",
        "SET a.b[2].c = list_append(a.b, :l), d = :d - :e REMOVE x[1], y.z DELETE s :s",
        "REMOVE a, b, c",
        "ADD n :one SET m.#k = :v",
    ],
)
def test_the_update_tree_copy_is_the_deepcopy_of_the_tree(expression: str) -> None:
    """``Validator`` copies the parsed tree for each request: the fast copy builds deepcopy's tree (same
    classes, leaves and parents, no node shared with the parsed one), and a node deepcopy must copy
    differently (here: a parent outside the tree) goes to deepcopy itself."""
    import copy

    import moto.dynamodb.parsing.validators as validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    moto_speedups.install()
    tree = UpdateExpressionParser.make(expression)
    ours, theirs = validators.deepcopy(tree), copy.deepcopy(tree)  # type: ignore[attr-defined]
    assert _shape(ours) == _shape(theirs)
    originals = {id(node) for node in _nodes(tree)}
    assert not originals & {id(node) for node in _nodes(ours)}

    inner = tree.children[0]  # a subtree whose parent is outside it: deepcopy copies the parent too
    ours, theirs = validators.deepcopy(inner), copy.deepcopy(inner)  # type: ignore[attr-defined]
    assert ours.parent is not None
    assert _shape(ours.parent) == _shape(theirs.parent)


def _nodes(root: Any) -> list[Any]:
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    found = [root]
    for child in root.children or []:
        if isinstance(child, Node):
            found.extend(_nodes(child))
    return found


def test_the_item_clone_is_the_deepcopy_of_the_item() -> None:
    """UpdateItem's copy of the item before the update: equal to moto's deepcopy, and sharing no list,
    map or set with the stored item (the update changes those in place)."""
    import copy

    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    attrs = {k: v for k, v in _item("p", "s").items() if k not in ("pk", "sk")}
    item = Item(DynamoType({"S": "p"}), DynamoType({"S": "s"}), attrs)
    clone, reference = moto_speedups._clone_item(item), copy.deepcopy(item)
    assert clone == reference
    assert clone.to_json() == reference.to_json()
    assert type(clone.attrs) is type(reference.attrs)

    def containers(value: Any) -> list[int]:
        inner = value.value
        found = [id(value)]
        if isinstance(inner, list | dict):
            found.append(id(inner))
            for entry in inner.values() if isinstance(inner, dict) else inner:
                if isinstance(entry, DynamoType):
                    found.extend(containers(entry))
        return found

    stored = {i for value in item.attrs.values() for i in containers(value)}
    assert not stored & {i for value in clone.attrs.values() for i in containers(value)}
    clone.attrs["nested"].value["list"].value.append(DynamoType({"S": "new"}))
    assert item.to_json() == reference.to_json()


def test_an_answer_without_a_request_id_element_is_enriched_as_moto_does() -> None:
    from moto.core.responses import BaseResponse

    moto_speedups.install()
    enrich = BaseResponse._enrich_response
    theirs = enrich.__wrapped__  # type: ignore[attr-defined]
    for body in ('{"Item": {"a": {"S": "<Request>"}}}', "", "<A><RequestId>x</RequestId></A>"):
        ours_headers, ours_body = enrich({"status": 200}, body)
        their_headers, their_body = theirs({"status": 200}, body)
        assert ours_headers.keys() == their_headers.keys() == {"status", "x-amzn-requestid"}
        assert ours_headers["status"] == their_headers["status"] == "200"
        assert len(ours_headers["x-amzn-requestid"]) == len(their_headers["x-amzn-requestid"]) == 52
        request_id = ours_headers["x-amzn-requestid"]
        assert ours_body == body.replace(">x<", f">{request_id}<")
        assert their_body == body.replace(">x<", f">{their_headers['x-amzn-requestid']}<")


def _values() -> list[dict[str, Any]]:
    """Attribute values of every type, nested, in the wire format."""
    import random

    rng = random.Random(17)
    leaves: list[dict[str, Any]] = [
        {"S": "é" * 3},
        {"S": ""},
        {"N": "12.50"},
        {"N": "-1E+3"},
        {"B": b"\x00\xff"},
        {"B": "AP8="},
        {"BOOL": True},
        {"BOOL": False},
        {"NULL": True},
        {"SS": ["a", "bé"]},
        {"NS": ["1", "2.50"]},
        {"BS": [b"x", b"yz"]},
    ]
    values = list(leaves)
    for _ in range(60):
        children = rng.sample(values, k=rng.randint(0, 4))
        if rng.random() < 0.5:
            values.append({"L": children})
        else:
            values.append({"M": {f"k{i}é": child for i, child in enumerate(children)}})
    return values


def test_sizes_and_result_dicts_are_motos() -> None:
    """``DynamoType.size`` measured in place and ``dynamo_to_dict`` by exact types give moto's numbers
    and dicts, for values of every type, nested; items and results with dates and binary values too."""
    import datetime

    import moto.dynamodb.responses as responses
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    moto_speedups.install()
    theirs_size = DynamoType.size.__wrapped__  # type: ignore[attr-defined]
    ours_to_dict = responses.dynamo_to_dict  # type: ignore[attr-defined]
    theirs_to_dict = ours_to_dict.__wrapped__
    for wire in _values():
        value = DynamoType(wire)
        assert value.size() == theirs_size(value)
        assert ours_to_dict(value) == theirs_to_dict(value)
    item = Item(DynamoType({"S": "p"}), None, {f"a{i}": v for i, v in enumerate(_values())})
    assert item.size() == sum(len(k) + theirs_size(v) for k, v in item.attrs.items())
    result = {
        "Items": [item.to_json()["Attributes"], {"b": DynamoType({"B": "AP8="})}],
        "When": datetime.datetime(2026, 11, 30, tzinfo=datetime.UTC),
        "Count": 2,
        "Ratio": 0.5,
        "Item": item,
        "Attributes": item.attrs,  # a LimitedSizeDict
        "Nothing": None,
    }
    assert ours_to_dict(result) == theirs_to_dict(result)


@pytest.mark.parametrize(
    ("service", "operation", "body"),
    [
        (
            "dynamodb",
            "PutItem",
            {
                "TableName": "t",
                "Item": {
                    "s": {"S": "é"},
                    "n": {"N": "1.50"},
                    "b": {"B": "AP8="},
                    "bs": {"BS": ["eA==", "eQ=="]},
                    "m": {"M": {"l": {"L": [{"BOOL": True}, {"NULL": True}, {"SS": ["a"]}, {"NS": ["1"]}]}}},
                },
                "ConditionExpression": "a",
                "ReturnValues": "ALL_OLD",
            },
        ),
        (
            "dynamodb",
            "TransactWriteItems",
            {
                "TransactItems": [
                    {"Put": {"TableName": "t", "Item": {"b": {"B": "AP8="}, "n": {"NULL": True}}}},
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": {"pk": {"S": "x"}},
                            "UpdateExpression": "SET a = :a",
                        }
                    },
                ],
                "ClientRequestToken": "tok",
            },
        ),
        ("dynamodb", "Query", {"TableName": "t", "Limit": 5, "ExclusiveStartKey": {"pk": {"S": "p"}}}),
        ("dynamodb", "BatchGetItem", {"RequestItems": {"t": {"Keys": [{"pk": {"S": "p"}}]}}}),
        ("dynamodb", "DescribeTable", {"TableName": None}),
        ("dynamodb", "GetItem", {}),
        ("sqs", "SendMessage", {"QueueUrl": "u", "MessageBody": "b", "DelaySeconds": 3}),
        ("events", "PutEvents", {"Entries": [{"Source": "s", "Time": 1764460800, "Detail": "{}"}]}),
    ],
)
def test_the_json_parser_parses_as_motos(service: str, operation: str, body: dict[str, Any]) -> None:
    """moto's JSON request parser with its lookups kept gives moto's parameters."""
    from moto.core.parse import JSONParser
    from moto.core.utils import get_service_model

    moto_speedups.install()

    class MotosParser(JSONParser):  # type: ignore[misc]
        _parse_shape = JSONParser._parse_shape.__wrapped__
        _parse_structure = JSONParser._parse_structure.__wrapped__

    model = get_service_model(service).operation_model(operation)
    request = {
        "method": "POST",
        "values": {},
        "headers": {},
        "body": json.dumps(body).encode(),
        "url_path": "/",
    }
    for _ in range(2):  # the second time from the kept lookups
        assert JSONParser(model).parse(request) == MotosParser(model).parse(request)  # type: ignore[arg-type]


def test_random_strings_keep_motos_alphabet_and_length() -> None:
    import string

    from moto.moto_api._internal import mock_random

    moto_speedups.install()
    for length, digits, lower, alphabet in (
        (52, True, False, string.ascii_letters + string.digits),
        (20, False, False, string.ascii_letters),
        (8, True, True, string.ascii_lowercase + string.digits),
    ):
        drawn = [
            mock_random.get_random_string(length, include_digits=digits, lower_case=lower) for _ in range(200)
        ]
        assert all(len(text) == length and set(text) <= set(alphabet) for text in drawn)
        assert len(set(drawn)) == len(drawn)  # random, not repeated
        assert set("".join(drawn)) == set(alphabet)  # every character drawn (10,000 draws over at most 62)
