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
