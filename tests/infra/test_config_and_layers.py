"""Stage configuration from CDK context, and the layer build inputs."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from aws_cdk import RemovalPolicy

from infra import build_layers
from infra.config import load_config


def test_dev_defaults() -> None:
    config = load_config({})
    assert config.stage == "dev"
    assert config.scoring_schedule == "cron(0 3 * * ? *)"
    assert config.export_retention_days == 30
    assert config.export_link_ttl_seconds == 900
    assert config.removal_policy == RemovalPolicy.DESTROY
    assert not config.waf_enabled
    assert config.alarm_email is None


def test_prod_retains_and_protects() -> None:
    config = load_config({"stage": "prod"})
    assert config.removal_policy == RemovalPolicy.RETAIN
    assert config.deletion_protection
    assert config.waf_enabled


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
        assert not list(layer.site_packages.rglob("__pycache__"))
