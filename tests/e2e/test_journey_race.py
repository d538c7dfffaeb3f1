"""The same journey step advanced by several OS processes at once against one moto server: the step is
written once (a transaction conditional on the state's version) and its email sent once (the channel
sends each message key once, even if a losing process published it too)."""

from __future__ import annotations

import multiprocessing
import time
from datetime import datetime, timedelta

from infra.local.demo import Client
from infra.local.stack import LocalStack
from tests.e2e.test_campaigns_over_time import _campaign_emails
from tests.e2e.test_journeys import JOURNEY, confirmed_prospect, state_item, step_decisions

PROCESSES = 3


def _advance_at(args: tuple[str, str, float]) -> dict[str, int]:
    """In a fresh process (its own handlers and connections): wait for the common start, sweep."""
    customer_id, at, start = args
    from shared.services import campaigns as service

    time.sleep(max(0.0, start - time.time()))
    return service.sweep_due(datetime.fromisoformat(at), only={customer_id})


def test_racing_processes_send_the_step_once(stack: LocalStack, client: Client) -> None:
    customer_id, email, due = confirmed_prospect(stack, client)
    at = (due + timedelta(minutes=3)).isoformat()

    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        start = time.time() + 8.0  # after every process has imported the service
        results = pool.map(_advance_at, [(customer_id, at, start)] * PROCESSES)
    assert sum(r.get("journey_sent", 0) for r in results) == 1, results  # one process wrote the step
    stack.drain()
    assert len(_campaign_emails(stack, email, JOURNEY)) == 1
    decisions = step_decisions(customer_id)
    assert list(decisions) == ["guide"]
    assert decisions["guide"].outcome == "sent"
    state = state_item(customer_id)
    assert (state.journey_status, state.journey_path) == (
        "active",
        "qualified-at-entry wait-3-days guide wait-a-week",
    )
    # entered (0), arrived at the first wait (1), sent the guide (2), arrived at the second wait (3)
    assert state.journey_version == 3
