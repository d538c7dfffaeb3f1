"""Scoring: Step Functions orchestration of the score phases, started on a schedule."""

from __future__ import annotations

import itertools
import json

from shared.invocations import (
    ExportInvocation,
    FailPhase,
    RunPhase,
    ScoringRunExport,
    SegmentPhase,
    StartPhase,
    parse_scoring_phase,
)

from .conftest import Synth
from .helpers import get_att, of_type, ref, state_machine_definition


def test_state_machine_phases(dev: Synth) -> None:
    (resource,) = of_type(dev.resources, "AWS::StepFunctions::StateMachine").values()
    asl = state_machine_definition(resource)
    states = asl["States"]
    assert asl["StartAt"] == "Start"
    order = ["Start", "Summarise", "Fit", "Apply", "Finish", "ExportSegments", "Done"]
    for current, following in itertools.pairwise(order):
        assert states[current]["Next"] == following
    # The execution input (run_id, total_segments, as_of from the admin API) is passed on, plus the phase.
    assert states["Start"]["Parameters"]["Payload.$"] == (
        """States.JsonMerge($, States.StringToJson('{"phase": "start"}'), false)"""
    )
    assert set(states["Start"]["ResultSelector"]) == {"run_id.$", "segments.$", "total_segments.$"}
    for map_state, phase in (("Summarise", "summarise"), ("Apply", "apply")):
        state = states[map_state]
        assert state["Type"] == "Map"
        assert state["ItemsPath"] == "$.segments"
        assert state["MaxConcurrency"] == dev.stack.config.scoring_max_concurrency
        assert state["ItemSelector"] == {
            "phase": phase,
            "run_id.$": "$.run_id",
            "segment.$": "$$.Map.Item.Value",
            "total_segments.$": "$.total_segments",
        }
    assert states["Fit"]["Parameters"]["Payload"] == {"phase": "fit", "run_id.$": "$.run_id"}
    assert states["Finish"]["Parameters"]["Payload"] == {"phase": "finish", "run_id.$": "$.run_id"}
    for state in ("Summarise", "Fit", "Apply", "Finish", "ExportSegments"):
        assert states[state]["Catch"][0]["Next"] == "MarkRunFailed"
    assert states["MarkRunFailed"]["Parameters"]["Payload"]["phase"] == "fail"
    assert states["MarkRunFailed"]["Next"] == "RunFailed"
    assert states["Start"]["Catch"][0]["Next"] == "StartFailed"


def test_state_machine_logging_and_tracing(dev: Synth) -> None:
    (resource,) = of_type(dev.resources, "AWS::StepFunctions::StateMachine").values()
    props = resource["Properties"]
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"


def test_schedule_starts_the_state_machine(dev: Synth) -> None:
    rule = dev.resources[dev.logical_id(dev.stack.scoring.schedule)]["Properties"]
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert "EventBusName" not in rule  # default bus
    (target,) = rule["Targets"]
    assert target["Arn"] == ref(dev.logical_id(dev.stack.scoring.state_machine))
    assert target["DeadLetterConfig"]["Arn"] == get_att(dev.logical_id(dev.stack.routing.target_dlq))


def _as_sent(template: dict[str, object], values: dict[str, object]) -> dict[str, object]:
    """A task's payload template as the function receives it: ``"key.$": "$.path"`` filled from values."""
    return {
        key.removesuffix(".$"): values[str(path).rsplit(".", 1)[-1]] if key.endswith(".$") else path
        for key, path in template.items()
    }


def test_every_state_machine_payload_is_an_invocation_model(dev: Synth) -> None:
    """The state machine and the handlers' payload models (shared.invocations) describe the same shapes."""
    (resource,) = of_type(dev.resources, "AWS::StepFunctions::StateMachine").values()
    states = state_machine_definition(resource)["States"]
    values: dict[str, object] = {
        "run_id": "score-1",
        "Value": 2,
        "total_segments": 4,
        "error": {"Error": "States.TaskFailed", "Cause": "boom"},
    }
    sent = [
        _as_sent(states["Summarise"]["ItemSelector"], values),
        _as_sent(states["Apply"]["ItemSelector"], values),
        _as_sent(states["Fit"]["Parameters"]["Payload"], values),
        _as_sent(states["Finish"]["Parameters"]["Payload"], values),
        _as_sent(states["MarkRunFailed"]["Parameters"]["Payload"], values),
    ]
    parsed = [parse_scoring_phase(payload) for payload in sent]
    assert [type(p) for p in parsed] == [SegmentPhase, SegmentPhase, RunPhase, RunPhase, FailPhase]
    assert [p.phase for p in parsed] == ["summarise", "apply", "fit", "finish", "fail"]
    assert all(p.run_id == "score-1" for p in parsed)
    # The scheduled start: the rule's input plus the phase the Start task merges in.
    rule = dev.resources[dev.logical_id(dev.stack.scoring.schedule)]["Properties"]
    scheduled = json.loads(rule["Targets"][0]["Input"])
    assert parse_scoring_phase({**scheduled, "phase": "start"}) == StartPhase()
    export = _as_sent(states["ExportSegments"]["Parameters"]["Payload"], values)
    assert ExportInvocation.model_validate(export).root == ScoringRunExport(
        trigger="scoring_run", run_id="score-1"
    )
