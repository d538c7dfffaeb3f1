"""Capacity and cost model: measured unit counts times AWS's published prices.

``python -m benchmarks cost --customers 10M --interactions-per-month 100M`` prints the monthly cost by
service and the time of a scoring run; ``--table`` prints the README table (100 k, 1 M and 10 M customers,
10 interactions per customer per month); ``--measure`` measures the unit counts again on the local stack
and rewrites ``benchmarks/cost_units.json`` (the figures the model uses; kept in the repository so the
table is reproducible).

What is measured (``--measure``, moto server + real handlers, requests counted at the server):

- per interaction: DynamoDB write and read requests (tracking, stream aggregates, campaign decisions), bus
  events, queue messages, Lambda invocations and CPU milliseconds per function (the handler's thread
  CPU time on this machine);
- per customer of a scoring run: items scanned (summarise and apply each scan the Customers table), score
  reads, S3 bytes written (per-segment summaries and the segment CSV exports), CPU milliseconds of the
  score and export functions.

What is assumed (stated in the output): every interaction is one API request (browsers send calls one by
one); a DynamoDB/EventBridge/S3 request takes ``--aws-latency-ms`` (8 ms) of billed Lambda time on top of
the measured CPU; items are under 1 KB (1 write unit; the tracking benchmark measures the largest item);
``--changed-share`` (10 %) of customers get new scores per daily run; one email per customer per month;
``--log-bytes`` (700 B) of CloudWatch Logs per invocation. A Lambda vCPU is taken as fast as this
machine's core for the CPU-bound scoring maths (arm64 Graviton at 2048 MB: about 1.15 vCPU).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infra.local.moto_process import MotoProcess

UNITS_FILE = Path(__file__).with_name("cost_units.json")

# AWS list prices, us-east-1, USD, as published on the pages below (read on PRICES_DATE; check them before
# budgeting: prices change and differ per region).
PRICES_DATE = "2026-11-29"
PRICES: dict[str, tuple[float, str, str]] = {
    # name: (USD, unit, source)
    "lambda_request": (0.20 / 1e6, "request", "https://aws.amazon.com/lambda/pricing/"),
    "lambda_gb_second_arm": (0.0000133334, "GB-second (arm64)", "https://aws.amazon.com/lambda/pricing/"),
    "apigw_rest_request": (3.50 / 1e6, "REST API request", "https://aws.amazon.com/api-gateway/pricing/"),
    "ddb_write_unit": (
        0.625 / 1e6,
        "on-demand write request unit",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "ddb_read_unit": (
        0.125 / 1e6,
        "on-demand read request unit",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "ddb_storage_gb": (0.25, "GB-month stored", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "ddb_pitr_gb": (
        0.20,
        "GB-month (point-in-time recovery)",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    "eventbridge_event": (1.00 / 1e6, "custom event", "https://aws.amazon.com/eventbridge/pricing/"),
    "sqs_request": (0.40 / 1e6, "standard queue request", "https://aws.amazon.com/sqs/pricing/"),
    "sfn_transition": (
        0.025 / 1000,
        "standard state transition",
        "https://aws.amazon.com/step-functions/pricing/",
    ),
    "s3_gb": (0.023, "GB-month (S3 Standard)", "https://aws.amazon.com/s3/pricing/"),
    "s3_put": (0.005 / 1000, "PUT request", "https://aws.amazon.com/s3/pricing/"),
    "ses_email": (0.10 / 1000, "email", "https://aws.amazon.com/ses/pricing/"),
    "logs_gb": (0.50, "GB ingested (CloudWatch Logs)", "https://aws.amazon.com/cloudwatch/pricing/"),
}
# Memory per function (infra/constructs): MB.
MEMORY_MB = {"track": 256, "aggregate": 512, "campaigns": 512, "email": 256, "score": 2048, "export": 512}
MAP_CONCURRENCY = 10  # infra.config.StageConfig.scoring_max_concurrency
DEFAULT_SEGMENTS = 4  # shared.services.scoring.DEFAULT_SEGMENTS (the scheduled run's segments)
SEGMENT_BUDGET_SECONDS = 600  # keep a phase invocation well under Lambda's 15-minute limit
RUNS_PER_MONTH = 30  # daily schedule
INTERACTION_RETENTION_MONTHS = 13  # interaction_ttl_days = 395


# -- measuring --------------------------------------------------------------------------------------------


class _Counter:
    """Requests moto served by operation, events put and S3 bytes written since the last :meth:`reset`
    (the moto process counts them: :mod:`infra.local.moto_control`)."""

    def __init__(self, moto: MotoProcess) -> None:
        self.moto = moto
        self.reset()

    def reset(self) -> None:
        self._base = self.moto.request_counts()

    def _since(self) -> dict[str, Any]:
        now = self.moto.request_counts()
        return {
            "requests": Counter(now["requests"]) - Counter(self._base["requests"]),
            "events": now["events"] - self._base["events"],
            "s3_bytes": now["s3_bytes"] - self._base["s3_bytes"],
        }

    @property
    def requests(self) -> Counter[str]:
        requests: Counter[str] = self._since()["requests"]
        return requests

    @property
    def events(self) -> int:
        return int(self._since()["events"])

    @property
    def s3_bytes(self) -> int:
        return int(self._since()["s3_bytes"])


class _HandlerClock:
    """Wraps the local stack's handler loading: invocations and thread CPU time per function."""

    def __init__(self) -> None:
        self.invocations: Counter[str] = Counter()
        self.cpu: Counter[str] = Counter()

    def install(self) -> None:
        from infra.local import dispatcher, http_adapter

        original = dispatcher.load_handler

        def load(function: str) -> Any:
            handler = original(function)

            def timed(event: Any, context: Any) -> Any:
                started = time.thread_time()
                try:
                    return handler(event, context)
                finally:
                    self.invocations[function] += 1
                    self.cpu[function] += time.thread_time() - started

            return timed

        dispatcher.load_handler = load  # type: ignore[assignment]
        http_adapter.load_handler = load  # type: ignore[assignment]


