"""Integrity under concurrency, as Lambda runs it: the real handlers in four OS processes (the local API
adapter's worker pool, each process one "container" with its own handler instances) against one moto
server, with the stream consumer delivering records while the requests run.

Each round runs four stories at once, each with new people:

- erase while posting: three clients post purchases for a person (each naming a new anonymous id, so
  aliases are linked at the moment of the erasure) while a fourth erases them;
- merge while purchasing: an anonymous visitor and a known customer both purchase while a third request
  says they are the same person;
- the same order from N processes: one order posted by four clients at once, for a known customer and
  for a person seen for the first time;
- erase then return: a person is erased before their stream records are delivered, then comes back.

After each round an invariant scan of every table of :data:`shared.dal.models.ALL_MODELS` checks:
0 lost (every accepted event is stored once under the live survivor of the customer it was accepted
for, and counted there), 0 doubled (no event twice, aggregates equal to the stored interactions),
0 resurrected (nothing anywhere mentions an erased id; nothing accepted for it survives; aliases lead
only to live, unmerged customers; each erased id has its tombstone).
"""

from __future__ import annotations

import functools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import boto3
import pytest

from infra.local.demo import Client
from infra.local.http_adapter import ApiAdapter, make_server
from infra.local.stack import LocalStack
from shared.dal.identities import tombstone_key
from shared.dal.models import ALL_MODELS, CustomerModel, table_specs
from shared.services.tracking import unsubscribe_url
from shared.settings import get_settings
from tests.helpers import unique
from tests.integration.test_consent_everywhere import _subscribed

ROUNDS = 20
PROCESSES = 4
RETRIES = 40


