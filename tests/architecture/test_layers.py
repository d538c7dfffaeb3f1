"""The layers of ../shared/DESIGN.md, checked on the code's own imports (module level and deferred alike).

    functions/<name>/handler.py   thin handlers            may import services, the domain, data access
    shared/services               orchestration            may import data access and the domain
    shared/dal, shared/secrets    data access              may import the domain
    shared/<domain>               pure logic               may import other domain packages only
    shared/events, shared/settings foundations             import no project module

``infra`` (CDK and the local stack) and ``benchmarks`` sit on top and may import anything.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "functions", "infra", "benchmarks")

DOMAIN = {"shared.tracking", "shared.scoring", "shared.campaigns", "shared.messaging", "shared.exporting"}
FOUNDATIONS = {"shared.events", "shared.invocations", "shared.settings"}
DATA_ACCESS = {"shared.dal", "shared.secrets"}

# What each layer may import (besides itself and the standard library / third parties).
ALLOWED: dict[str, set[str]] = {
    "foundations": set(),
    "domain": DOMAIN | {"shared.events"},
    "data access": DATA_ACCESS | DOMAIN | FOUNDATIONS,
    "services": {"shared.services"} | DATA_ACCESS | DOMAIN | FOUNDATIONS,
    "handlers": {"functions", "shared.services"} | DATA_ACCESS | DOMAIN | FOUNDATIONS,
}


def unit(module: str) -> str:
    """The package a module belongs to for the layer rules: ``shared.<x>`` or the top-level package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "shared" and len(parts) > 1 else parts[0]


def layer(module: str) -> str | None:
    package = unit(module)
    if package in FOUNDATIONS:
        return "foundations"
    if package in DOMAIN:
        return "domain"
    if package in DATA_ACCESS:
        return "data access"
    if package == "shared.services":
        return "services"
    if package == "functions":
        return "handlers"
    return None  # infra, benchmarks: the top, free to import anything


def modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
            yield ".".join(parts), path


def imports_of(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Project modules imported anywhere in the file (functions included), with the line."""
    package_parts = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
            # ``from shared.services import exports`` imports the module shared.services.exports
            names = [*names, *(f"{names[0]}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES and resolves(name):
                yield name, node.lineno


def resolves(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


GRAPH: dict[str, set[str]] = {
    module: {name for name, _ in imports_of(module, path)} - {module} for module, path in modules()
}


def test_no_module_imports_upward() -> None:
    wrong = []
    for module, path in modules():
        own = layer(module)
        if own is None:
            continue
        for name, line in imports_of(module, path):
            if unit(name) != unit(module) and unit(name) not in ALLOWED[own]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({own}) imports {name} ({layer(name)})")
    assert wrong == [], "imports against the layers:\n" + "\n".join(wrong)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), each a list of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_modules() -> None:
    # A package's __init__ importing its own submodules is how a package hands names on, not a cycle.
    graph = {
        module: {target for target in targets if not module.startswith(f"{target}.")}
        for module, targets in GRAPH.items()
    }
    assert cycles(graph) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_the_layer_rules_refuse_an_upward_import() -> None:
    """The rules themselves: the domain may not reach data access or services, data access not services."""
    assert "shared.dal" not in ALLOWED[layer("shared.scoring.rfm") or ""]
    assert "shared.services" not in ALLOWED[layer("shared.dal.customers") or ""]
    assert "functions" not in ALLOWED[layer("shared.services.tracking") or ""]
    assert ALLOWED[layer("shared.events") or ""] == set()