def measure(interactions: int = 400, customers: int = 2000) -> dict[str, Any]:
    from benchmarks.bench_local_scoring import seed
    from benchmarks.bench_tracking import _mixed_calls
    from infra.local.demo import Client
    from infra.local.stack import LocalStack
    from shared.services import exports, scoring

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    clock = _HandlerClock()
    clock.install()
    with LocalStack(api_port=0, verbose=False) as stack:
        assert stack.dispatcher is not None
        assert stack.moto is not None
        stack.dispatcher.stop()
        counter = _Counter(stack.moto)
        client = Client(stack.api_url, stack.api_key)
        calls = _mixed_calls(interactions)
        for call in calls:  # one call per request, as browsers send them
            kind = call.pop("type")
            status, body, _ = client.call("POST", f"/v1/{kind}", call)
            assert status == 200, body
        stack.dispatcher.drain()
        tracking = {
            "events_per_interaction": counter.events / interactions,
            "queue_messages_per_interaction": stack.dispatcher.log.queue_messages / interactions,
            "requests_per_interaction": {k: v / interactions for k, v in counter.requests.items()},
            "invocations_per_interaction": {k: v / interactions for k, v in clock.invocations.items()},
            "cpu_ms_per_invocation": {
                k: 1000 * clock.cpu[k] / clock.invocations[k]
                for k in clock.invocations
                if clock.invocations[k]
            },
        }
        seed(customers)
        counter.reset()
        started = time.thread_time()
        result = scoring.run_in_process(date(2025, 12, 1), DEFAULT_SEGMENTS)
        score_cpu = time.thread_time() - started
        score_requests = dict(counter.requests)
        run_events = counter.events
        score_s3_bytes = counter.s3_bytes
        counter.reset()
        started = time.thread_time()
        exports.export_scoring_run(result["run_id"])
        export_cpu = time.thread_time() - started
        scoring_units = {
            "customers": customers,
            "score_cpu_ms_per_customer": 1000 * score_cpu / customers,
            "export_cpu_ms_per_customer": 1000 * export_cpu / customers,
            "requests_per_customer": {k: v / customers for k, v in score_requests.items()},
            "export_requests_per_customer": {k: v / customers for k, v in counter.requests.items()},
            "s3_bytes_per_customer": (score_s3_bytes + counter.s3_bytes) / customers,
            "events_per_customer_first_run": run_events / customers,
        }
    return {
        "measured_on": datetime.now(UTC).date().isoformat(),
        "how": f"python -m benchmarks cost --measure ({interactions} interactions, {customers} customers)",
        "tracking": tracking,
        "scoring": scoring_units,
    }


