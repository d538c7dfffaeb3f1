"""moto's CPU per request: the local stack's moto process (``infra.local.moto_process``) answering the mix
of AWS calls ``make demo`` makes (per 100 calls: GetItem 25, Query 15, UpdateItem 13, PutItem 11,
ReceiveMessage 10, BatchGetItem 10, TransactWriteItems 4, PutEvents 4, GetRecords 4, SendMessage 4),
conditional writes included (some of which fail, as in the demo).

The figure is the moto process's CPU time (its ``/_local/status``) over the requests it served: with the
direct JSON path (default) and without it (``--compare``: a second moto process with ``--no-direct``),
the same workload, back to back.

``python -m benchmarks moto_requests [--rounds 300] [--compare]``

``--replay FILE`` replays requests recorded from a real run instead (``LOCAL_MOTO_RECORD=FILE python -m
infra.local --once``, see ``infra/local/moto_record.py``) against two moto processes at once, request by
request in turns (which one goes first alternates every 100 requests): this checkout's with and without
the direct path (``--compare``), or this checkout's and another checkout's (``--against DIR``: a copy of
an older commit, for an A/B of two versions). Both see the machine's load alike, so the ratio of their
CPU per request is a steadier figure than two runs one after the other. (Answers that depend on ids
generated in the recorded run, such as receipt handles, are errors in both; stream reads, whose shard
iterators only the recorded run knew, are left out.)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import time
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.local.moto_process import MotoProcess

REGION = "eu-west-1"


def _clients(url: str) -> dict[str, Any]:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        os.environ.setdefault(name, value)
    config = Config(retries={"max_attempts": 1, "mode": "standard"})
    return {
        name: boto3.client(name, region_name=REGION, endpoint_url=url, config=config)
        for name in ("dynamodb", "dynamodbstreams", "sqs", "events")
    }


def _setup(c: dict[str, Any]) -> dict[str, Any]:
    ddb = c["dynamodb"]
    ddb.create_table(
        TableName="bench",
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
    stream_arn = ddb.describe_table(TableName="bench")["Table"]["LatestStreamArn"]
    shard = c["dynamodbstreams"].describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]
    iterator = c["dynamodbstreams"].get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    queue_url = c["sqs"].create_queue(QueueName="bench")["QueueUrl"]
    queue_arn = c["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    c["events"].create_event_bus(Name="bench")
    c["events"].put_rule(Name="all", EventBusName="bench", EventPattern=json.dumps({"source": ["bench"]}))
    c["events"].put_targets(Rule="all", EventBusName="bench", Targets=[{"Id": "q", "Arn": queue_arn}])
    return {"queue_url": queue_url, "iterator": iterator}


def _item(i: int, j: int) -> dict[str, Any]:
    return {
        "pk": {"S": f"customer#{i % 50}"},
        "sk": {"S": f"event#{j:06d}"},
        "kind": {"S": "order" if j % 3 else "view"},
        "amount": {"N": str(j % 97)},
        "profile": {"M": {"name": {"S": f"n{i}"}, "tags": {"L": [{"S": "a"}, {"N": "1"}]}}},
    }


def _round(c: dict[str, Any], state: dict[str, Any], r: int) -> int:
    """One round of the mix (100 calls); returns the number of calls made."""
    ddb, calls = c["dynamodb"], 0

    def call(fn: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        try:
            return fn(**kwargs)
        except ClientError:
            return None  # conditional failures are part of the workload

    for k in range(11):
        call(
            ddb.put_item,
            TableName="bench",
            Item=_item(r, r * 11 + k),
            ConditionExpression="attribute_not_exists(pk)",
        )
    for k in range(13):
        call(
            ddb.update_item,
            TableName="bench",
            Key={"pk": {"S": f"customer#{(r + k) % 50}"}, "sk": {"S": "profile"}},
            UpdateExpression="SET #n = if_not_exists(#n, :zero) + :one, updated = :now ADD seen :one",
            ConditionExpression="attribute_not_exists(locked) OR locked = :f",
            ExpressionAttributeNames={"#n": "count"},
            ExpressionAttributeValues={
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":now": {"S": str(r)},
                ":f": {"BOOL": False},
            },
            ReturnValues="ALL_NEW",
        )
    for k in range(25):
        call(ddb.get_item, TableName="bench", Key={"pk": {"S": f"customer#{k % 50}"}, "sk": {"S": "profile"}})
    for k in range(15):
        call(
            ddb.query,
            TableName="bench",
            KeyConditionExpression="pk = :p AND begins_with(sk, :e)",
            ExpressionAttributeValues={":p": {"S": f"customer#{(r + k) % 50}"}, ":e": {"S": "event#"}},
            Limit=20,
        )
    for k in range(10):
        keys = [{"pk": {"S": f"customer#{(k + n) % 50}"}, "sk": {"S": "profile"}} for n in range(5)]
        call(ddb.batch_get_item, RequestItems={"bench": {"Keys": keys}})
    for k in range(4):
        call(
            ddb.transact_write_items,
            TransactItems=[
                {
                    "Put": {
                        "TableName": "bench",
                        "Item": {"pk": {"S": f"decision#{r}"}, "sk": {"S": f"c{k}"}, "kind": {"S": "d"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": "bench",
                        "Key": {"pk": {"S": f"customer#{k}"}, "sk": {"S": "profile"}},
                        "UpdateExpression": "ADD decisions :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
            ],
        )
    for _ in range(4):
        answer = call(c["dynamodbstreams"].get_records, ShardIterator=state["iterator"], Limit=100)
        if answer is not None:
            state["iterator"] = answer["NextShardIterator"]
    for k in range(4):
        call(
            c["events"].put_events,
            Entries=[
                {
                    "Source": "bench",
                    "DetailType": "t",
                    "Detail": json.dumps({"n": k}),
                    "EventBusName": "bench",
                }
            ],
        )
    for k in range(4):
        call(c["sqs"].send_message, QueueUrl=state["queue_url"], MessageBody=json.dumps({"r": r, "k": k}))
    for _ in range(10):
        answer = call(c["sqs"].receive_message, QueueUrl=state["queue_url"], MaxNumberOfMessages=10)
        for message in (answer or {}).get("Messages", []):
            c["sqs"].delete_message(QueueUrl=state["queue_url"], ReceiptHandle=message["ReceiptHandle"])
            calls += 1
    return calls


def measure(rounds: int, direct: bool) -> dict[str, float]:
    moto = (MotoProcess() if direct else MotoProcess(direct=False)).start()
    try:
        clients = _clients(moto.url)
        state = _setup(clients)
        _round(clients, state, 0)  # warm-up: moto's lazy imports and first-call caches
        cpu0, wall0 = moto.cpu_seconds(), time.perf_counter()
        calls = sum(_round(clients, state, r) for r in range(1, rounds + 1))
        cpu = moto.cpu_seconds() - cpu0
        wall = time.perf_counter() - wall0
    finally:
        moto.stop()
    return {"calls": calls, "moto_cpu_s": cpu, "moto_cpu_ms_per_call": 1000 * cpu / calls, "wall_s": wall}


def _send(
    connection: http.client.HTTPConnection, request: tuple[str, str, list[tuple[str, str]], bytes]
) -> None:
    method, path, headers, body = request
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", f"{connection.host}:{connection.port}")
    for name, value in headers:
        connection.putheader(name, value)
    connection.endheaders(body or None)
    response = connection.getresponse()
    response.read()
    if response.will_close:
        connection.close()  # http.client reconnects for the next request


def replay(path: str, against: str | None, compare: bool) -> dict[str, dict[str, float]]:
    """The recorded requests against two moto processes in turns; CPU per request of each."""
    from infra.local import moto_record

    # A stream read names a shard iterator of the recorded run, which no replay has (moto fails on it
    # with a traceback on its standard error): left out.
    requests = [
        request
        for request in moto_record.load(path)
        if dict(request[2]).get("X-Amz-Target") != "DynamoDBStreams_20120810.GetRecords"
    ]
    if against:
        processes = {"this": MotoProcess(), "against": MotoProcess(cwd=against)}
    elif compare:
        processes = {"direct": MotoProcess(), "flask": MotoProcess(direct=False)}
    else:
        processes = {"direct": MotoProcess()}
    started = {label: process.start() for label, process in processes.items()}
    try:
        connections = {
            label: http.client.HTTPConnection(process.host, process.port, timeout=60)
            for label, process in started.items()
        }
        cpu0 = {label: process.cpu_seconds() for label, process in started.items()}
        labels = list(started)
        for number, request in enumerate(requests):
            order = labels if (number // 100) % 2 == 0 else labels[::-1]
            for label in order:
                _send(connections[label], request)
        cpu = {label: process.cpu_seconds() - cpu0[label] for label, process in started.items()}
    finally:
        for process in started.values():
            process.stop()
    return {
        label: {
            "calls": len(requests),
            "moto_cpu_s": cpu[label],
            "moto_cpu_ms_per_call": 1000 * cpu[label] / len(requests),
        }
        for label in labels
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks moto_requests", description=__doc__)
    parser.add_argument("--rounds", type=int, default=100, help="rounds of 100 calls")
    parser.add_argument("--compare", action="store_true", help="also without the direct JSON path")
    parser.add_argument("--replay", help="replay requests recorded with LOCAL_MOTO_RECORD instead of the mix")
    parser.add_argument("--against", help="with --replay: another checkout's moto process as the second one")
    args = parser.parse_args(argv)
    print(f"load average: {os.getloadavg()}")
    if args.replay:
        figures_by_label = replay(args.replay, args.against, args.compare)
        for label, figures in figures_by_label.items():
            print(
                f"{label:>8}: {figures['calls']:.0f} calls, moto CPU {figures['moto_cpu_s']:.2f} s = "
                f"{figures['moto_cpu_ms_per_call']:.3f} ms/call",
                flush=True,
            )
        first, *others = figures_by_label
        for other in others:
            ratio = figures_by_label[first]["moto_cpu_s"] / figures_by_label[other]["moto_cpu_s"]
            print(f"{first} / {other} CPU: {ratio:.3f}")
        print(f"load average after: {os.getloadavg()}")
        return 0
    variants = [True, False] if args.compare else [True]
    results = {}
    for direct in variants:
        label = "direct" if direct else "flask"
        results[label] = measure(args.rounds, direct)
        figures = results[label]
        print(
            f"{label:>7}: {figures['calls']:.0f} calls, moto CPU {figures['moto_cpu_s']:.2f} s = "
            f"{figures['moto_cpu_ms_per_call']:.2f} ms/call (wall {figures['wall_s']:.1f} s)",
            flush=True,
        )
    if args.compare:
        ratio = results["direct"]["moto_cpu_ms_per_call"] / results["flask"]["moto_cpu_ms_per_call"]
        print(f"direct / flask CPU per call: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
