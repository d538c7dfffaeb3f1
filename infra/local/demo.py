"""The scripted demo: drive the local stack end to end through its HTTP API and print what happened."""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib import error, parse, request

from infra.local.stack import LocalStack

CDNOW_SAMPLE = Path(__file__).resolve().parents[2] / "tests" / "data" / "CDNOW_sample.txt"
WRITE_KEY = "local-write-key"


class Client:
    """A tiny HTTP client for the local API (standard library only)."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.write_auth = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: dict[str, str] | None = None,
        private: bool = False,
    ) -> tuple[int, Any, dict[str, str]]:
        headers = {"Authorization": self.write_auth}
        data: bytes | None = None
        if form is not None:
            data = parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if private:
            headers["x-api-key"] = self.api_key
        req = request.Request(self.base_url + path, data=data, method=method, headers=headers)
        opener = request.build_opener(_NoRedirect)
        try:
            with opener.open(req, timeout=60) as response:
                raw = response.read()
                status, response_headers = response.status, dict(response.headers)
        except error.HTTPError as exc:
            raw, status, response_headers = exc.read(), exc.code, dict(exc.headers)
        content_type = response_headers.get("Content-Type", "")
        payload: Any = json.loads(raw) if raw and "json" in content_type else raw.decode(errors="replace")
        return status, payload, response_headers


class _NoRedirect(request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def cdnow_orders(limit_customers: int) -> list[dict[str, Any]]:
    """Order Completed calls for the first ``limit_customers`` customers of the CDNOW 1/10 sample."""
    by_customer: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for line in CDNOW_SAMPLE.read_text().splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        customer, date, amount = fields[0], fields[2], float(fields[4])
        if customer not in by_customer and len(by_customer) >= limit_customers:
            continue
        by_customer[customer].append((date, amount))
    calls: list[dict[str, Any]] = []
    for customer, orders in by_customer.items():
        for number, (date, amount) in enumerate(orders):
            when = datetime.strptime(date, "%Y%m%d").replace(hour=12, tzinfo=UTC)
            calls.append(
                {
                    "type": "track",
                    "userId": f"cdnow-{customer}",
                    "event": "Order Completed",
                    "timestamp": when.isoformat(),
                    "properties": {
                        "order_id": f"cdnow-{customer}-{number}",
                        "total": amount,
                        "currency": "USD",
                    },
                }
            )
    return calls


def run_demo(stack: LocalStack, customers: int = 300) -> int:
    client = Client(stack.api_url, stack.api_key)
    started = time.perf_counter()
    print(f"Local stack up: API {stack.api_url}, moto {stack.moto_url}")

    status, body, headers = client.call(
        "POST",
        "/v1/forms/newsletter",
        form={
            "email": "Ann.Example@Example.com",
            "first_name": "Ann",
            "consent_email": "on",
            "redirect": f"{stack.api_url}/thanks",
        },
    )
    print(f"1. newsletter form (form-encoded) -> {status} {headers.get('Location', '')}")

    calls = cdnow_orders(customers)
    stored = duplicates = 0
    for start in range(0, len(calls), 100):
        status, body, _ = client.call("POST", "/v1/batch", {"batch": calls[start : start + 100]})
        if status != 200:
            print(f"   batch failed: {status} {body}")
            return 1
        stored += body["stored"]
        duplicates += body["duplicates"]
    print(
        f"2. replayed {len(calls)} CDNOW orders of {customers} customers through /v1/batch: stored {stored}"
    )
    status, body, _ = client.call("POST", "/v1/batch", {"batch": calls[:100]})
    print(f"   the first 100 again: stored {body['stored']}, duplicates {body['duplicates']} (exactly once)")
    status, body, _ = client.call(
        "POST",
        "/v1/track",
        {"userId": "u1", "event": "Order Completed", "properties": {"order_id": "x", "total": -5}},
    )
    print(f"   a negative order total -> {status}: {body['message']}")

    delivered = stack.drain()
    print(f"3. dispatcher delivered {delivered} stream records and bus messages to the real handlers")
    status, profile, _ = client.call(
        "GET", "/v1/customers/" + _customer_of(client, calls[0]["userId"]), private=True
    )
    aggregates = profile["aggregates"]
    print(
        f"   customer {calls[0]['userId']}: {aggregates['purchase_count']} purchases, "
        f"{aggregates['total_spent']} USD, last purchase {aggregates['last_purchase_date']}"
    )
    print(f"Demo finished in {time.perf_counter() - started:.1f} s")
    return 0


def _customer_of(client: Client, user_id: str) -> str:
    _, body, _ = client.call(
        "POST", "/v1/identify", {"userId": user_id, "messageId": f"demo-identify-{user_id}"}
    )
    return str(body["customer_id"])
