"""Stage configuration from CDK context, and the layer build inputs."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from aws_cdk import RemovalPolicy

from infra import build_layers
from infra.config import load_config

from .conftest import Synth


def test_dev_defaults() -> None:
    config = load_config({})
    assert config.stage == "dev"
    assert config.scoring_schedule == "cron(0 3 * * ? *)"
    assert config.export_retention_days == 30
    assert config.export_link_ttl_seconds == 900
    assert config.removal_policy == RemovalPolicy.DESTROY
    assert not config.waf_enabled
    assert config.alarm_email is None


PROD_REQUIRED = {"write_keys": "k1", "sender_email": "hello@example.com"}


def test_prod_retains_and_protects() -> None:
    config = load_config({"stage": "prod", **PROD_REQUIRED})
    assert config.removal_policy == RemovalPolicy.RETAIN
    assert config.deletion_protection
    assert config.waf_enabled
    assert config.allowed_origins == ()
    assert config.allowed_redirect_hosts == ()


@pytest.mark.parametrize(
    ("context", "missing"),
    [
        ({}, "write_keys and sender_email"),
        ({"sender_email": "hello@example.com"}, "write_keys"),
        ({"write_keys": "k1"}, "sender_email"),
        ({"write_keys": "", "sender_email": "hello@example.com"}, "write_keys"),
        ({"write_keys": "[]", "sender_email": "hello@example.com"}, "write_keys"),
        ({"stages": {"dev": PROD_REQUIRED}}, "write_keys and sender_email"),  # another stage's settings
    ],
)
def test_prod_requires_write_keys_and_sender(context: dict[str, Any], missing: str) -> None:
    """Without them prod would deploy a stack that accepts no event and cannot send email."""
    with pytest.raises(ValueError, match=f"prod stage needs {missing} set explicitly"):
        load_config({"stage": "prod", **context})


@pytest.mark.parametrize(
    "context",
    [PROD_REQUIRED, {"stages": {"prod": {"write_keys": ["k1"], "sender_email": "hello@example.com"}}}],
)
def test_prod_required_settings_from_context_or_stages(context: dict[str, Any]) -> None:
    config = load_config({"stage": "prod", **context})
    assert config.write_keys == ("k1",)
    assert config.sender_email == "hello@example.com"


def test_overrides_from_context() -> None:
    config = load_config(
        {
            "stage": "prod",
            "allowed_origins": "https://a.example, https://b.example",
            "write_keys": '["k1", "k2"]',
            "waf_enabled": "false",
            "scoring_max_concurrency": "4",
            "stages": {"prod": {"sender_email": "hello@example.com"}},
        }
    )
    assert config.allowed_origins == ("https://a.example", "https://b.example")
    assert config.write_keys == ("k1", "k2")
    assert config.waf_enabled is False
    assert config.scoring_max_concurrency == 4
    assert config.sender_email == "hello@example.com"
    assert config.sender_domain == "example.com"


@pytest.mark.parametrize(
    "context",
    [{"stage": "qa"}, {"allowed_origins": "*"}, {"sender_email": "nobody"}, {"stages": {"dev": {"nope": 1}}}],
)
def test_invalid_config(context: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        load_config(context)


def test_prod_stack_is_protected(dev: Synth, prod: Synth) -> None:
    assert prod.stack.termination_protection is True
    assert dev.stack.termination_protection is False


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_outputs_the_deploy_instructions_use(request: pytest.FixtureRequest, stage: str) -> None:
    """README.md (Deploy) reads these stack outputs by name."""
    synth: Synth = request.getfixturevalue(stage)
    outputs = synth.template.to_json()["Outputs"]
    assert {"ApiUrl", "ExportsBucketName", "AccessLogsBucketName"} <= set(outputs)


def test_layers_follow_pyproject() -> None:
    project = tomllib.loads((build_layers.ROOT / "pyproject.toml").read_text())["project"]
    base, science = build_layers.read_layers()
    assert base.name == "base"
    assert science.requirements == tuple(project["optional-dependencies"]["science"])
    assert not any(r.startswith(("boto3", "botocore")) for r in base.requirements)
    assert set(base.requirements) | {r for r in project["dependencies"] if r.startswith("boto3")} == set(
        project["dependencies"]
    )


def test_layers_are_built_and_fit(layers_ready: None) -> None:
    assert build_layers.layers_ready()
    sizes = build_layers.check_sizes(build_layers.read_layers())
    assert sum(sizes.values()) <= build_layers.MAX_UNZIPPED_BYTES
    for layer in build_layers.read_layers():
        assert not list(layer.site_packages.glob("botocore")), "botocore is in the Lambda runtime"
        # Only .pyc of the runtime's Python (3.12), compiled by the build (tests/infra/test_cold_start.py).
        assert not [p for p in layer.site_packages.rglob("*.pyc") if ".cpython-312." not in p.name]
