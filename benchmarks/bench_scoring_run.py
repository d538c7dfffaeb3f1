"""A full scoring run on moto for N synthetic customers (default 100,000), with its DynamoDB request counts.

The customers' aggregates are written straight into the Customers table (as the stream consumer would
have left them); then every phase of the run executes in this process, as in local mode: summarise each
scan segment, fit, apply (write changed scores, publish events), finish. A second run on unchanged data
shows that only changed scores are written. moto runs in-process (``mock_aws``), so the times measure our
code plus moto, not DynamoDB.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np


def _seed(customers: int, seed: int) -> None:
    from shared.dal.models import CustomerModel

    rng = np.random.default_rng(seed)
    start = date(2024, 1, 1)
    with CustomerModel.batch_write() as batch:
        for i in range(customers):
            item = CustomerModel(f"bench-{i:07d}", created_at="2024-01-01T00:00:00+00:00")
            if rng.random() < 0.8:  # 80 % customers, 20 % prospects
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
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--segments", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1"}
    )
    from moto import mock_aws

    with mock_aws():
        from infra.local.resources import create_all
        from infra.local.stack import reset_clients

        reset_clients()
        from pynamodb.connection.base import Connection

        from shared.services import scoring
        from shared.settings import get_settings

        create_all(get_settings())
        began = time.perf_counter()
        _seed(args.customers, args.seed)
        print(f"seeded {args.customers} customers in {time.perf_counter() - began:.1f} s")

        requests: Counter[str] = Counter()

        def count(params: dict[str, Any], model: Any, **_: Any) -> None:
            requests[model.name] += 1
            if model.name == "BatchWriteItem":
                requests["items written (batch)"] += sum(len(v) for v in params["RequestItems"].values())
            if model.name == "BatchGetItem":
                requests["keys read (batch get)"] += sum(
                    len(v["Keys"]) for v in params["RequestItems"].values()
                )

        def count_items(parsed: dict[str, Any], model: Any, **_: Any) -> None:
            if model.name == "Scan":
                requests["items scanned"] += int(parsed.get("Count", 0))

        original = Connection.client.fget  # type: ignore[attr-defined]
        hooked: set[int] = set()

        def client_with_hooks(self: Any) -> Any:
            client = original(self)
            if id(client) not in hooked:
                client.meta.events.register("provide-client-params.dynamodb.*", count)
                client.meta.events.register("after-call.dynamodb.*", count_items)
                hooked.add(id(client))
            return client

        Connection.client = property(client_with_hooks)  # type: ignore[assignment, method-assign]
        for attempt in ("first run", "second run, nothing changed"):
            requests.clear()
            started = time.perf_counter()
            result = scoring.run_in_process(date(2025, 12, 1), args.segments)
            elapsed = time.perf_counter() - started
            print(f"{attempt}: {result['customers_scored']} customers in {elapsed:.1f} s")
            for name, value in sorted(requests.items()):
                print(f"  {name:<24} {value:>10}")
        Connection.client = property(original)  # type: ignore[assignment, method-assign]
    return 0


if __name__ == "__main__":
    sys.exit(main())
