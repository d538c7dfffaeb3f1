"""Gateway authorisation of every documented operation, read from the OpenAPI document itself (not through
``infra.routes``): private operations are AWS_IAM, public ones NONE, and nothing else is routed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import Synth
from .helpers import of_type

OPENAPI = Path(__file__).resolve().parents[2] / "functions" / "openapi.json"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# Served by the API but left out of the document (infra/routes.py EXTRA_PUBLIC_ROUTES).
UNDOCUMENTED_PUBLIC = {("GET", "/v1/openapi.json")}


def documented_operations() -> dict[tuple[str, str], bool]:
    """(method, path) -> private, with OpenAPI's rules: an operation's ``security`` overrides the
    document's; an empty requirement object (``{}``) in the list makes authentication optional."""
    document = json.loads(OPENAPI.read_text())
    default = document.get("security") or []
    operations: dict[tuple[str, str], bool] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            security = operation.get("security", default) or []
            operations[(method.upper(), path)] = bool(security) and all(security)
    return operations


def gateway_methods(synth: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) -> properties of every AWS::ApiGateway::Method of the template."""
    resources = synth.resources

    def path(resource_id: Any) -> str:
        if not isinstance(resource_id, dict) or "Ref" not in resource_id:  # the root (GetAtt RootResourceId)
            return ""
        props = resources[resource_id["Ref"]]["Properties"]
        return f"{path(props['ParentId'])}/{props['PathPart']}"

    methods: dict[tuple[str, str], dict[str, Any]] = {}
    for logical_id, method in of_type(resources, "AWS::ApiGateway::Method").items():
        key = (method["Properties"]["HttpMethod"], path(method["Properties"]["ResourceId"]) or "/")
        assert key not in methods, f"{key} defined twice ({logical_id})"
        methods[key] = method["Properties"]
    return methods


def test_document_has_private_and_public_operations() -> None:
    operations = documented_operations()
    assert any(operations.values()), "no private operation in the OpenAPI document"
    assert not all(operations.values()), "no public operation in the OpenAPI document"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_every_operation_is_authorised_as_documented(request: pytest.FixtureRequest, stage: str) -> None:
    synth: Synth = request.getfixturevalue(stage)
    methods = gateway_methods(synth)
    expected = {key: "AWS_IAM" if private else "NONE" for key, private in documented_operations().items()}
    expected |= dict.fromkeys(UNDOCUMENTED_PUBLIC, "NONE")

    missing = sorted(set(expected) - set(methods))
    assert not missing, f"documented operations without an API Gateway method: {missing}"
    wrong = {
        key: (methods[key].get("AuthorizationType"), wanted)
        for key, wanted in expected.items()
        if methods[key].get("AuthorizationType") != wanted
    }
    assert not wrong, f"(actual, expected) AuthorizationType: {wrong}"
    for key, wanted in expected.items():
        if wanted == "AWS_IAM":  # IAM itself, not a custom authorizer
            assert "AuthorizerId" not in methods[key], key
    undocumented = sorted(key for key in methods if key[0] != "OPTIONS" and key not in expected)
    assert not undocumented, (
        f"methods in the template that the OpenAPI document does not declare: {undocumented}"
    )


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_preflights_are_open_and_mock_only(request: pytest.FixtureRequest, stage: str) -> None:
    """OPTIONS methods carry no auth (browsers send preflights without credentials), so they must never
    reach a function."""
    synth: Synth = request.getfixturevalue(stage)
    for key, props in gateway_methods(synth).items():
        if key[0] == "OPTIONS":
            assert props["Integration"]["Type"] == "MOCK", key
