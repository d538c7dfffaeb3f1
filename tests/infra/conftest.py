"""Fixtures for the CDK tests: each stage's stack is built and synthesised once per session.

The layers must exist (``make layers``); if they are missing they are built here with
:mod:`infra.build_layers` (needs pip access to PyPI). The function code is staged into a temporary
directory, so parallel workers never race on ``build/app``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra import build_layers
from infra.app import build_app, cdk_json_context
from infra.stack import RelationshipMarketingStack

# prod's required settings (infra.config.REQUIRED_SETTINGS); alarm email set so the SNS topic path is
# synthesised too.
PROD_CONTEXT = {
    "stage": "prod",
    "write_keys": "prod-key",
    "sender_email": "hello@example.com",
    "alarm_email": "ops@example.com",
}


@dataclass
class Synth:
    context: dict[str, Any]
    app: App
    stack: RelationshipMarketingStack
    pack: AwsSolutionsChecks
    template: Template

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template.to_json()["Resources"]
        return resources

    def logical_id(self, construct: Any) -> str:
        """Logical id of an L2 construct's default child (or of an L1 construct)."""
        cfn = getattr(construct.node, "default_child", None) or construct
        return str(self.stack.resolve(self.stack.get_logical_id(cfn)))


@pytest.fixture(scope="session")
def layers_ready() -> None:
    if build_layers.layers_ready():
        return
    try:
        build_layers.build_all()
    except SystemExit as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"Lambda layers are missing and could not be built ({exc}); run `make layers`.")


@pytest.fixture(scope="session")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_layers.stage_app(tmp_path_factory.mktemp("asset") / "app")


def full_context(context: dict[str, Any]) -> dict[str, Any]:
    """cdk.json's context (feature flags) + no asset staging (assets are only hashed) + ``context``."""
    return cdk_json_context() | {"aws:cdk:disable-asset-staging": True} | context


def _synth(context: dict[str, Any], app_dir: Path, outdir: Path) -> Synth:
    app, stack, pack = build_app(full_context(context), outdir=str(outdir), app_dir=app_dir)
    assert pack is not None
    return Synth(context=context, app=app, stack=stack, pack=pack, template=Template.from_stack(stack))


@pytest.fixture(scope="session")
def dev(layers_ready: None, app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    # The stage tests read the main API, buckets and functions; the console (deployed by default) has its
    # own synth, cdk-nag and cfn-lint (China regions included) in test_console.py.
    return _synth({"console": False}, app_dir, tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod(layers_ready: None, app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth({**PROD_CONTEXT, "console": False}, app_dir, tmp_path_factory.mktemp("cdk-prod"))