@pytest.fixture(scope="module")
def parallel_api(stack: LocalStack) -> Iterator[Client]:
    """A second API adapter on the same moto server, serving requests in PROCESSES worker processes."""
    adapter = ApiAdapter(stack.api_key, workers=PROCESSES)
    server = make_server(adapter, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = Client(f"http://127.0.0.1:{server.server_address[1]}", stack.api_key)
    # Warm every worker (each imports the handlers once, as a cold start).
    with ThreadPoolExecutor(PROCESSES * 2) as pool:
        list(
            pool.map(lambda _: client.call("GET", "/v1/customers/c_none", private=True), range(PROCESSES * 2))
        )
    yield client
    server.shutdown()
    server.server_close()
    adapter.close()


@dataclass
class Ledger:
    """What the clients were told: events accepted (for which customer id), ids erased."""

    prefix: str
    accepted: dict[str, str] = field(default_factory=dict)  # event id -> customer id in the answer
    erased: set[str] = field(default_factory=set)
    busy_answers: int = 0  # 503s met (a request that met an erasure or merge half-way), then retried
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accept(self, event_id: str, customer_id: str) -> None:
        with self.lock:
            self.accepted[event_id] = customer_id


def _post(client: Client, ledger: Ledger, path: str, call: dict[str, Any], event_id: str | None) -> str:
    """Post until accepted (a 503 means: retry the same request), as a Segment client does."""
    for _ in range(RETRIES):
        status, body, _ = client.call("POST", path, call)
        if status == 200:
            if event_id is not None:
                ledger.accept(event_id, body["customer_id"])
            return str(body["customer_id"])
        assert status == 503, (status, body)
        with ledger.lock:
            ledger.busy_answers += 1
        time.sleep(0.02)
    raise AssertionError(f"{path} was not accepted after {RETRIES} attempts")


def _order(ledger: Ledger, order: str, amount: int, **who: str) -> tuple[dict[str, Any], str]:
    order_id = f"{ledger.prefix}-{order}"
    call = {"event": "Order Completed", "properties": {"order_id": order_id, "total": amount}, **who}
    return call, f"order:{order_id}"


def _purchases(
    client: Client, ledger: Ledger, name: str, count: int, new_alias: bool = False, **who: str
) -> None:
    """``new_alias``: each purchase also names a new anonymous id, so each links an alias."""
    for number in range(count):
        extra = {"anonymousId": f"{ledger.prefix}-{name}-anon-{number}"} if new_alias else {}
        call, event_id = _order(ledger, f"{name}-{number}", 10 + number, **who, **extra)
        _post(client, ledger, "/v1/track", call, event_id)


def _identify(client: Client, ledger: Ledger, **who: Any) -> str:
    return _post(client, ledger, "/v1/identify", who, None)


def _erase(client: Client, ledger: Ledger, customer_id: str) -> None:
    for _ in range(RETRIES):
        status, body, _ = client.call("DELETE", f"/v1/customers/{customer_id}", private=True)
        if status == 200:
            with ledger.lock:
                ledger.erased.add(customer_id)
            return
        assert status == 503, (status, body)
        time.sleep(0.02)
    raise AssertionError("the erasure was not accepted")


def _together(*tasks: Callable[[], Any]) -> None:
    """Run the tasks at the same moment (a barrier), each on its own client thread."""
    barrier = threading.Barrier(len(tasks))

    def run(task: Callable[[], Any]) -> Any:
        barrier.wait()
        return task()

    with ThreadPoolExecutor(len(tasks)) as pool:
        for future in [pool.submit(run, task) for task in tasks]:
            future.result()


# --- the four stories --------------------------------------------------------------------------------


def erase_while_posting(client: Client, ledger: Ledger) -> None:
    user = f"{ledger.prefix}-ewp"
    customer_id = _identify(client, ledger, userId=user, traits={"email": f"{user}@example.com"})
    _purchases(client, ledger, "ewp-before", 2, userId=user)

    def erase() -> None:
        time.sleep(random.uniform(0, 0.3))
        _erase(client, ledger, customer_id)

    _together(
        # Each purchase links a new alias at the moment of the erasure: none may survive it.
        *(lambda n=n: _purchases(client, ledger, f"ewp-during-{n}", 3, True, userId=user) for n in range(3)),
        erase,
    )


def merge_while_purchasing(client: Client, ledger: Ledger) -> None:
    anonymous, user = f"{ledger.prefix}-anon", f"{ledger.prefix}-known"
    _post(client, ledger, "/v1/page", {"anonymousId": anonymous, "name": "Home"}, None)
    _identify(client, ledger, userId=user)

    def merge() -> None:
        time.sleep(random.uniform(0, 0.2))
        _identify(client, ledger, userId=user, anonymousId=anonymous)

    _together(
        lambda: _purchases(client, ledger, "mwp-anon", 4, anonymousId=anonymous),
        lambda: _purchases(client, ledger, "mwp-known", 4, userId=user),
        merge,
    )


def same_order_from_n_processes(client: Client, ledger: Ledger) -> None:
    known = f"{ledger.prefix}-same"
    _identify(client, ledger, userId=known)
    for who in ({"userId": known}, {"userId": f"{ledger.prefix}-first"}):
        call, event_id = _order(ledger, f"same-{next(iter(who.values()))}", 99, **who)
        post = functools.partial(_post, client, ledger, "/v1/track", call, event_id)
        _together(*(post for _ in range(PROCESSES)))


def erase_then_return(stack: LocalStack, client: Client, ledger: Ledger) -> None:
    user = f"{ledger.prefix}-etr"
    customer_id = _identify(client, ledger, userId=user)
    _purchases(client, ledger, "etr-before", 3, userId=user)
    _erase(client, ledger, customer_id)  # the stream consumer may not have seen the purchases yet
    _together(*(lambda n=n: _purchases(client, ledger, f"etr-after-{n}", 2, userId=user) for n in range(2)))


# --- the invariant scan --------------------------------------------------------------------------------


def _scan_all() -> dict[str, list[dict[str, Any]]]:
    specs = table_specs()
    assert {s.table_name for s in specs} == {m.Meta.table_name for m in ALL_MODELS}
    client = boto3.client("dynamodb", region_name=get_settings().region)
    tables: dict[str, list[dict[str, Any]]] = {}
    for spec in specs:
        items: list[dict[str, Any]] = []
        for page in client.get_paginator("scan").paginate(TableName=spec.table_name, ConsistentRead=True):
            items += page["Items"]
        tables[spec.logical_name] = items
    return tables


def _s(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value.get("S") if value else None


def _n(item: dict[str, Any], name: str) -> Decimal:
    value = item.get(name)
    return Decimal(value["N"]) if value else Decimal(0)


def check_invariants(ledger: Ledger) -> dict[str, int]:
    tables = _scan_all()
    text = {name: [json.dumps(item, sort_keys=True) for item in items] for name, items in tables.items()}
    # --- resurrected: nothing anywhere mentions an erased id; each has its tombstone ---------------------
    resurrected = [
        (name, line[:200])
        for name, lines in text.items()
        for line in lines
        if any(erased in line for erased in ledger.erased)
    ]
    aliases = {_s(item, "alias"): _s(item, "customer_id") for item in tables["Identities"]}
    assert all(tombstone_key(erased) in aliases for erased in ledger.erased)

    customers = {_s(item, "customer_id"): item for item in tables["Customers"]}
    ours = {cid for cid, line in zip(customers, text["Customers"], strict=True) if ledger.prefix in line}

    def final(customer_id: str) -> str | None:
        """The live survivor an id leads to (None: it, or a profile it was merged into, is gone)."""
        seen: set[str] = set()
        current: str | None = customer_id
        while current is not None and current not in seen:
            seen.add(current)
            item = customers.get(current)
            if item is None or "erasing_at" in item:
                return None
            into = _s(item, "merged_into")
            if into is None:
                return current
            current = into
        return None

    # The round's interactions: its events (ids carry the prefix) and anything stored for its customers.
    related = ours | set(ledger.accepted.values()) | ledger.erased
    interactions: dict[str, list[dict[str, Any]]] = {}
    for item in tables["Interactions"]:
        event_id = _s(item, "event_id") or ""
        if ledger.prefix in json.dumps(item) or _s(item, "customer_id") in related:
            interactions.setdefault(event_id, []).append(item)
    lost, doubled = [], []
    for event_id, customer_id in ledger.accepted.items():
        survivor = None if customer_id in ledger.erased else final(customer_id)
        stored = interactions.get(event_id, [])
        if survivor is None:
            resurrected += [("Interactions", event_id) for _ in stored]
        elif [_s(item, "customer_id") for item in stored] != [survivor]:
            (doubled if len(stored) > 1 else lost).append((event_id, customer_id, survivor, len(stored)))
    # Every stored interaction of the round belongs to a live, unmerged customer (none left on a merged
    # or erased profile), and every live customer's aggregates are exactly its interactions.
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for event_id, stored in interactions.items():
        for item in stored:
            owner = _s(item, "customer_id") or ""
            if final(owner) != owner:
                lost.append((event_id, owner, "left on a merged or erased profile", 1))
            by_customer.setdefault(owner, []).append(item)
    mismatched = []
    for customer_id in ours | set(by_customer):
        if final(customer_id) != customer_id:
            continue
        item, mine = customers[customer_id], by_customer.get(customer_id, [])
        purchases = [i for i in mine if _s(i, "kind") == "purchase"]
        expected = (len(mine), len(purchases), sum((_n(i, "amount") for i in purchases), Decimal(0)))
        actual = (
            int(_n(item, "interaction_count")),
            int(_n(item, "purchase_count")),
            _n(item, "total_spent"),
        )
        if expected != actual:
            mismatched.append((customer_id, expected, actual))
    dangling = [
        (alias, owner)
        for alias, owner in aliases.items()
        if alias and ledger.prefix in alias and (owner is None or final(owner) != owner)
    ]
    assert resurrected == [], f"resurrected: {resurrected}"
    assert lost == [], f"lost: {lost}"
    assert doubled == [], f"doubled: {doubled}"
    assert mismatched == [], f"aggregates differ from the interactions (expected, actual): {mismatched}"
    assert dangling == [], f"aliases leading to no live customer: {dangling}"
    return {
        "accepted": len(ledger.accepted),
        "erased": len(ledger.erased),
        "customers": len(ours),
        "busy_answers": ledger.busy_answers,
        "accepted_for_erased_id": sum(cid in ledger.erased for cid in ledger.accepted.values()),
        "customer_ids_answered": len(set(ledger.accepted.values())),
    }


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_round_loses_doubles_and_resurrects_nothing(
    stack: LocalStack, parallel_api: Client, round_number: int
) -> None:
    ledger = Ledger(prefix=unique(f"cc{round_number}"))
    stop = threading.Event()

    def consume_stream() -> None:  # the stream consumer runs while the requests do
        while not stop.is_set():
            if stack.dispatcher is not None and stack.dispatcher.pump() == 0:
                stop.wait(0.05)

    consumer = threading.Thread(target=consume_stream, daemon=True)
    consumer.start()
    try:
        _together(
            lambda: erase_while_posting(parallel_api, ledger),
            lambda: merge_while_purchasing(parallel_api, ledger),
            lambda: same_order_from_n_processes(parallel_api, ledger),
            lambda: erase_then_return(stack, parallel_api, ledger),
        )
    finally:
        stop.set()
        consumer.join()
    stack.drain()
    figures = check_invariants(ledger)
    assert figures["erased"] == 2
    # 2 + 9 (erase while posting), 8 (merge), 2 (same order), 3 + 4 (erase then return)
    assert figures["accepted"] == 28
    print(f"round {round_number}: {figures}")


# --- consent: an unsubscribe racing the merge that would carry the grant over --------------------------

CONSENT_ROUNDS = 10
UNSUBSCRIBE_STAGGER = 0.08  # seconds: the unsubscribe of round n starts n times this after the merge


def _email_consent(customer_id: str) -> str | None:
    record = CustomerModel.get(customer_id, consistent_read=True).consent_email
    return str(record.as_dict()["status"]) if record is not None else None


@pytest.mark.parametrize("round_number", range(CONSENT_ROUNDS))
def test_an_unsubscribe_racing_a_merge_leaves_nobody_subscribed(
    stack: LocalStack, client: Client, parallel_api: Client, round_number: int
) -> None:
    """A confirmed subscriber presses the unsubscribe link while, in another process, their shop account
    says who they are (the subscriber is merged into it and its consent carried over): whichever lands
    first, no profile of the person is left subscribed."""
    email = f"{unique(f'race{round_number}')}@example.com"
    subscriber = _subscribed(stack, client, email)
    user_id = unique("race-shop")
    shop = str(client.call("POST", "/v1/identify", {"userId": user_id})[1]["customer_id"])
    link = "/" + unsubscribe_url(subscriber).split("/", 3)[3]
    ledger = Ledger(prefix=unique("race"))
    answers: dict[str, int] = {}

    def unsubscribe() -> None:
        # From before the merge starts to after it is done, through every overlap in between.
        time.sleep(UNSUBSCRIBE_STAGGER * round_number)
        for _ in range(RETRIES):
            status = parallel_api.call("POST", link, form={"List-Unsubscribe": "One-Click"})[0]
            answers["unsubscribe"] = status
            if status != 503:
                return
            time.sleep(0.02)  # met the merge half-way: the person presses the link again

    def merge() -> None:
        _identify(parallel_api, ledger, userId=user_id, traits={"email": email})

    _together(unsubscribe, merge)
    stack.drain()
    assert answers["unsubscribe"] == 200
    assert CustomerModel.get(subscriber, consistent_read=True).merged_into == shop
    statuses = {customer_id: _email_consent(customer_id) for customer_id in (subscriber, shop)}
    assert "granted" not in statuses.values(), statuses
    assert statuses[subscriber] == "revoked"
