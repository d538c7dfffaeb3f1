"""A scoring run on the local stack (moto server, real handlers, same event flow) for N customers.

1. Seed: N customers' aggregates written into the Customers table (as the stream consumer would have left
   them), 80 % buyers and 20 % prospects, a third of them subscribed to email.
2. Run: ``POST /v1/scoring/runs`` on the private API (admin function; locally every phase runs in that
   request, then the segment exports), timed end to end.
3. Campaigns: the dispatcher delivers the run's SegmentChanged/LeadQualified events (bus -> campaigns
   queue -> campaigns function -> email queue -> email function) until nothing is pending, timed. It runs
   in the background during the run too, as in ``make local`` (``--dispatch-after`` holds it back until
   the run has finished: the worst case for the queue's length).

Prints the time of each step, the requests moto served and the length the campaigns queue reached (the
dispatcher empties it as it fills, so moto's per-message cost does not grow with the run's size).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:
    from infra.local.stack import LocalStack


def seed(customers: int, rng_seed: int = 11) -> None:
    from shared.dal.models import CustomerModel

    rng = np.random.default_rng(rng_seed)
    start = date(2024, 1, 1)
    consent = {"status": "granted", "source": "bench", "changed_at": "2024-01-01T00:00:00+00:00"}
    with CustomerModel.batch_write() as batch:
        for i in tqdm(range(customers), desc="seed", unit="customer", leave=False, disable=None):
            item = CustomerModel(f"bench-{i:07d}", created_at="2024-01-01T00:00:00+00:00")
            item.email = f"bench-{i}@example.com"
            if i % 3 == 0:
                item.consent_email = consent
            if rng.random() < 0.8:
                purchases = int(rng.geometric(0.4))
                days = sorted(
                    {(start + timedelta(days=int(d))).isoformat() for d in rng.integers(0, 700, purchases)}
                )
                item.purchase_days = set(days)
                item.purchase_count = len(days)
                item.total_spent = round(float(rng.gamma(2.0, 30.0)) * len(days), 2)
            else:
                item.eng_page_view = float(rng.poisson(3)) * 2.0**20
            batch.save(item)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--dispatch-after", action="store_true", help="no delivery during the run")
    args = parser.parse_args(argv)

    from infra.local.demo import Client
    from infra.local.stack import LocalStack

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with LocalStack(api_port=0, verbose=False) as stack:
        assert stack.dispatcher is not None
        stack.dispatcher.stop()  # started with the run (or after it): the seed is not an event flow
        began, cpu_began, moto_began = time.perf_counter(), time.process_time(), _moto_cpu(stack)
        seed(args.customers)
        seeded, cpu_seeded, moto_seeded = time.perf_counter(), time.process_time(), _moto_cpu(stack)
        print(
            f"seeded {args.customers} customers in {seeded - began:.1f} s "
            f"({cpu_seeded - cpu_began:.1f} s CPU, {moto_seeded - moto_began:.1f} s in moto)"
        )

        client = Client(stack.api_url, stack.api_key, timeout=3600)
        longest = [0]
        watching = threading.Event()

        def watch() -> None:  # the campaigns queue's length, twice a second
            while not watching.wait(0.5):
                longest[0] = max(longest[0], _queue_length(stack, "CampaignsQueue"))

        threading.Thread(target=watch, daemon=True).start()
        if not args.dispatch_after:
            stack.dispatcher.start()
        before = _requests_served(stack)
        status, run, _ = client.call(
            "POST", "/v1/scoring/runs", {"as_of": "2025-12-01", "segments": args.segments}, private=True
        )
        scored, cpu_scored, moto_scored = time.perf_counter(), time.process_time(), _moto_cpu(stack)
        if status != 202 or run.get("status") != "succeeded":
            print(f"scoring run failed: {status} {run}")
            return 1
        summary = run["summary"]
        print(
            f"scoring run (API request: phases + exports): {scored - seeded:.1f} s "
            f"({cpu_scored - cpu_seeded:.1f} s CPU, {moto_scored - moto_seeded:.1f} s in moto) — "
            f"{summary['customers_scored']} customers, {summary['scores_written']} scores written, "
            f"{summary['events_published']} events published; {_requests_served(stack) - before} AWS requests"
        )
        before = _requests_served(stack)

        stack.dispatcher.stop()
        with tqdm(desc="campaigns", unit="record", leave=False, disable=None) as bar:
            delivered = stack.dispatcher.drain(progress=bar.update)
        drained, cpu_drained, moto_drained = time.perf_counter(), time.process_time(), _moto_cpu(stack)
        watching.set()
        print(
            f"campaigns and emails still pending after the run: {drained - scored:.1f} s "
            f"({cpu_drained - cpu_scored:.1f} s CPU, {moto_drained - moto_scored:.1f} s in moto) — "
            f"{delivered} records and "
            f"messages delivered, {_requests_served(stack) - before} AWS requests, campaigns queue at most "
            f"{longest[0]} messages long"
        )
        print(
            f"scoring run until everything it set off was delivered: {drained - seeded:.1f} s "
            f"({cpu_drained - cpu_seeded:.1f} s CPU, {moto_drained - moto_seeded:.1f} s in moto)"
        )
    return 0


def _queue_length(stack: LocalStack, name: str) -> int:
    """Messages in the queue, visible or in flight (SQS's approximate counts, exact on moto)."""
    import boto3

    from shared.settings import get_settings

    sqs = boto3.client("sqs", region_name=get_settings().region)
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    counts = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in counts.values())


def _moto_cpu(stack: LocalStack) -> float:
    assert stack.moto is not None
    return stack.moto.cpu_seconds()


def request_counts(stack: LocalStack) -> dict[str, int]:
    """Requests moto has served so far, by operation (running totals kept by the moto process)."""
    assert stack.moto is not None
    return dict(stack.moto.request_counts()["requests"])


def _requests_served(stack: LocalStack) -> int:
    return sum(request_counts(stack).values())


if __name__ == "__main__":
    sys.exit(main())