# -- the model ----------------------------------------------------------------------------------------------


@dataclass
class Estimate:
    monthly_usd: dict[str, float]
    run_seconds: float
    segments: int
    notes: list[str]

    @property
    def total(self) -> float:
        return sum(self.monthly_usd.values())


_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem")
_READS = ("GetItem", "Query", "Scan", "BatchGetItem")


def estimate(
    units: dict[str, Any],
    customers: float,
    interactions: float,
    *,
    aws_latency_ms: float = 8.0,
    changed_share: float = 0.10,
    emails_per_customer: float = 1.0,
    log_bytes: float = 700.0,
    item_bytes: float = 600.0,
) -> Estimate:
    price = {name: value for name, (value, _, _) in PRICES.items()}
    tracking, scoring = units["tracking"], units["scoring"]
    per = tracking["requests_per_interaction"]
    cost: dict[str, float] = {}
    # Tracking path: API Gateway + the functions it sets off (track, aggregate, campaigns, email).
    cost["API Gateway"] = interactions * price["apigw_rest_request"]
    writes = sum(per.get(op, 0.0) for op in _WRITES) * interactions
    reads = sum(per.get(op, 0.0) for op in _READS) * interactions
    aws_calls = sum(per.values())
    lambda_gb_s = 0.0
    invocations = 0.0
    for function, count in tracking["invocations_per_interaction"].items():
        calls = count * interactions
        cpu_ms = tracking["cpu_ms_per_invocation"][function]
        # AWS requests made by this function: shared out by its share of the invocations (approximation).
        latency_ms = (
            aws_latency_ms * aws_calls / max(1e-9, sum(tracking["invocations_per_interaction"].values()))
        )
        seconds = (cpu_ms + latency_ms) / 1000
        lambda_gb_s += calls * seconds * MEMORY_MB.get(function, 256) / 1024
        invocations += calls
    events = tracking["events_per_interaction"] * interactions
    # Each queued message: EventBridge's SendMessage, then the event source mapping's receive and delete
    # (batches of 10); long-polling while idle is a few hundred thousand requests a month per queue.
    sqs = tracking["queue_messages_per_interaction"] * interactions * 1.2 + 2 * 650_000
    # Scoring: RUNS_PER_MONTH runs over every customer.
    run_reads_units = customers * (
        2 * item_bytes / 4096 / 2 + 0.5
    )  # two scans (eventually consistent) + score reads
    run_writes = customers * changed_share
    run_events = customers * changed_share
    per_customer_ms = scoring["score_cpu_ms_per_customer"] + scoring["export_cpu_ms_per_customer"]
    io_ms = (
        2 * 0.02 + 0.1 + changed_share * 0.6
    )  # scan pages, BatchGet of 100, BatchWrite of 25 (ms per customer)
    run_cpu_seconds = customers * (per_customer_ms + io_ms) / 1000
    # A phase invocation handles customers / segments customers, about half of the per-customer time (the
    # measured CPU covers both phases): enough segments to keep it under the budget, filling whole waves.
    segments = max(DEFAULT_SEGMENTS, math.ceil(run_cpu_seconds / 2 / SEGMENT_BUDGET_SECONDS))
    if segments > DEFAULT_SEGMENTS:
        segments = math.ceil(segments / MAP_CONCURRENCY) * MAP_CONCURRENCY
    transitions = 12 + 2 * segments * 4
    lambda_gb_s += RUNS_PER_MONTH * run_cpu_seconds * MEMORY_MB["score"] / 1024
    invocations += RUNS_PER_MONTH * (4 + 2 * segments)
    s3_put_bytes = scoring["s3_bytes_per_customer"] * customers
    cost["Lambda (requests + GB-s)"] = (
        invocations * price["lambda_request"] + lambda_gb_s * price["lambda_gb_second_arm"]
    )
    cost["DynamoDB requests"] = (writes + RUNS_PER_MONTH * run_writes) * price["ddb_write_unit"] + (
        reads * 0.5 + RUNS_PER_MONTH * run_reads_units
    ) * price["ddb_read_unit"]
    stored_gb = (interactions * INTERACTION_RETENTION_MONTHS * 400 + customers * (item_bytes * 2 + 300)) / 1e9
    cost["DynamoDB storage + PITR"] = stored_gb * (price["ddb_storage_gb"] + price["ddb_pitr_gb"])
    cost["EventBridge"] = (events + RUNS_PER_MONTH * run_events) * price["eventbridge_event"]
    cost["SQS"] = (sqs + RUNS_PER_MONTH * run_events * 1.2) * price["sqs_request"]
    cost["Step Functions"] = RUNS_PER_MONTH * transitions * price["sfn_transition"]
    cost["S3 (exports, 30 days)"] = (
        s3_put_bytes * RUNS_PER_MONTH / 1e9 * price["s3_gb"]
        + RUNS_PER_MONTH * (2 * segments + 12) * price["s3_put"]
    )
    cost["SES"] = customers * emails_per_customer * price["ses_email"]
    cost["CloudWatch Logs"] = invocations * log_bytes / 1e9 * price["logs_gb"]
    waves = math.ceil(segments / MAP_CONCURRENCY)
    # Both phases, wave after wave, plus start, fit, finish and Step Functions' own latency (about 20 s).
    run_seconds = waves * (customers / segments) * (per_customer_ms + io_ms) / 1000 + 20
    notes = [
        f"{segments} scan segments (the scheduled run uses {DEFAULT_SEGMENTS}; more are needed when a "
        f"segment would take over {SEGMENT_BUDGET_SECONDS} s)"
        if segments > DEFAULT_SEGMENTS
        else f"{segments} scan segments (the scheduled run's default)",
    ]
    return Estimate(cost, run_seconds, segments, notes)


