"""Scores over runs and the segment sample, on the local stack with the real handlers.

- Each scoring run writes one ScoreHistory entry per customer whose scores it changed (keyed by run: a
  retried apply phase overwrites its own); the profile API shows them oldest first; erasure deletes them.
- The segment page's sample reads the Scores table's by-segment index by Query (the DynamoDB requests are
  counted on the client), never a Scan, and returns exactly the segment's members.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import boto3
import pytest

from infra.local.demo import Client
from infra.local.dispatcher import load_handler
from infra.local.lambda_context import LocalContext
from infra.local.stack import LocalStack
from shared.dal import scores
from shared.dal.models import ScoreModel
from shared.exporting.rows import PROSPECTS, slug
from shared.services import segments
from shared.services.views import CustomerActivity
from shared.settings import get_settings
from tests.helpers import prefixed_orders, unique


def _score(payload: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = load_handler("score")(payload, LocalContext("score"))
    return result


def _run(run_id: str, as_of: str) -> None:
    """A whole scoring run through the score function, phase by phase (one scan segment)."""
    _score({"run_id": run_id, "as_of": as_of, "total_segments": 1, "phase": "start"})
    _score({"phase": "summarise", "run_id": run_id, "segment": 0, "total_segments": 1})
    _score({"phase": "fit", "run_id": run_id})
    _score({"phase": "apply", "run_id": run_id, "segment": 0, "total_segments": 1})
    _score({"phase": "finish", "run_id": run_id})


def _history_items(customer_id: str) -> list[dict[str, Any]]:
    dynamodb = boto3.client("dynamodb", region_name=get_settings().region)
    found = dynamodb.query(
        TableName=get_settings().score_history_table,
        KeyConditionExpression="customer_id = :c",
        ExpressionAttributeValues={":c": {"S": customer_id}},
        ConsistentRead=True,
    )
    items: list[dict[str, Any]] = found["Items"]
    return items


@pytest.fixture(scope="module")
def scored(stack: LocalStack, client: Client) -> tuple[list[str], str, str]:
    """Customers of the CDNOW sample scored by two runs, half of them buying again in between."""
    prefix = unique("history")
    calls = prefixed_orders(prefix, 8)
    prospect = {
        "type": "identify",
        "userId": f"{prefix}-prospect",
        "traits": {"email": f"{prefix}@example.com"},
    }
    status, body, _ = client.call("POST", "/v1/batch", {"batch": [*calls, prospect]})
    assert status == 200, body
    stack.drain()
    ids: list[str] = []
    for user in dict.fromkeys(c["userId"] for c in [*calls, prospect]):
        status, found, _ = client.call("GET", f"/v1/customers?user_id={user}", private=True)
        assert status == 200, found
        ids.append(found["customer_id"])
    first, second = f"score-1998-{prefix}", f"score-1999-{prefix}"
    _run(first, "1998-06-30")
    # New orders for half of them: the second run changes their scores (the others' may stay the same).
    repeat = [
        {
            **calls[0],
            "userId": user,
            "timestamp": "1998-07-15T12:00:00+00:00",
            "properties": {"order_id": f"{user}-repeat", "total": 250.0, "currency": "USD"},
        }
        for user in list(dict.fromkeys(c["userId"] for c in calls))[::2]
    ]
    status, body, _ = client.call("POST", "/v1/batch", {"batch": repeat})
    assert status == 200, body
    stack.drain()
    _run(second, "1998-07-31")
    return ids, first, second


def test_the_profile_shows_the_scores_of_each_run_oldest_first(
    client: Client, scored: tuple[list[str], str, str]
) -> None:
    ids, first, second = scored
    both = 0
    for customer_id in ids:
        status, body, _ = client.call("GET", f"/v1/customers/{customer_id}/activity", private=True)
        assert status == 200, body
        history = CustomerActivity.model_validate(body).score_history
        # The first run scored everyone; the second added an entry where it changed the scores.
        assert [entry.run_id for entry in history] in ([first], [first, second])
        both += len(history) == 2
        latest = scores.current(customer_id)
        assert latest is not None
        assert history[-1].run_id == latest.run_id
        assert history[-1].segment == latest.segment
        assert history[-1].clv == pytest.approx(latest.clv)
        assert history[-1].churn_risk == pytest.approx(latest.churn_risk)
        assert [entry.scored_at for entry in history] == sorted(entry.scored_at for entry in history)
        stored = _history_items(customer_id)
        assert sorted(item["run_id"]["S"] for item in stored) == [entry.run_id for entry in history]
        assert all(int(item["expires_at"]["N"]) > 0 for item in stored)
    assert both >= (len(ids) - 1) // 2  # at least those who bought again


def test_a_retried_apply_phase_overwrites_its_own_entries(scored: tuple[list[str], str, str]) -> None:
    ids, first, second = scored
    before = {cid: _history_items(cid) for cid in ids}
    _score({"phase": "apply", "run_id": first, "segment": 0, "total_segments": 1})
    _score({"phase": "apply", "run_id": second, "segment": 0, "total_segments": 1})
    after = {cid: _history_items(cid) for cid in ids}
    assert {cid: [i["run_id"]["S"] for i in items] for cid, items in after.items()} == {
        cid: [i["run_id"]["S"] for i in items] for cid, items in before.items()
    }


def test_erasure_deletes_the_history(client: Client, scored: tuple[list[str], str, str]) -> None:
    ids, _, _ = scored
    victim = max(ids, key=lambda cid: len(_history_items(cid)))
    kept = {cid: len(_history_items(cid)) for cid in ids if cid != victim}
    assert _history_items(victim)
    status, body, _ = client.call("DELETE", f"/v1/customers/{victim}", private=True)
    assert status == 200, body
    assert _history_items(victim) == []
    assert scores.current(victim) is None
    assert {cid: len(_history_items(cid)) for cid in kept} == kept


class DynamoRequests:
    """DynamoDB requests made through PynamoDB's client: (operation, table, index)."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str, str | None]] = Counter()
        self._client = ScoreModel._get_connection().connection.client

    def __enter__(self) -> DynamoRequests:
        self._client.meta.events.register("provide-client-params.dynamodb.*", self._count)
        return self

    def __exit__(self, *_: object) -> None:
        self._client.meta.events.unregister("provide-client-params.dynamodb.*", self._count)

    def _count(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        tables = params.get("TableName") or ",".join(params.get("RequestItems", {}))
        self.calls[(model.name, tables, params.get("IndexName"))] += 1


@pytest.mark.parametrize("kind", ["segment", "prospects"])
def test_the_segment_sample_reads_the_index_by_query(
    client: Client, scored: tuple[list[str], str, str], kind: str
) -> None:
    ids, _, _ = scored
    if kind == "prospects":
        name = PROSPECTS
    else:
        named = [s.segment for s in (scores.current(cid) for cid in ids) if s is not None and s.segment]
        assert named
        name = named[0]
    table = get_settings().scores_table
    with DynamoRequests() as requests:
        detail = segments.detail(name, sample_size=5)
    score_calls = {key: n for key, n in requests.calls.items() if key[1] == table}
    assert score_calls, requests.calls
    assert {(op, index) for op, _, index in score_calls} == {("Query", "by-segment")}
    assert 0 < len(detail.sample) <= 5

    # The right members: each sampled customer's latest scores are in the segment; and the index holds
    # exactly the members a scan of the table finds.
    for member in detail.sample:
        latest = scores.current(member.customer_id)
        assert latest is not None
        assert (latest.segment or PROSPECTS) == name
    by_index = {s.customer_id for s in scores.segment_members(name, limit=100_000)}
    by_scan = {s.customer_id for s in scores.scan_all() if (s.segment or PROSPECTS) == name}
    assert by_index == by_scan
    assert set(ids) & by_index

    status, body, _ = client.call("GET", f"/v1/segments/{slug(name)}", private=True)
    assert status == 200, body
    assert {m["customer_id"] for m in body["sample"]} <= by_index
