"""One lock file of exact versions: the tests run with, and the Lambda layers ship, the same versions."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from infra import build_layers

LOCK = Path(build_layers.LOCK_FILE)


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line!r}"
            pins[_name(name)] = version
    return pins


def test_every_dependency_is_pinned_exactly_and_installed_at_that_version() -> None:
    locked = _locked()
    for requirement in (
        "aws-lambda-powertools",
        "pynamodb",
        "pydantic",
        "numpy",
        "scipy",
        "moto",
        "aws-cdk-lib",
    ):
        assert requirement in locked, requirement
    installed = {_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    assert {n: v for n, v in locked.items() if installed.get(n) != v} == {}


def test_the_layers_ship_the_locked_versions(layers_ready: None) -> None:
    locked = _locked()
    shipped: dict[str, str] = {}
    for layer in build_layers.read_layers():
        for info in layer.site_packages.glob("*.dist-info"):
            name, version = info.name.removesuffix(".dist-info").split("-", 1)
            shipped[_name(name)] = version
    assert {"numpy", "scipy", "pydantic", "pynamodb", "aws-lambda-powertools"} <= set(shipped)
    assert {n: (v, locked.get(n)) for n, v in shipped.items() if locked.get(n) != v} == {}
