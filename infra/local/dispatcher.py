"""Local dispatcher: delivers DynamoDB stream records and queued bus events to the real handlers.

It behaves like Lambda's event source mappings: batches, partial batch failures (a stream batch resumes
at the first failed record; failed queue messages are delivered again), a retry limit, then dead-letter.

Queue messages are taken off the queue as soon as they arrive (received and deleted in batches of 10)
and held here until their function has handled them; a failed message is delivered again, counting its
attempts, up to the limit. moto's SQS scans the whole queue on every receive and delete, so a queue left
to grow (a scoring run publishes one event per changed customer) made delivery quadratic in its length;
emptied promptly, the queue stays short. What the functions see is unchanged: SQS records in batches of
at most 10, ``ApproximateReceiveCount`` counting the deliveries.

Each consumer (a stream shard's function, a queue's function, the webhook deliveries) is delivered on a
thread of its own within a pass, as Lambda's event source mappings run independently: while one function
waits for moto (a process of its own), another runs. One consumer's deliveries stay in order, one batch at
a time, and a pass ends when every consumer has had its turn, so :meth:`Dispatcher.drain` settles as before.
With ``queue_concurrency`` above 1, a pass delivers that many batches of a queue at once (an SQS event source
mapping runs a standard queue's batches concurrently); a stream shard's batches stay one at a time. The
functions run where ``invoke`` runs them: here by default, in the API adapter's worker processes when the
local stack has some (each a Lambda container).

The background loop (:meth:`Dispatcher.start`) follows the work instead of polling on a clock. It is
woken (:meth:`Dispatcher.wake`) when something may have produced work: an API request ended (in this
process or in a worker process: the adapter answers from here), a schedule ran, an SES event was
injected. While an API request is in flight it polls at Lambda's stream polling rate (a scoring run
publishes as it goes: its queue must not grow, see above). After a pass that handled records it looks
again at once if batches or retries were left, else after that same interval (the handlers fed the bus;
what they and the requests produce meanwhile makes one batch). Otherwise it sleeps for
:data:`IDLE_SECONDS`: the safety net for work put on a queue by something the stack did not see.
Each pass asks for less than before: a stream shard is read from the iterator the previous read
returned (no GetShardIterator per pass), and a queue receive that returns fewer than 10 messages is not
followed by an empty one (what arrives later is found by the next pass, which a delivery's work gets).
"""

from __future__ import annotations

import importlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import boto3

from infra.local.lambda_context import LocalContext
from infra.local.resources import LocalResources

Handler = Callable[[dict[str, Any], Any], Any]
STREAM_CONSUMERS = {"Interactions": "aggregate"}
QUEUE_CONSUMERS = {"CampaignsQueue": "campaigns", "EmailQueue": "email", "SesEventsQueue": "ses_events"}
MAX_ATTEMPTS = 5
# The background loop's safety net: with no request in flight and nothing woken it, a pass this often.
IDLE_SECONDS = 5.0
# Its polling interval while an API request is in flight (Lambda polls a stream shard 4 times a second),
# and its batching window: after a wake, or a pass that handled records, it waits this long before the
# next pass, so that what arrives meanwhile makes one batch.
POLL_SECONDS = 0.25


def load_handler(function: str) -> Handler:
    module = importlib.import_module(f"functions.{function}.handler")
    handler: Handler = module.handler
    return handler


def invoke_here(function: str, event: dict[str, Any]) -> Any:
    """The function's handler on ``event``, in this process."""
    return load_handler(function)(event, LocalContext(function))


@dataclass
class _StreamCursor:
    stream_arn: str
    shard_id: str
    after_sequence: str | None = None
    attempts: int = 0
    # The iterator the last GetRecords returned, and the sequence number it reads on after: used while
    # that is ``after_sequence`` (the records read were delivered, or there were none); else a seek.
    iterator: str | None = None
    iterator_after: str | None = None


@dataclass
class _Held:
    """A queue message taken off its queue, waiting for (another) delivery."""

    message: dict[str, Any]
    deliveries: int = 0


