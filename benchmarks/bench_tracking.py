"""Tracking benchmark: write units per interaction, handler CPU per event, cold import time.

1. Write units: a mixed stream of interactions (page views, clicks, purchases, identifies, form posts) goes
   through the real tracking handler and the real stream consumer on the local stack (moto server). Every
   DynamoDB write request is counted through a botocore hook, and its write units are computed from the
   size of the item written (1 WCU per started KB; an UpdateItem is charged on the larger of the item
   before and after, which we take from the final item: items only grow here).
2. Handler CPU: warm ``functions.track.handler.handler`` on ``POST /v1/track`` with the data access
   replaced by in-memory stand-ins (no AWS call, no network): process CPU time per event.
3. Cold import: ``import functions.track.handler`` in a fresh interpreter, as a ratio to ``import boto3``
   (interpreter start-up subtracted), minimum of several runs.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any


def _item_size(item: dict[str, Any]) -> int:
    """DynamoDB item size: attribute names plus values (approximation of the documented rule)."""

    def value_size(value: dict[str, Any]) -> int:
        kind, raw = next(iter(value.items()))
        if kind in ("S", "B"):
            return len(str(raw).encode())
        if kind == "N":
            return 1 + math.ceil(len(str(raw).strip("-").replace(".", "")) / 2)
        if kind in ("SS", "NS", "BS"):
            return sum(len(str(v).encode()) for v in raw)
        if kind == "M":
            return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
        if kind == "L":
            return 3 + sum(value_size(v) + 1 for v in raw)
        return 1

    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def measure_write_units(events: int) -> None:
    from infra.local.demo import Client
    from infra.local.stack import LocalStack
    from shared.settings import get_settings

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with LocalStack(api_port=0, verbose=False) as stack:
        assert stack.dispatcher is not None
        stack.dispatcher.stop()
        import boto3

        client = Client(stack.api_url, stack.api_key)
        writes: Counter[str] = Counter()
        written_keys: list[tuple[str, dict[str, Any]]] = []
        # Items written in transactions (a new customer's profile and aliases): 2 WCU per started KB each.
        transactional_keys: list[tuple[str, dict[str, Any]]] = []

        def count(params: dict[str, Any], model: Any, **_: Any) -> None:
            name = model.name
            if name in ("PutItem", "UpdateItem", "DeleteItem"):
                writes[params["TableName"]] += 1
                written_keys.append((params["TableName"], params.get("Key") or _key_of(params)))
            elif name == "BatchWriteItem":
                for table, requests in params["RequestItems"].items():
                    writes[table] += len(requests)
                    for request in requests:
                        put = request.get("PutRequest")
                        if put:
                            written_keys.append((table, _key_of({"TableName": table, "Item": put["Item"]})))
            elif name == "TransactWriteItems":
                for entry in params["TransactItems"]:
                    (operation,) = entry.values()
                    writes[operation["TableName"]] += 1
                    transactional_keys.append(
                        (operation["TableName"], operation.get("Key") or _key_of(operation))
                    )

        from pynamodb.connection.base import Connection

        hooked: list[Any] = []

        original_client = Connection.client.fget  # type: ignore[attr-defined]

        def client_with_hook(self: Any) -> Any:
            botocore_client = original_client(self)
            if id(botocore_client) not in hooked:
                botocore_client.meta.events.register("provide-client-params.dynamodb.*", count)
                hooked.append(id(botocore_client))
            return botocore_client

        Connection.client = property(client_with_hook)  # type: ignore[assignment, method-assign]
        try:
            calls = _mixed_calls(events)
            started = time.perf_counter()
            for start in range(0, len(calls), 100):
                status, body, _ = client.call("POST", "/v1/batch", {"batch": calls[start : start + 100]})
                assert status == 200, body
            forms = events // 20
            for i in range(forms):
                client.call(
                    "POST", "/v1/forms/newsletter", form={"email": f"bench{i}@example.com", "first_name": "B"}
                )
            stack.drain()
            elapsed = time.perf_counter() - started
        finally:
            Connection.client = property(original_client)  # type: ignore[assignment, method-assign]
        total_interactions = len(calls) + forms
        dynamodb = boto3.client("dynamodb")
        units = 0
        max_size = 0
        for keys, factor in ((written_keys, 1), (transactional_keys, 2)):
            for table, key in keys:
                item = dynamodb.get_item(TableName=table, Key=key).get("Item")
                size = _item_size(item) if item else 1
                max_size = max(max_size, size)
                units += factor * max(1, math.ceil(size / 1024))
        settings = get_settings()
        tracking_tables = {settings.interactions_table, settings.customers_table, settings.identities_table}
        tracking_writes = sum(n for table, n in writes.items() if table in tracking_tables)
        print(
            f"interactions tracked:            {total_interactions} ({forms} form posts) in {elapsed:.1f} s"
        )
        print(f"DynamoDB write requests by table: {dict(writes)}")
        print(
            f"tracking writes per interaction: {tracking_writes / total_interactions:.2f} "
            "all-in (interactions,"
        )
        print("                                 customers incl. stream aggregates, identities)")
        print(f"all writes per interaction:      {sum(writes.values()) / total_interactions:.2f} (+ campaign")
        print("                                 decisions and email idempotency records downstream)")
        print(
            f"write units per write:           1, 2 in a transaction (largest item written {max_size} B); "
            f"total {units} WCU, {units / total_interactions:.2f} per interaction"
        )
        print(
            f"writes in transactions:          {len(transactional_keys)} (new customers: profiles, aliases)"
        )


def _key_of(params: dict[str, Any]) -> dict[str, Any]:
    from shared.dal.models import table_specs

    spec = next(s for s in table_specs() if s.table_name == params["TableName"])
    names = [spec.partition_key.name] + ([spec.sort_key.name] if spec.sort_key else [])
    return {name: params["Item"][name] for name in names}


def _mixed_calls(count: int) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for i in range(count):
        user = f"bench-user-{i % 200}"
        kind = i % 10
        if kind < 6:
            calls.append({"type": "page", "userId": user, "messageId": f"p{i}", "name": "Home"})
        elif kind < 8:
            calls.append(
                {"type": "track", "userId": user, "messageId": f"c{i}", "event": "Email Link Clicked"}
            )
        elif kind == 8:
            calls.append(
                {
                    "type": "track",
                    "userId": user,
                    "event": "Order Completed",
                    "properties": {
                        "order_id": f"o{i}",
                        "total": 20 + i % 30,
                        "products": [{"product_id": f"sku{i % 9}"}],
                    },
                }
            )
        else:
            calls.append(
                {"type": "identify", "userId": user, "messageId": f"i{i}", "traits": {"firstName": "Bo"}}
            )
    return calls


def measure_handler_cpu(events: int) -> None:
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from functions.track import handler as track
    from infra.local.lambda_context import LocalContext
    from shared.dal import customers, identities, interactions

    # In-memory stand-ins for the data access: what remains is the handler's own work.
    identities.resolve = lambda aliases: dict.fromkeys(aliases, "c_bench")  # type: ignore[assignment]
    customers.upsert_profile = lambda *a, **k: None  # type: ignore[assignment]
    interactions.put_new = lambda item: True  # type: ignore[assignment]
    auth = "Basic " + base64.b64encode(b"local-write-key:").decode()
    body = json.dumps(
        {"userId": "u1", "event": "Product Viewed", "properties": {"sku": "p-1", "price": 12.5}}
    )
    event = {
        "resource": "/v1/track",
        "path": "/v1/track",
        "httpMethod": "POST",
        "headers": {"authorization": auth, "content-type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"stage": "v1", "requestId": "r", "domainName": "api.example.com"},
        "body": body,
        "isBase64Encoded": False,
    }
    context = LocalContext("track")

    def per_event(request: dict[str, Any], calls: int, label: str) -> None:
        for _ in range(max(1, 200 // calls)):  # warm up
            response = track.handler(request, context)
            assert response["statusCode"] == 200, response
        requests = max(1, events // calls)
        samples: list[float] = []
        for _ in range(5):
            started = time.process_time()
            for _ in range(requests):
                track.handler(request, context)
            samples.append((time.process_time() - started) / (requests * calls) * 1000)
        print(f"{label:<33}{statistics.median(samples):.3f} ms (median of 5 x {requests * calls})")

    per_event(event, 1, "handler CPU per event (warm):")
    # What the SDKs send by default: batches of 100 calls, gzipped by the RudderStack SDK; analytics.js
    # posts text/plain with the write key in the body. Each call of a batch is validated on its own.
    calls = [{"type": "track", **json.loads(body), "messageId": f"m{i}"} for i in range(100)]
    batch_body = json.dumps({"batch": calls}).encode()
    batch = {**event, "resource": "/v1/batch", "path": "/v1/batch", "body": batch_body.decode()}
    per_event(batch, 100, "  in a batch of 100:")
    zipped = base64.b64encode(gzip.compress(batch_body)).decode()
    gzipped = {
        **batch,
        "headers": {**event["headers"], "content-encoding": "gzip"},
        "body": zipped,
        "isBase64Encoded": True,
    }
    per_event(gzipped, 100, "  in a gzip batch of 100:")
    plain = {
        **event,
        "resource": "/v1/t",
        "path": "/v1/t",
        "headers": {"content-type": "text/plain", "origin": "https://www.example.com"},
        "body": json.dumps({**json.loads(body), "writeKey": "local-write-key"}),
    }
    per_event(plain, 1, "  analytics.js text/plain /v1/t:")


def measure_cold_import(runs: int) -> None:
    def best(code: str) -> float:
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
            )
            timings.append(time.perf_counter() - started)
        return min(timings)

    base = best("pass")
    boto3_time = best("import boto3") - base
    handler_time = best("import functions.track.handler") - base
    print(f"cold import of boto3:            {boto3_time * 1000:.0f} ms")
    print(f"cold import of the track handler: {handler_time * 1000:.0f} ms")
    print(f"ratio handler / boto3:           {handler_time / boto3_time:.2f}x (target <= 1.5x)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--cpu-events", type=int, default=2000)
    parser.add_argument("--import-runs", type=int, default=7)
    args = parser.parse_args(argv)
    measure_cold_import(args.import_runs)
    measure_write_units(args.events)
    measure_handler_cpu(args.cpu_events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
