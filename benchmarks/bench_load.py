"""Load benchmark of the tracking endpoint on the local stack: requests per second and latency, 0 errors.

Run: ``python -m benchmarks.bench_load [--requests 2000] [--threads 1,4,16] [--time-limit 60] [--drain]``.

A :class:`~infra.local.stack.LocalStack` (moto server, HTTP adapter, real Lambda handlers) is started on
127.0.0.1. For each concurrency level K, a client process (separate from the stack's, so client work does
not compete with the server for this process's GIL) runs K threads, each with its own keep-alive
``http.client`` connection over loopback. The connections are opened and warmed up one after the other
(a few requests each, not timed); then the threads share N requests (or stop at the time bound, whichever
comes first): 80 % ``POST /v1/track`` (product views and orders of 100 known users), 10 % ``POST /v1/page``
(anonymous visitors), 10 % ``POST /v1/forms/contact`` (form-encoded, a new person each). Every request
carries a distinct event, so the Interactions table must afterwards hold exactly one item per request
answered 2xx/3xx (warm-up included): that count is checked (no loss, no duplicate).

The stack's background dispatcher is off while measuring: in AWS the stream consumer and the campaign and
email functions run in their own containers and do not slow the API, whereas here they would share the
stack's process and its GIL with the API. ``--drain`` delivers the stream afterwards and checks that the
aggregates counted every interaction.

What the figures mean: the local adapter runs one function invocation at a time per function, as one
Lambda container does, so this is the throughput and latency of a single track container on moto over
loopback. API Gateway + Lambda would add containers with concurrency (and network and service latency).
Figures are printed, never asserted; the exit status is non-zero only if a request failed or an event
was lost.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import io
import json
import math
import multiprocessing
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

WARMUP_PER_CONNECTION = 5
USERS = 100


@dataclass
class LevelResult:
    threads: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    ok: int = 0
    warmup_ok: int = 0
    warmup_errors: int = 0
    elapsed: float = 0.0
    stopped_by_time: bool = False
    by_route: Counter[str] = field(default_factory=Counter)


def _request(run: str, index: int) -> tuple[str, str, bytes, str]:
    """(route, path, body, content type) of request ``index``: each carries a distinct event."""
    kind = index % 10
    if kind == 8:
        body = {"anonymousId": f"{run}-a{index % 50}", "messageId": f"{run}-p{index}", "name": "Pricing"}
        return "page", "/v1/page", json.dumps(body).encode(), "application/json"
    if kind == 9:
        form = {"email": f"{run}-f{index}@example.com", "first_name": "Lo", "message": f"call me ({index})"}
        return "form", "/v1/forms/contact", urlencode(form).encode(), "application/x-www-form-urlencoded"
    user = f"{run}-u{index % USERS}"
    if kind % 4 == 0:
        call: dict[str, Any] = {
            "userId": user,
            "event": "Order Completed",
            "properties": {"order_id": f"{run}-o{index}", "total": 10 + index % 40, "currency": "EUR"},
        }
    else:
        call = {
            "userId": user,
            "messageId": f"{run}-t{index}",
            "event": "Product Viewed",
            "properties": {"sku": f"p-{index % 20}", "price": 12.5},
        }
    return "track", "/v1/track", json.dumps(call).encode(), "application/json"


def run_level(
    api_url: str, write_key: str, threads: int, requests: int, time_limit: float, run: str
) -> LevelResult:
    """The client side of one level (runs in the client process)."""
    split = urlsplit(api_url)
    host, port = split.hostname or "127.0.0.1", split.port or 80
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    result = LevelResult(threads=threads)
    lock = threading.Lock()
    next_index = iter(range(10**9))

    def send(connection: http.client.HTTPConnection, index: int) -> tuple[bool, float, str, str]:
        route, path, body, content_type = _request(run, index)
        headers = {"Authorization": auth, "Content-Type": content_type, "Connection": "keep-alive"}
        began = time.perf_counter()
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            connection.close()  # reconnects on the next request
            return False, (time.perf_counter() - began) * 1000, route, repr(exc)
        latency = (time.perf_counter() - began) * 1000
        if not 200 <= status < 400:
            return False, latency, route, f"{status} {payload[:200]!r}"
        return True, latency, route, ""

    def take() -> int:
        with lock:
            return next(next_index)

    # Connections opened and warmed one after the other: never a burst of connects at the listener.
    connections = [http.client.HTTPConnection(host, port, timeout=60) for _ in range(threads)]
    for connection in connections:
        for _ in range(WARMUP_PER_CONNECTION):
            ok, _latency, _route, error = send(connection, take())
            if ok:
                result.warmup_ok += 1
            else:
                result.warmup_errors += 1
                result.error_samples.append(f"warm-up: {error}")
    start = threading.Barrier(threads + 1)
    deadline = [math.inf]
    budget = [requests]

    def worker(connection: http.client.HTTPConnection) -> None:
        start.wait()
        while True:
            with lock:
                if budget[0] <= 0:
                    return
                if time.perf_counter() >= deadline[0]:
                    result.stopped_by_time = True
                    return
                budget[0] -= 1
                index = next(next_index)
            ok, latency, route, error = send(connection, index)
            with lock:
                result.latencies_ms.append(latency)
                result.by_route[route] += 1
                if ok:
                    result.ok += 1
                else:
                    result.errors += 1
                    if len(result.error_samples) < 5:
                        result.error_samples.append(error)

    workers = [threading.Thread(target=worker, args=(c,)) for c in connections]
    for thread in workers:
        thread.start()
    began = time.perf_counter()
    deadline[0] = began + time_limit
    start.wait()
    for thread in workers:
        thread.join()
    result.elapsed = time.perf_counter() - began
    for connection in connections:
        connection.close()
    return result


class _WithoutMetricBlobs(io.TextIOBase):
    """stdout without the functions' EMF metric lines: with POWERTOOLS_METRICS_DISABLED (local mode)
    powertools never clears its metric set, so it prints one every 100 data points."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.dropping = False

    def write(self, text: str) -> int:
        if text.startswith('{"_aws"') or (self.dropping and text == "\n"):
            self.dropping = text != "\n"
            return len(text)
        self.dropping = False
        return int(self.out.write(text))

    def flush(self) -> None:
        self.out.flush()


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def _stored_interactions(table: str) -> int:
    import boto3

    client = boto3.client("dynamodb")
    total = 0
    for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT", ConsistentRead=True):
        total += int(page["Count"])
    return total


