"""Cold start: the assets ``cdk synth`` stages carry ``.pyc`` compiled for the runtime's Python (3.12), and
SnapStart is a stage option that makes callers invoke a published version through an alias."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra import build_layers
from infra.app import build_app
from infra.config import load_config

from .conftest import Synth, _synth, full_context
from .helpers import of_type

# CPython 3.12's .pyc magic number (importlib.util.MAGIC_NUMBER under 3.12; these tests run on 3.11+).
MAGIC_312 = (3531).to_bytes(2, "little") + b"\r\n"
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


@pytest.fixture(scope="session")
def staged(layers_ready: None, app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ``cdk synth`` of the dev stage with asset staging on (the tests' other synths only hash)."""
    outdir = tmp_path_factory.mktemp("cdk-staged")
    context = {k: v for k, v in full_context({}).items() if k != "aws:cdk:disable-asset-staging"}
    app, _, _ = build_app(context, outdir=str(outdir), nag=False, app_dir=app_dir)
    app.synth()
    return outdir


def _asset_dirs(outdir: Path) -> list[Path]:
    return [p for p in outdir.iterdir() if p.is_dir() and p.name.startswith("asset.")]


def _pyc_for(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"


def _assert_compiled(tree: Path) -> int:
    sources = list(tree.rglob("*.py"))
    assert sources
    missing = [str(s.relative_to(tree)) for s in sources if not _pyc_for(s).is_file()]
    assert not missing, f"{len(missing)} modules without a .pyc in {tree.name}: {missing[:5]}"
    for source in sources:
        header = _pyc_for(source).read_bytes()[:8]
        assert header[:4] == MAGIC_312, f"{source}: not a CPython 3.12 .pyc"
        assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, f"{source}: not unchecked-hash"
    return len(sources)


def test_synthesised_assets_carry_pyc_for_python_312(staged: Path) -> None:
    assets = _asset_dirs(staged)
    code = next(p for p in assets if (p / "functions" / "track" / "handler.py").is_file())
    base = next(p for p in assets if (p / "python" / "pydantic").is_dir())
    science = next(p for p in assets if (p / "python" / "numpy").is_dir())
    assert build_layers.find_runtime_python() is not None, "this machine has a Python 3.12 (pyenv)"
    assert (code / build_layers.COMPILED_STAMP).read_text().strip() != "none"
    assert _assert_compiled(code) > 50
    assert _assert_compiled(base / "python") > 500
    # The science layer: its pure-Python modules are compiled too (sampled: scipy is large).
    for module in ("numpy/__init__.py", "scipy/optimize/__init__.py", "scipy/special/__init__.py"):
        assert _pyc_for(science / "python" / module).is_file(), module


def test_no_pyc_of_another_python_in_the_assets(staged: Path) -> None:
    for asset in _asset_dirs(staged):
        stray = [p for p in asset.rglob("*.pyc") if ".cpython-312." not in p.name]
        assert not stray, stray[:5]


# -- SnapStart ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snap(layers_ready: None, app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth({"snap_start": "track,aggregate,email"}, app_dir, tmp_path_factory.mktemp("cdk-snap"))


def _function(synth: Synth, name: str) -> dict[str, Any]:
    resource: dict[str, Any] = synth.resources[synth.logical_id(synth.stack.factory.functions[name].function)]
    return resource


def test_snap_start_is_off_by_default(dev: Synth) -> None:
    for fn in of_type(dev.resources, "AWS::Lambda::Function").values():
        assert "SnapStart" not in fn["Properties"]
    assert not of_type(dev.resources, "AWS::Lambda::Alias")


def test_snap_start_on_the_chosen_functions_with_a_live_alias(snap: Synth) -> None:
    for name in ("track", "aggregate", "email"):
        props = _function(snap, name)["Properties"]
        assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        assert props["Runtime"] == "python3.12"
    assert "SnapStart" not in _function(snap, "admin_api")["Properties"]
    aliases = of_type(snap.resources, "AWS::Lambda::Alias")
    assert len(aliases) == 3
    assert {a["Properties"]["Name"] for a in aliases.values()} == {"live"}


def test_callers_invoke_the_alias(snap: Synth) -> None:
    """API Gateway and the event source mappings call the published version, not $LATEST (SnapStart
    applies to versions only)."""
    aliases = {
        snap.logical_id(snap.stack.factory.functions[name].target): name
        for name in ("track", "aggregate", "email")
    }
    mappings = of_type(snap.resources, "AWS::Lambda::EventSourceMapping").values()
    mapped = {json.dumps(m["Properties"]["FunctionName"]) for m in mappings}
    for alias_id, name in aliases.items():
        if name in ("aggregate", "email"):
            assert any(alias_id in target for target in mapped), name
    methods = json.dumps(of_type(snap.resources, "AWS::ApiGateway::Method"))
    track_alias = next(a for a, n in aliases.items() if n == "track")
    assert track_alias in methods


def test_snap_start_names_are_checked() -> None:
    with pytest.raises(ValueError, match="snap_start"):
        load_config({"snap_start": "track,score"})
    assert load_config({"snap_start": "all"}).uses_snap_start("campaigns")
    assert not load_config({"snap_start": "all"}).uses_snap_start("score")
