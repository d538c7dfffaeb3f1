"""cfn-lint on each stage's synthesised template: no errors, and no warnings beyond the ones ignored below.

The stack is environment-agnostic (``infra/app.py``), so it is linted for every region of the partitions
cdk.json targets (``@aws-cdk/core:target-partitions``). cfn-lint runs offline on the resource schemas it
ships; the test fails if it tries to reach the network (it only would to refresh its schemas).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from cfnlint import helpers as cfnlint_helpers
from cfnlint.api import ManualArgs, lint_file
from cfnlint.helpers import REGIONS
from cfnlint.match import Match

from infra.app import cdk_json_context

from .conftest import Synth

STAGES = ("dev", "prod")
# Region prefixes of the partitions other than "aws" (cfn-lint knows regions, not partitions).
PARTITION_PREFIXES = {
    "cn-": "aws-cn",
    "us-gov-": "aws-us-gov",
    "us-isob-": "aws-iso-b",
    "us-isof-": "aws-iso-f",
    "us-iso-": "aws-iso",
    "eu-isoe-": "aws-iso-e",
    "eusc-": "aws-eusc",
}


def partition(region: str) -> str:
    return next((p for prefix, p in PARTITION_PREFIXES.items() if region.startswith(prefix)), "aws")


def target_regions() -> list[str]:
    partitions = set(cdk_json_context().get("@aws-cdk/core:target-partitions", ["aws"]))
    return [region for region in REGIONS if partition(region) in partitions]


# Resource types whose CDK L2 construct depends on its whole execution role, and the role property.
ROLE_PROPERTY = {"AWS::Lambda::Function": "Role", "AWS::StepFunctions::StateMachine": "RoleArn"}


def _is_own_role_dependency(match: Match, template: dict[str, Any]) -> bool:
    """W3005 on a function's or state machine's DependsOn its own execution role.

    CDK's ``lambda.Function`` and ``sfn.StateMachine`` add a construct dependency on their role so that they
    are created after the role's DefaultPolicy (creating a function with a dead-letter queue or active
    tracing, or a state machine with logging, fails while the role lacks those permissions). That
    construct dependency also lists the role itself, which the role GetAtt already orders: redundant and
    harmless, and not removable without rewriting DependsOn behind CDK's back. Any other redundant
    dependency is still reported.
    """
    path = list(getattr(match, "path", []))
    if match.rule.id != "W3005" or len(path) < 3 or path[0] != "Resources" or path[2] != "DependsOn":
        return False
    role_property = ROLE_PROPERTY.get(template["Resources"].get(path[1], {}).get("Type", ""))
    return role_property is not None and match.message.endswith(
        f"at 'Resources/{path[1]}/Properties/{role_property}'"
    )


# Findings ignored on purpose: rule id -> predicate (only the matches it accepts are ignored).
IGNORED = {"W3005": _is_own_role_dependency}


def _describe(match: Match) -> str:
    where = getattr(match, "path_string", "") or f"line {match.linenumber}"
    return f"{match.rule.id} {where}: {match.message}"


@pytest.fixture(scope="module")
def findings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[dict[str, Any], list[Match]]]:
    """Each stage's template and cfn-lint matches, with every network access recorded and refused."""
    attempts: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        attempts.append(repr(args[:2]))
        raise OSError("network access refused by the test")

    templates: dict[str, tuple[dict[str, Any], Path]] = {}
    for stage in STAGES:
        synth: Synth = request.getfixturevalue(stage)
        template = synth.template.to_json()
        path = tmp_path_factory.mktemp(f"cfn-lint-{stage}") / "template.json"
        path.write_text(json.dumps(template, indent=1))
        templates[stage] = (template, path)
    config = ManualArgs(regions=target_regions())
    result: dict[str, tuple[dict[str, Any], list[Match]]] = {}
    with pytest.MonkeyPatch.context() as patch:
        for name in ("urlopen", "urlretrieve"):
            patch.setattr(cfnlint_helpers, name, refuse)
        patch.setattr(socket.socket, "connect", refuse)
        for stage, (template, path) in templates.items():
            result[stage] = (template, lint_file(path, config=config))
    assert not attempts, f"cfn-lint tried to reach the network: {attempts}"
    return result


def test_lints_every_target_region() -> None:
    regions = target_regions()
    assert {"us-east-1", "eu-west-1", "cn-north-1"} <= set(regions)
    assert not any(r.startswith("us-gov-") for r in regions)


@pytest.mark.parametrize("stage", STAGES)
def test_no_errors(findings: dict[str, tuple[dict[str, Any], list[Match]]], stage: str) -> None:
    _, matches = findings[stage]
    errors = [_describe(m) for m in matches if m.rule.id.startswith("E")]
    assert not errors, f"cfn-lint errors in the {stage} template:\n" + "\n".join(errors)


@pytest.mark.parametrize("stage", STAGES)
def test_no_unexpected_warnings(findings: dict[str, tuple[dict[str, Any], list[Match]]], stage: str) -> None:
    template, matches = findings[stage]
    warnings = [
        _describe(m)
        for m in matches
        if m.rule.id.startswith("W") and not (m.rule.id in IGNORED and IGNORED[m.rule.id](m, template))
    ]
    assert not warnings, f"cfn-lint warnings in the {stage} template:\n" + "\n".join(warnings)
