"""The dispatcher's background loop follows the work (issue 17): woken by API requests (served in this
process or in a worker process), with an idle safety net for work the stack did not see; and its passes
ask moto for less (no GetShardIterator per pass, no empty receive after a short one).

The session's stack delivers only when a test drains it; these tests start its background loop for
their own duration, and count passes and deliveries (no timing assertions: a wait only bounds how long a
test may hang)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import boto3
import pytest

from infra.local.demo import Client
from infra.local.dispatcher import MAX_ATTEMPTS, QUEUE_CONSUMERS, Dispatcher, LoopLog
from infra.local.faults import Fault
from infra.local.stack import LocalStack
from shared.settings import get_settings
from tests.helpers import drain_queue, emails_to, new_champions, unique

NEVER = 3600.0  # an idle interval no test lasts: what gets delivered was not the safety net's doing
GIVE_UP_SECONDS = 120.0


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the dispatcher did not deliver"
        time.sleep(0.05)


def _stopped(dispatcher: Dispatcher) -> LoopLog:
    """Stop the loop once its pass is over (its counts are final); the counts then."""
    dispatcher.stop(timeout=GIVE_UP_SECONDS)
    return _snapshot(dispatcher)


def _snapshot(dispatcher: Dispatcher) -> LoopLog:
    return replace(dispatcher.loop_log, requests=dispatcher.loop_log.requests.copy())


@pytest.fixture
def dispatcher(stack: LocalStack) -> Iterator[Dispatcher]:
    """The stack's dispatcher with nothing pending; its background loop is stopped after the test."""
    assert stack.dispatcher is not None
    stack.drain()
    yield stack.dispatcher
    stack.dispatcher.stop()
    stack.drain()


def _started(dispatcher: Dispatcher, idle_seconds: float) -> LoopLog:
    """Start the loop and wait for its first pass (what was pending is not the test's); the counts then."""
    before = dispatcher.loop_log.started
    dispatcher.start(idle_seconds=idle_seconds)
    _until(lambda: dispatcher.loop_log.started > before)
    return _snapshot(dispatcher)


def _sign_up(client: Client, email: str) -> None:
    status, _, _ = client.call("POST", "/v1/forms/newsletter", form={"email": email, "first_name": "Wes"})
    assert status in (200, 303)


def _confirmations(stack: LocalStack, email: str) -> list[dict[str, str]]:
    return [m for m in emails_to(stack, email) if "confirm" in m["Subject"].lower()]


def test_a_message_the_stack_did_not_see_is_delivered_by_the_idle_safety_net(
    stack: LocalStack, dispatcher: Dispatcher
) -> None:
    """Events put on the bus by a caller outside the adapter (nothing wakes the dispatcher) reach the
    campaigns function: the loop's idle pass finds them."""
    from shared.dal.bus import publish

    before = _started(dispatcher, idle_seconds=0.5)
    delivered = dispatcher.log.queue_messages
    assert publish(new_champions("unseen", 1)) == 1
    _until(lambda: dispatcher.log.queue_messages > delivered)
    after = _stopped(dispatcher)
    assert after.idle > before.idle
    assert after.woken == before.woken  # no request, schedule or injection woke it


def test_an_api_requests_consequences_are_delivered_without_the_idle_interval(
    stack: LocalStack, client: Client, dispatcher: Dispatcher
) -> None:
    """A sign-up through the API: its confirmation email (bus -> email queue -> email function -> SES)
    is sent by passes the request woke, with an idle interval no test waits for."""
    email = f"{unique('woken')}@example.com"
    before = _started(dispatcher, idle_seconds=NEVER)
    _sign_up(client, email)
    _until(lambda: len(_confirmations(stack, email)) == 1)
    after = _stopped(dispatcher)
    assert after.woken > before.woken
    assert after.idle == before.idle


def test_a_failing_consumer_is_retried_then_dead_lettered_by_the_background_loop(
    stack: LocalStack, client: Client, dispatcher: Dispatcher
) -> None:
    """SES rejects every send: the email function fails its message, which the loop delivers again up to
    the limit and then dead-letters, as the drains do; no idle pass was needed."""
    email = f"{unique('wdlq')}@example.com"
    fault = Fault("ses", "SendRawEmail", error_code="MessageRejected", status=400, times=1000)
    with stack.faults.inject(fault):
        before = _started(dispatcher, idle_seconds=NEVER)
        _sign_up(client, email)
        _until(lambda: any(email in json.dumps(d) for d in dispatcher.log.dead_lettered))
        after = _stopped(dispatcher)
    assert fault.hits == MAX_ATTEMPTS
    assert after.idle == before.idle
    assert _confirmations(stack, email) == []
    assert stack.resources is not None
    sqs = boto3.client("sqs", region_name=get_settings().region)
    dead = drain_queue(sqs, stack.resources.dead_letter_urls["EmailQueue"])
    assert [d["detail"]["email"] for d in dead if d["detail"].get("email") == email] == [email]


def test_make_local_with_worker_processes_still_delivers(
    stack: LocalStack, client: Client, dispatcher: Dispatcher
) -> None:
    """With API worker processes (``make local`` runs 4) the function runs in another process; its
    answer comes back through the adapter here, which wakes the dispatcher."""
    email = f"{unique('worker')}@example.com"
    stack.adapter.workers = 1
    try:
        before = _started(dispatcher, idle_seconds=NEVER)
        _sign_up(client, email)
        assert stack.adapter._pool is not None  # the request went to a worker process
        _until(lambda: len(_confirmations(stack, email)) == 1)
    finally:
        stack.adapter.close()
        stack.adapter.workers = 0
    after = _stopped(dispatcher)
    assert after.woken > before.woken
    assert after.idle == before.idle


def test_a_pass_reads_the_stream_from_the_kept_iterator_and_stops_at_a_short_receive(
    stack: LocalStack, dispatcher: Dispatcher
) -> None:
    """Three messages on the campaigns queue: one receive takes them (fewer than 10, so no second,
    empty one); the stream is read without a new shard iterator; every queue is received once."""
    from shared.dal.bus import publish

    assert publish(new_champions("short", 3)) == 3
    before = _snapshot(dispatcher)
    delivered = dispatcher.log.queue_messages
    assert dispatcher.pump() >= 3
    used = dispatcher.loop_log.requests - before.requests
    assert dispatcher.log.queue_messages - delivered >= 3
    assert used["ReceiveMessage"] == len(QUEUE_CONSUMERS)
    assert used["GetRecords"] == len(dispatcher._cursors)  # one per shard
    assert used["GetShardIterator"] == 0
