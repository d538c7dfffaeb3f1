"""The score function driven phase by phase with the payloads the state machine sends (as on AWS)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from infra.local.demo import Client
from infra.local.dispatcher import load_handler
from infra.local.lambda_context import LocalContext
from infra.local.stack import LocalStack
from shared.services import runs
from tests.helpers import prefixed_orders, unique


def _score(payload: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = load_handler("score")(payload, LocalContext("score"))
    return result


def test_the_phases_in_state_machine_order_score_every_customer(stack: LocalStack, client: Client) -> None:
    prefix = unique("phases")
    calls = prefixed_orders(prefix, 12)
    status, body, _ = client.call("POST", "/v1/batch", {"batch": calls})
    assert status == 200, body
    stack.drain()

    # Start gets the execution input merged with {"phase": "start"}; the rest as the Map/Task states build it.
    started = _score(
        {"run_id": f"score-{prefix}", "as_of": "1998-06-30", "total_segments": 2, "phase": "start"}
    )
    run_id = started["run_id"]
    assert run_id == f"score-{prefix}"
    assert started["segments"] == [0, 1]
    for segment in started["segments"]:
        _score({"phase": "summarise", "run_id": run_id, "segment": segment, "total_segments": 2})
    fitted = _score({"phase": "fit", "run_id": run_id})
    for segment in started["segments"]:
        _score({"phase": "apply", "run_id": run_id, "segment": segment, "total_segments": 2})
    finished = _score({"phase": "finish", "run_id": run_id})

    view = runs.view(run_id)
    assert view["status"] == "succeeded"
    # Every customer is scored (prospects too); the purchase model is fitted on the buyers, ours among them.
    assert finished["customers_scored"] >= fitted["customers"] >= len({c["userId"] for c in calls})


def test_a_failed_run_is_recorded_with_the_catch_error(stack: LocalStack) -> None:
    run_id = _score({"phase": "start", "total_segments": 1})["run_id"]
    _score({"phase": "fail", "run_id": run_id, "error": {"Error": "States.TaskFailed", "Cause": "boom"}})
    view = runs.view(run_id)
    assert view["status"] == "failed"
    assert "boom" in str(view["error"])


def test_a_malformed_phase_fails_the_invocation_before_any_work(stack: LocalStack) -> None:
    with pytest.raises(ValidationError):
        _score({"phase": "apply", "segment": 0, "total_segments": 2})  # no run id