def parse_count(text: str) -> float:
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMbB]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (e.g. 100k, 10M)")
    scale = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9}[match.group(2).lower()]
    return float(match.group(1)) * scale


def _human(n: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:g}{suffix}"
    return f"{n:g}"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def table(units: dict[str, Any]) -> str:
    lines = [
        "| Customers | Interactions / month | Monthly cost (USD) | Scoring run (Map concurrency "
        f"{MAP_CONCURRENCY}) | Scan segments |",
        "|---:|---:|---:|---:|---:|",
    ]
    for customers in (100_000, 1_000_000, 10_000_000):
        est = estimate(units, customers, customers * 10)
        lines.append(
            f"| {_human(customers)} | {_human(customers * 10)} | {est.total:,.0f} "
            f"| {_duration(est.run_seconds)} | {est.segments} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=parse_count, default=parse_count("10M"))
    parser.add_argument("--interactions-per-month", type=parse_count, default=None)
    parser.add_argument("--changed-share", type=float, default=0.10)
    parser.add_argument("--aws-latency-ms", type=float, default=8.0)
    parser.add_argument("--measure", action="store_true", help="measure the unit counts again (local stack)")
    parser.add_argument("--table", action="store_true", help="print the README table")
    args = parser.parse_args(argv)
    if args.measure:
        UNITS_FILE.write_text(json.dumps(measure(), indent=2, sort_keys=True) + "\n")
        print(f"unit counts written to {UNITS_FILE}")
    units = json.loads(UNITS_FILE.read_text())
    if args.table:
        print(table(units))
        return 0
    interactions = args.interactions_per_month or args.customers * 10
    est = estimate(
        units,
        args.customers,
        interactions,
        changed_share=args.changed_share,
        aws_latency_ms=args.aws_latency_ms,
    )
    print(
        f"{_human(args.customers)} customers, {_human(interactions)} interactions per month "
        f"(units measured {units['measured_on']}; prices us-east-1, {PRICES_DATE})"
    )
    for service, usd in sorted(est.monthly_usd.items(), key=lambda item: -item[1]):
        print(f"  {service:<28}{usd:>12,.2f} USD/month")
    print(f"  {'total':<28}{est.total:>12,.2f} USD/month")
    print(f"scoring run: {_duration(est.run_seconds)} at Map concurrency {MAP_CONCURRENCY}; {est.notes[0]}")
    print("prices:")
    for name, (value, unit, source) in PRICES.items():
        print(f"  {name:<22} {value:.10g} USD per {unit}  ({source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
