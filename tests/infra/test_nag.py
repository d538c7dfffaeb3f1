"""cdk-nag (AwsSolutions, v3 validation plugin): no unacknowledged findings, and no stale acknowledgements."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import PolicyViolation, Validations
from aws_cdk.assertions import Annotations, Match
from constructs import IConstruct

from infra.app import build_app
from infra.constructs.nag import SKIP_ACKNOWLEDGEMENTS

from .conftest import Synth, full_context

STAGES = ("dev", "prod")


def _describe(violations: list[PolicyViolation]) -> str:
    return "\n".join(
        f"{v.severity} {v.rule_name}: {[r.construct_path for r in v.violating_resources]}" for v in violations
    )


@pytest.mark.parametrize("stage", STAGES)
def test_no_unacknowledged_findings(request: pytest.FixtureRequest, stage: str) -> None:
    synth: Synth = request.getfixturevalue(stage)
    report = synth.pack.validate_scope(synth.stack)
    errors = [v for v in report.violations if v.severity == "error"]
    warnings = [v for v in report.violations if v.severity != "error"]
    assert not errors, _describe(errors)
    assert not warnings, _describe(warnings)
    assert report.success


def test_no_nag_annotations(dev: Synth) -> None:
    annotations = Annotations.from_stack(dev.stack)
    assert annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*")) == []
    assert annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*")) == []
    assert annotations.find_error("*", Match.any_value()) == []


def _acknowledgements(root: IConstruct) -> list[tuple[str, str, str]]:
    found = []
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule_id, reason in dict(entry.data).items():
                    found.append((construct.node.path, rule_id.split("::", 1)[-1], str(reason)))
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_every_acknowledgement_is_needed(
    request: pytest.FixtureRequest, stage: str, app_dir: Path, tmp_path: Path
) -> None:
    """Rebuild without acknowledgements: each one must match a real finding at or below its construct."""
    synth: Synth = request.getfixturevalue(stage)
    _, bare_stack, pack = build_app(
        full_context(synth.context | {SKIP_ACKNOWLEDGEMENTS: True}), outdir=str(tmp_path), app_dir=app_dir
    )
    assert pack is not None
    findings = [
        (v.rule_name, r.construct_path or "")
        for v in pack.validate_scope(bare_stack).violations
        for r in v.violating_resources
    ]
    acknowledgements = _acknowledgements(synth.stack)
    assert acknowledgements
    for path, rule_id, reason in acknowledgements:
        assert len(reason) >= 40, (path, rule_id)
        assert any(
            rule == rule_id and (found == path or found.startswith(path + "/")) for rule, found in findings
        ), f"stale acknowledgement {rule_id} on {path}"
