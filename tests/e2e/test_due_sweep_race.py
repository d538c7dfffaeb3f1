"""Overlapping due sweeps in several OS processes against one moto server: each due decision is resolved
once and its email sent once (conditional update on ``deferred``; the channel sends each decision's
message once even if two sweeps published it)."""

from __future__ import annotations

import multiprocessing
import time
from datetime import datetime, timedelta

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.dal.models import DecisionModel
from tests.e2e.test_campaigns_over_time import _campaign_emails, _decision, deferred_at_night

PROCESSES = 3


def _sweep_at(args: tuple[str, str, float]) -> dict[str, int]:
    """In a fresh process (its own handlers and connections): wait for the common start, sweep."""
    customer_id, at, start = args
    from shared.services import campaigns as service

    time.sleep(max(0.0, start - time.time()))
    return service.sweep_due(datetime.fromisoformat(at), only={customer_id})


def test_overlapping_due_sweeps_send_once(stack: LocalStack, client: Client) -> None:
    customer_id, email, decision = deferred_at_night(stack, client, days_ahead=60)
    assert decision.send_after is not None
    at = (decision.send_after + timedelta(minutes=2)).isoformat()

    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        start = time.time() + 8.0  # after every process has imported the service
        results = pool.map(_sweep_at, [(customer_id, at, start)] * PROCESSES)
    resolved = [r.get("resumed_sent", 0) for r in results]
    assert sum(resolved) == 1, results  # exactly one process resolved the decision
    stack.drain()
    stored = [d for d in DecisionModel.query(customer_id) if d.campaign_id == "loyalty-reward"]
    assert [(d.outcome, d.due_shard) for d in stored] == [("sent", None)]
    assert _decision(customer_id, "loyalty-reward").outcome == "sent"
    assert len(_campaign_emails(stack, email, "loyalty-reward")) == 1
