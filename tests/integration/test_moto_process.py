"""moto in its own OS process (``infra/local/moto_process.py``): it serves AWS calls and its control
endpoint, and it never outlives the stack that started it, even one killed without a chance to stop it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from typing import Any
from urllib import error, request

import boto3
import pytest

from infra.local.faults import Fault
from infra.local.moto_process import MotoProcess


def _answers(url: str) -> bool:
    try:
        with request.urlopen(f"{url}/_local/status", timeout=2) as response:
            return response.status == 200
    except (error.URLError, ConnectionError, TimeoutError):
        return False


def _wait_until_gone(url: str, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _answers(url):
            return True
        time.sleep(0.2)
    return False


def test_the_control_endpoint_counts_requests_injects_faults_and_refuses_unknown_paths() -> None:
    moto = MotoProcess().start()
    try:
        sqs = boto3.client(
            "sqs",
            region_name="eu-west-1",
            endpoint_url=moto.url,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        before = moto.request_counts()["requests"]
        url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        after = moto.request_counts()["requests"]
        assert after.get("CreateQueue", 0) == before.get("CreateQueue", 0) + 1

        refusal = Fault("sqs", "SendMessage", error_code="InvalidParameterValue", status=400, times=5)
        refused_send = pytest.raises(sqs.exceptions.ClientError, match="InvalidParameterValue")
        with moto.faults.inject(refusal) as fault, refused_send:
            sqs.send_message(QueueUrl=url, MessageBody="refused")  # a 400: the SDK does not retry
        assert fault.hits == 1
        sqs.send_message(QueueUrl=url, MessageBody="after the block")  # the rule ended with the block

        with pytest.raises(error.HTTPError) as refused:
            request.urlopen(f"{moto.url}/_local/nothing-here", timeout=5)
        assert refused.value.code == 404
        assert "no control operation" in json.loads(refused.value.read())["message"]
        assert moto.cpu_seconds() > 0
    finally:
        moto.stop()
    assert _wait_until_gone(moto.url)


def test_the_moto_process_dies_with_a_stack_that_is_killed() -> None:
    parent = textwrap.dedent(
        """
        import sys, time
        from infra.local.moto_process import MotoProcess
        moto = MotoProcess().start()
        print(moto.url, flush=True)
        time.sleep(600)
        """
    )
    stack = subprocess.Popen(
        [sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    assert stack.stdout is not None
    url = stack.stdout.readline().strip()
    assert _answers(url)
    os.kill(stack.pid, signal.SIGKILL)  # no finally, no atexit: only the pipe closing tells moto
    stack.wait()
    assert _wait_until_gone(url)


def test_the_moto_process_flushes_its_last_words_and_exits_cleanly_without_teardown() -> None:
    """The process leaves with ``os._exit`` once its server stopped: what it wrote last (the CPU summary,
    after the server stopped) still reaches the pipe, and the exit status is 0."""
    child = subprocess.Popen(
        [sys.executable, "-m", "infra.local.moto_process", "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LOCAL_MOTO_SUMMARY": "1"},
    )
    assert child.stdout is not None
    ready, port = child.stdout.readline().split()
    assert ready == "ready"
    sqs = boto3.client(
        "sqs",
        region_name="eu-west-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    sqs.create_queue(QueueName="last-words")
    _, errors = child.communicate(timeout=30)  # closes standard input: the signal to stop
    assert child.returncode == 0
    assert "moto served 1 requests in" in errors


def test_recorded_requests_are_the_requests_served_and_replay(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``LOCAL_MOTO_RECORD`` writes each AWS request the moto process serves (not the control calls);
    the benchmark's replay sends them to two fresh moto processes and reports each one's CPU."""
    from benchmarks.bench_moto_requests import replay
    from infra.local import moto_record

    recording = tmp_path / "requests.jsonl"
    monkeypatch.setenv("LOCAL_MOTO_RECORD", str(recording))
    moto = MotoProcess().start()
    monkeypatch.delenv("LOCAL_MOTO_RECORD")
    try:
        ddb = boto3.client(
            "dynamodb",
            region_name="eu-west-1",
            endpoint_url=moto.url,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        ddb.create_table(
            TableName="recorded",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName="recorded", Item={"pk": {"S": "é"}, "n": {"N": "1"}})
        assert moto.request_counts()["requests"]["PutItem"] == 1  # a control call: not recorded
    finally:
        moto.stop()
    requests = moto_record.load(str(recording))
    targets = [dict(headers).get("X-Amz-Target") for _, _, headers, _ in requests]
    assert targets == ["DynamoDB_20120810.CreateTable", "DynamoDB_20120810.PutItem"]
    assert json.loads(requests[1][3])["Item"]["pk"] == {"S": "é"}
    assert all(method == "POST" and path == "/" for method, path, _, _ in requests)

    figures = replay(str(recording), against=None, compare=True)
    assert set(figures) == {"direct", "flask"}
    assert all(figure["calls"] == 2 and figure["moto_cpu_s"] > 0 for figure in figures.values())


def test_a_launched_moto_process_serves_once_ready() -> None:
    """``launch`` returns at once (the caller works while moto imports itself); ``wait_until_ready``
    gives the port it serves on."""
    moto = MotoProcess().launch()
    try:
        assert moto.port == 0  # not known before the process says it is ready
        moto.wait_until_ready()
        assert moto.port != 0
        assert _answers(moto.url)
    finally:
        moto.stop()
