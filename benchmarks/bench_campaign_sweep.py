"""The daily campaign sweep (inactivity and date triggers) over N customers on the local stack.

1. Seed: N customers' aggregates (as the stream consumer leaves them): sign-up over the last two years,
   60 % buyers, a third subscribed to email, activity mostly recent (about 0.5 % have been inactive for
   more than a year: the re-permission campaign's daily catch).
2. Sweep: the campaigns function is invoked as the daily rule does (``{"sweep": true}``): it publishes one
   ``CampaignSweepRequested`` per scan segment; the dispatcher delivers them (bus -> campaigns queue ->
   campaigns function), each worker scans its segment page by page within its time budget and hands the
   rest on as a continuation; matched customers are read again and decided, emails sent.
3. Prints the time, the AWS requests by kind, DynamoDB reads per customer (items scanned + items read),
   read request units from the scanned bytes, and the projection for 10 M customers (time with the
   segments in parallel, DynamoDB cost with on-demand prices from ``bench_cost``).

``python -m benchmarks campaign_sweep --customers 100000 --segments 16``
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from tqdm import tqdm

PROJECTED = 10_000_000


def seed(customers: int, now: datetime, rng_seed: int = 18) -> int:
    """Write the customers; returns the total size of their items in bytes (DynamoDB's item size is
    approximated by the JSON size of the attributes)."""
    from shared.dal.models import CustomerModel

    rng = np.random.default_rng(rng_seed)
    # A zone where it is about noon now: matches are decided at once, not deferred by quiet hours.
    offset = 12 - now.hour
    zone = "Etc/GMT" + (f"{-offset:+d}" if offset else "")
    consent = {"status": "granted", "source": "bench", "at": "2024-01-01T00:00:00+00:00"}
    size = 0
    with CustomerModel.batch_write() as batch:
        for i in tqdm(range(customers), desc="seed", unit="customer", leave=False, disable=None):
            created = now - timedelta(days=int(rng.integers(30, 730)))
            idle_days = int(rng.integers(0, 300)) if rng.random() > 0.005 else int(rng.integers(366, 700))
            last_seen = max(created, now - timedelta(days=idle_days))
            item = CustomerModel(
                f"sweep-{i:07d}",
                created_at=created.isoformat(),
                first_seen_at=created.isoformat(),
                last_seen_at=last_seen.isoformat(),
                email=f"sweep-{i}@example.com",
                timezone=zone,
            )
            if i % 3 == 0:
                item.consent_email = consent
            if rng.random() < 0.6:
                day = last_seen.date().isoformat()
                item.purchase_days = {created.date().isoformat(), day}
                item.purchase_count = len(item.purchase_days)
                item.total_spent = round(float(rng.gamma(2.0, 30.0)), 2)
            size += len(json.dumps(item.serialize()))
            batch.save(item)
    return size


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--segments", type=int, default=16)
    args = parser.parse_args(argv)

    from benchmarks.bench_cost import PRICES
    from benchmarks.bench_local_scoring import request_counts
    from infra.local.dispatcher import LocalContext, load_handler
    from infra.local.stack import LocalStack
    from shared.services import campaigns

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    now = datetime.now(UTC)
    with LocalStack(api_port=0, verbose=False) as stack:
        assert stack.dispatcher is not None
        stack.dispatcher.stop()
        began = time.perf_counter()
        size = seed(args.customers, now)
        seeded = time.perf_counter()
        print(
            f"seeded {args.customers} customers in {seeded - began:.1f} s "
            f"({size / args.customers:.0f} B each)"
        )
        campaigns.sync_catalogue(now)

        before = request_counts(stack)
        cpu = time.process_time()
        start = time.perf_counter()
        response = load_handler("campaigns")(
            {"sweep": True, "segments": args.segments}, LocalContext("campaigns")
        )
        with tqdm(desc="sweep", unit="record", leave=False, disable=None) as bar:
            delivered = stack.dispatcher.drain(progress=bar.update)
        elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu
        used = {k: v - before.get(k, 0) for k, v in request_counts(stack).items() if v - before.get(k, 0)}
        emails = len(stack.sent_emails())

    def calls(name: str) -> int:
        return used.get(name, 0)

    n = args.customers
    scans, gets, queries = calls("Scan"), calls("GetItem") + calls("BatchGetItem"), calls("Query")
    puts = calls("PutItem") + calls("UpdateItem")
    scan_rru = math.ceil(size / 4096) * 0.5  # a scan is eventually consistent: 0.5 RRU per 4 KB read
    # Matched customers: a strongly consistent profile read, a scores read, a decisions query (1 RRU each).
    other_rru = gets + queries
    rru_per_customer = (scan_rru + other_rru) / n
    wru_per_customer = puts / n
    price_read, price_write = PRICES["ddb_read_unit"][0], PRICES["ddb_write_unit"][0]
    print(
        f"sweep of {n} customers in {args.segments} segments: {elapsed:.1f} s wall ({cpu_used:.1f} s CPU in "
        f"this process), {delivered} records and messages delivered (segments, continuations, "
        f"emails), {emails} emails; "
        f"handler answer {response}"
    )
    print("AWS requests:", ", ".join(f"{k.split('.')[-1]} {v}" for k, v in sorted(used.items())))
    print(
        f"DynamoDB reads per customer: {1 + (gets + queries) / n:.4f} item reads (1 scanned + "
        f"{(gets + queries) / n:.4f} point reads/queries for matches); {scans / n * 1000:.2f} scan pages "
        f"per 1000 customers; {rru_per_customer:.4f} read request units and {wru_per_customer:.4f} write "
        f"units per customer"
    )
    per_customer_s = elapsed / n
    workers = args.segments
    projected_s = per_customer_s * PROJECTED / workers * workers  # one local process ran every segment
    cloud_s = per_customer_s * PROJECTED / workers
    cost = PROJECTED * (rru_per_customer * price_read + wru_per_customer * price_write)
    print(
        f"projection for {PROJECTED:,} customers: {projected_s / 3600:.1f} h of work at this machine's "
        f"speed, {cloud_s / 60:.0f} min with {workers} workers in parallel (each record <= "
        f"{campaigns.SWEEP_BUDGET.total_seconds():.0f} s, continuations chain); DynamoDB about "
        f"${cost:.2f} per daily sweep (on-demand, ${cost * 1e6 / PROJECTED:.2f} per million customers), "
        f"${cost * 30:.0f} a month"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