def _counted_by_aggregates(table: str) -> int:
    import boto3

    client = boto3.client("dynamodb")
    total = 0
    pages = client.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="interaction_count", ConsistentRead=True
    )
    for page in pages:
        total += sum(int(item.get("interaction_count", {}).get("N", "0")) for item in page["Items"])
    return total


ABOUT = """\
What this measures: the local stack (real handlers behind the local HTTP adapter, on a moto server) over
loopback. The adapter runs one invocation at a time per function, like ONE Lambda container: more client
threads queue for that container, so requests/s is one container's throughput on moto, not API Gateway +
Lambda (which add containers with concurrency). Clients run in a separate process, one keep-alive
connection per thread. The stream dispatcher is off while measuring (in AWS the consumers run in their
own containers; here they would share the stack's process)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests per concurrency level")
    parser.add_argument("--threads", default="1,4,16", help="concurrency levels (client threads)")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per level, at most")
    parser.add_argument(
        "--drain", action="store_true", help="deliver the stream afterwards, check the aggregates"
    )
    args = parser.parse_args(argv)
    levels = [int(k) for k in args.threads.split(",") if k.strip()]
    print(ABOUT, flush=True)
    with contextlib.redirect_stdout(_WithoutMetricBlobs(sys.stdout)):
        return _run(args.requests, levels, args.time_limit, args.drain)


def _run(requests: int, levels: list[int], time_limit: float, drain: bool) -> int:
    import logging

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    from infra.local.demo import WRITE_KEY
    from infra.local.stack import LocalStack
    from shared.settings import get_settings

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    stack = LocalStack(api_port=0, verbose=False)
    stack.start(background_dispatch=False)
    failed = False
    sent = 0  # distinct events answered 2xx/3xx
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as clients:
            for threads in levels:
                run = f"load-{uuid.uuid4().hex[:8]}"
                result = clients.submit(
                    run_level, stack.api_url, WRITE_KEY, threads, requests, time_limit, run
                ).result(timeout=time_limit + 600)
                sent += result.ok + result.warmup_ok
                errors = result.errors + result.warmup_errors
                failed = failed or errors > 0
                _report(result, errors, time_limit)
        settings = get_settings()
        stored = _stored_interactions(settings.interactions_table)
        lost = stored != sent
        verdict = "OK, none lost or duplicated" if not lost else "MISMATCH"
        print(f"stored interactions: {stored}; distinct events answered 2xx/3xx: {sent} -> {verdict}")
        if drain:
            began = time.perf_counter()
            delivered = stack.drain()
            counted = _counted_by_aggregates(settings.customers_table)
            print(
                f"drained {delivered} stream records and bus messages in "
                f"{time.perf_counter() - began:.1f} s; interactions counted by the aggregates: {counted} "
                f"-> {'OK' if counted == stored else 'MISMATCH'}"
            )
            lost = lost or counted != stored
        failed = failed or lost
    finally:
        stack.stop()
    print(f"errors: {'none' if not failed else 'SOME (see above)'}", flush=True)
    return 1 if failed else 0


def _report(result: LevelResult, errors: int, time_limit: float) -> None:
    latencies = sorted(result.latencies_ms)
    rate = len(latencies) / result.elapsed if result.elapsed else math.nan
    bound = f" (stopped at the {time_limit:.0f} s bound)" if result.stopped_by_time else ""
    print(
        f"K={result.threads:>2}: {len(latencies)} requests, {errors} errors, {result.elapsed:.1f} s, "
        f"{rate:.0f} req/s, latency ms p50 {percentile(latencies, 0.50):.1f} "
        f"p95 {percentile(latencies, 0.95):.1f} p99 {percentile(latencies, 0.99):.1f} "
        f"max {latencies[-1] if latencies else math.nan:.1f}{bound}"
    )
    warmup = result.warmup_ok + result.warmup_errors
    print(f"      routes {dict(sorted(result.by_route.items()))}; +{warmup} warm-up requests (not timed)")
    for sample in result.error_samples:
        print(f"      error: {sample}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