@dataclass
class DeliveryLog:
    stream_records: int = 0
    queue_messages: int = 0
    dead_lettered: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LoopLog:
    """What the background loop did: passes by what started them, and the dispatcher's AWS requests."""

    started: int = 0  # the first pass, at start (what arrived while nobody delivered)
    woken: int = 0  # a wake (API request, schedule, injection) started the pass
    polled: int = 0  # an API request was in flight
    idle: int = 0  # the idle safety net
    follow_up: int = 0  # the previous pass handled records
    passes: int = 0  # every pass, the drains' included
    # The dispatcher's own AWS requests by operation (every pass, drains included).
    requests: Counter[str] = field(default_factory=Counter)


class Dispatcher:
    def __init__(
        self,
        resources: LocalResources,
        region: str,
        batch_size: int = 100,
        invoke: Callable[[str, dict[str, Any]], Any] | None = None,
        queue_concurrency: int = 1,
    ) -> None:
        """``invoke(function, event)``: runs a function on a batch (by default here, in this process; the
        local stack passes its API worker pool's when it has one, so deliveries run in those processes).
        ``queue_concurrency``: batches of one queue delivered at once."""
        self.resources = resources
        self._invoke = invoke or invoke_here
        self.queue_concurrency = max(1, queue_concurrency)
        self._batch_pool = ThreadPoolExecutor(
            self.queue_concurrency * len(QUEUE_CONSUMERS), thread_name_prefix="batch"
        )
        self.batch_size = batch_size
        self.streams = boto3.client("dynamodbstreams", region_name=region)
        self.sqs = boto3.client("sqs", region_name=region)
        self.region = region
        self.log = DeliveryLog()
        self.loop_log = LoopLog()
        self._log_lock = threading.Lock()  # consumers count their deliveries from their own threads
        for client in (self.streams, self.sqs):
            client.meta.events.register("before-call", self._count_request)
        self._wake = threading.Event()
        self._in_flight = 0  # API requests running now (see activity())
        self._backlog = False  # the last pass left work it knows of (a batch each, retries)
        self._pool = ThreadPoolExecutor(thread_name_prefix="consumer")
        self._cursors: list[tuple[str, _StreamCursor]] = []
        self._held: dict[str, deque[_Held]] = {name: deque() for name in QUEUE_CONSUMERS}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Other deliveries on each pass (the webhook API destination stand-in): each returns its work done.
        self.extra_pumps: list[Callable[[], int]] = []
        for table, stream_arn in resources.stream_arns.items():
            shards = self.streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
            for shard in shards:
                self._cursors.append((STREAM_CONSUMERS[table], _StreamCursor(stream_arn, shard["ShardId"])))

    # -- streams -------------------------------------------------------------------------------
    def _count_request(self, model: Any, **_: Any) -> None:
        with self._log_lock:
            self.loop_log.requests[model.name] += 1

    def _seek(self, cursor: _StreamCursor) -> str:
        kwargs: dict[str, Any] = {"StreamArn": cursor.stream_arn, "ShardId": cursor.shard_id}
        if cursor.after_sequence is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs["ShardIteratorType"] = "AFTER_SEQUENCE_NUMBER"
            kwargs["SequenceNumber"] = cursor.after_sequence
        iterator: str = self.streams.get_shard_iterator(**kwargs)["ShardIterator"]
        return iterator

    def _read_stream(self, cursor: _StreamCursor) -> list[dict[str, Any]]:
        """The records after ``cursor.after_sequence``; the read's next iterator is kept for the next
        pass (it starts after the last record returned), so an idle shard costs one GetRecords."""
        kept = cursor.iterator if cursor.iterator_after == cursor.after_sequence else None
        iterator, cursor.iterator = kept or self._seek(cursor), None
        try:
            answer = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
        except self.streams.exceptions.ExpiredIteratorException:  # 15 minutes old on AWS: seek again
            answer = self.streams.get_records(ShardIterator=self._seek(cursor), Limit=self.batch_size)
        records: list[dict[str, Any]] = [dict(record) for record in answer["Records"]]
        cursor.iterator = answer.get("NextShardIterator")
        cursor.iterator_after = (
            str(records[-1]["dynamodb"]["SequenceNumber"]) if records else cursor.after_sequence
        )
        return records

    def _deliver_stream(self, function: str, cursor: _StreamCursor) -> int:
        records = self._read_stream(cursor)
        if not records:
            return 0
        if len(records) >= self.batch_size:
            self._backlog = True  # the shard may hold more than one batch
        event = {"Records": [self._lambda_stream_record(r, cursor.stream_arn) for r in records]}
        failed: str | None = None
        try:
            response = self._invoke(function, event)
            failures = (response or {}).get("batchItemFailures") or []
            if failures:
                failed = min((f["itemIdentifier"] for f in failures), key=int)
        except Exception as exc:  # the whole batch failed: retry it, as Lambda does
            failed = records[0]["dynamodb"]["SequenceNumber"]
            print(f"  ! {function} failed on a stream batch: {exc!r}")
        delivered_up_to = records[-1]["dynamodb"]["SequenceNumber"]
        if failed is None:  # the kept iterator reads on after delivered_up_to
            cursor.after_sequence, cursor.attempts = delivered_up_to, 0
            with self._log_lock:
                self.log.stream_records += len(records)
            return len(records)
        cursor.attempts += 1
        self._backlog = True  # the failed record is read again
        cursor.iterator = None  # the next read seeks back to the first failed record
        before_failed = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) < int(failed)]
        if before_failed:
            cursor.after_sequence = before_failed[-1]["dynamodb"]["SequenceNumber"]
            with self._log_lock:
                self.log.stream_records += len(before_failed)
        if cursor.attempts >= MAX_ATTEMPTS:
            poisoned = next(r for r in records if r["dynamodb"]["SequenceNumber"] == failed)
            self.log.dead_lettered.append({"source": "stream", "function": function, "record": poisoned})
            cursor.after_sequence, cursor.attempts = failed, 0
        return max(1, len(before_failed))

    def _lambda_stream_record(self, record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record.get("eventID"),
            "eventName": record["eventName"],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": dynamodb,
            "eventSourceARN": stream_arn,
        }

    # -- queues --------------------------------------------------------------------------------
    def _take(self, queue_name: str, max_rounds: int = 100) -> int:
        """Move what the queue holds into this dispatcher (receive, then delete, 10 at a time)."""
        url = self.resources.queue_urls[queue_name]
        taken = 0
        for _ in range(max_rounds):
            messages = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=30
            ).get("Messages", [])
            if not messages:
                break
            self.sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            self._held[queue_name].extend(_Held(dict(m)) for m in messages)
            taken += len(messages)
            if len(messages) < 10:  # the queue had no more visible: no empty receive to learn it
                break
        return taken

    def _deliver_queue(self, queue_name: str, function: str) -> int:
        """Up to :attr:`queue_concurrency` batches of the queue at once (an SQS event source mapping runs
        several batches of a standard queue concurrently, each in its own container)."""
        self._take(queue_name)
        held = self._held[queue_name]
        batches: list[list[_Held]] = []
        while held and len(batches) < self.queue_concurrency:
            batches.append([held.popleft() for _ in range(min(10, len(held)))])
        if held:
            self._backlog = True  # more batches are held than this pass delivers
        if len(batches) <= 1:
            return sum(self._deliver_batch(queue_name, function, batch) for batch in batches)
        deliver = partial(self._deliver_batch, queue_name, function)
        return sum(self._batch_pool.map(deliver, batches))

    def _deliver_batch(self, queue_name: str, function: str, batch: list[_Held]) -> int:
        held = self._held[queue_name]
        for item in batch:
            item.deliveries += 1
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {
                        **m.get("Attributes", {}),
                        "ApproximateReceiveCount": str(item.deliveries),
                    },
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{self.region}:000000000000:{queue_name}",
                    "awsRegion": self.region,
                }
                for item in batch
                for m in (item.message,)
            ]
        }
        failed_ids: set[str]
        try:
            response = self._invoke(function, event)
            failed_ids = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures") or []}
        except Exception as exc:
            print(f"  ! {function} failed on a queue batch: {exc!r}")
            failed_ids = {item.message["MessageId"] for item in batch}
        for item in batch:
            if item.message["MessageId"] not in failed_ids:
                continue
            if item.deliveries < MAX_ATTEMPTS:
                held.append(item)  # delivered again on a later pass
                self._backlog = True
                continue
            body = item.message["Body"]
            self.sqs.send_message(QueueUrl=self.resources.dead_letter_urls[queue_name], MessageBody=body)
            self.log.dead_lettered.append({"source": queue_name, "function": function, "body": body})
        with self._log_lock:
            self.log.queue_messages += len(batch) - len(failed_ids)
        return len(batch)

    # -- driving -------------------------------------------------------------------------------
    def pump(self) -> int:
        """Deliver what is pending once; returns how many records/messages were handled."""
        with self._lock:
            self.loop_log.passes += 1
            self._backlog = False  # set by a consumer that left work for the next pass
            consumers: list[Callable[[], int]] = [
                partial(self._deliver_stream, function, cursor) for function, cursor in self._cursors
            ]
            consumers += [
                partial(self._deliver_queue, queue_name, function)
                for queue_name, function in QUEUE_CONSUMERS.items()
                if queue_name in self.resources.queue_urls
            ]
            consumers += self.extra_pumps
            # Each on its own thread; a failure is raised here, as when they ran one after the other.
            return sum(self._pool.map(lambda deliver: deliver(), consumers))

    def drain(self, max_rounds: int = 10_000, progress: Callable[[int], object] | None = None) -> int:
        """Deliver until nothing is pending (streams feed the bus, the bus feeds queues...);
        ``progress`` is told how many records/messages each round handled."""
        total = 0
        for _ in range(max_rounds):
            handled = self.pump()
            total += handled
            if progress is not None and handled:
                progress(handled)
            if handled == 0:
                return total
        raise RuntimeError("the dispatcher did not settle: a consumer keeps producing work")

    def wake(self) -> None:
        """Something may have produced work: the background loop makes a pass soon."""
        self._wake.set()

    @contextmanager
    def activity(self) -> Iterator[None]:
        """Around an API request: the loop polls while it runs (a scoring run publishes as it goes) and
        is woken when it ends (its consequences are delivered without waiting for the idle interval)."""
        with self._log_lock:
            self._in_flight += 1
        self._wake.set()
        try:
            yield
        finally:
            with self._log_lock:
                self._in_flight -= 1
            self._wake.set()

    def start(self, idle_seconds: float = IDLE_SECONDS, poll_seconds: float = POLL_SECONDS) -> None:
        """Deliver in the background until :meth:`stop` (see the module docstring)."""
        self._stop.clear()
        self._wake.clear()  # what woke nobody is delivered by the first pass

        def loop() -> None:
            cause = "started"  # the first pass delivers what is pending at once
            while not self._stop.is_set():
                try:
                    handled = self.pump()
                except Exception as exc:
                    print(f"  ! dispatcher: {exc!r}")
                    handled = 0
                with self._log_lock:
                    setattr(self.loop_log, cause, getattr(self.loop_log, cause) + 1)
                if handled and self._backlog:  # more batches held, or retries: at once
                    cause = "follow_up"
                    continue
                if handled:
                    # The handlers fed the bus: look again after the batching window (as Lambda polls
                    # a shard 4 times a second), so that what they and the requests produce meanwhile
                    # makes one batch.
                    cause = "follow_up"
                    self._stop.wait(poll_seconds)
                else:
                    woken = self._wake.wait(poll_seconds if self._in_flight else idle_seconds)
                    cause = "woken" if woken else ("polled" if self._in_flight else "idle")
                    if woken:  # the request that woke it (and those that follow) makes one batch too
                        self._stop.wait(poll_seconds)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background loop, waiting up to ``timeout`` for the pass it is making."""
        self._stop.set()
        self._wake.set()  # out of its wait at once
        if self._thread:
            self._thread.join(timeout=timeout)
            time.sleep(0)

    def close(self) -> None:
        """Stop, and let the consumers' threads go (no delivery after this)."""
        self.stop()
        self._pool.shutdown(wait=True)
        self._batch_pool.shutdown(wait=True)
