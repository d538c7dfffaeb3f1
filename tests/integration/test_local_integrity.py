"""The local stack behaves like AWS where integrity depends on it: moto's DynamoDB applies each request
atomically and numbers stream records without gaps or repeats, and the HTTP adapter refuses bodies over
the limit before reading them, bad Content-Length values, and clients that stall."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from infra.local import http_adapter
from infra.local.stack import LocalStack
from shared.settings import get_settings

THREADS = 8
WRITES_PER_THREAD = 50


@pytest.fixture
def stream_table(stack: LocalStack) -> Iterator[tuple[Any, str, str]]:
    client = boto3.client("dynamodb", region_name=get_settings().region)
    name = f"race-{uuid.uuid4().hex[:8]}"
    description = client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]
    yield client, name, description["LatestStreamArn"]
    client.delete_table(TableName=name)


def _stream_records(stream_arn: str) -> list[dict[str, Any]]:
    streams = boto3.client("dynamodbstreams", region_name=get_settings().region)
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        records += page["Records"]
        if not page["Records"]:
            break
        iterator = page.get("NextShardIterator")
    return records


def test_concurrent_writes_get_distinct_stream_sequence_numbers(stream_table: tuple[Any, str, str]) -> None:
    client, name, stream_arn = stream_table

    def writer(thread: int) -> None:
        for number in range(WRITES_PER_THREAD):
            client.put_item(TableName=name, Item={"pk": {"S": f"{thread}-{number}"}})

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(writer, range(THREADS)))
    records = _stream_records(stream_arn)
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert len(records) == THREADS * WRITES_PER_THREAD
    assert [r["eventName"] for r in records] == ["INSERT"] * len(records)
    assert len(set(sequence_numbers)) == len(records)
    assert sequence_numbers == sorted(sequence_numbers)  # a consumer resuming "after" one misses none
    # Resuming after any record yields exactly the records after it (what the dispatcher does).
    assert len({r["dynamodb"]["Keys"]["pk"]["S"] for r in records}) == len(records)


def _unexpected(exc: ClientError) -> bool:
    raise exc


def test_a_conditional_put_from_many_threads_succeeds_once(stream_table: tuple[Any, str, str]) -> None:
    client, name, stream_arn = stream_table
    barrier = threading.Barrier(THREADS)

    def attempt(thread: int) -> bool:
        barrier.wait()
        try:
            client.put_item(
                TableName=name,
                Item={"pk": {"S": "the-order"}, "by": {"N": str(thread)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            return exc.response["Error"]["Code"] != "ConditionalCheckFailedException" and _unexpected(exc)
        return True

    for _ in range(5):
        client.delete_item(TableName=name, Key={"pk": {"S": "the-order"}})
        with ThreadPoolExecutor(THREADS) as pool:
            assert sum(pool.map(attempt, range(THREADS))) == 1
    inserts = [r for r in _stream_records(stream_arn) if r["eventName"] == "INSERT"]
    assert len(inserts) == 5


# --- the HTTP adapter ------------------------------------------------------------------------------------


def _raw_request(url: str, head: bytes, body: bytes = b"", timeout: float = 30.0) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head + body)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        status_line = received.split(b"\r\n", 1)[0]
        return int(status_line.split()[1]), received


def _head(length: str, path: str = "/v1/track") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_a_body_over_the_limit_is_refused_before_it_is_sent(stack: LocalStack) -> None:
    # 32 MiB announced, nothing sent: the answer comes from the header alone.
    status, raw = _raw_request(stack.api_url, _head(str(32 * 1024 * 1024)))
    assert status == 413
    assert b"Connection: close" in raw
    status, _ = _raw_request(stack.api_url, _head(str(10**12)))
    assert status == 413


@pytest.mark.parametrize("length", ["-1", "abc", "1e12", "", "12 34", "0x10"])
def test_a_bad_content_length_is_a_400(stack: LocalStack, length: str) -> None:
    status, raw = _raw_request(stack.api_url, _head(length), b"{}")
    assert status == 400, raw


def test_a_client_that_stalls_is_cut_off_with_408(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_adapter, "SOCKET_TIMEOUT_SECONDS", 0.3)
    server = http_adapter.make_server(http_adapter.ApiAdapter(stack.api_key), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        status, _ = _raw_request(url, _head("100"), b'{"userId": "sl', timeout=30)
        assert status == 408
        # A well-behaved client on the same server is still answered.
        status, _ = _raw_request(url, _head("2"), b"{}")
        assert status in {400, 401, 422}
    finally:
        server.shutdown()
        server.server_close()
