"""The private API's contract: every 200 is a typed model in the OpenAPI document, every private operation
has a row in the route -> roles table, and the table decides from the gateway's request context."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions.admin_api.access import ROUTE_ROLES, caller, refusal
from functions.openapi import DOCUMENT

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch"})


def _document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text())


def _private() -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in _document()["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS and operation.get("security")
    }


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
    return schema


@pytest.mark.parametrize("key", sorted(_private()), ids=lambda k: f"{k[0]} {k[1]}")
def test_every_private_success_is_a_typed_model(key: tuple[str, str]) -> None:
    """A 200 (or 202) body is a named component with declared properties, never a bare ``object``."""
    schemas = _document()["components"]["schemas"]
    responses = _private()[key]["responses"]
    successes = {code: r for code, r in responses.items() if code.startswith("2")}
    assert successes, key
    for code, response in successes.items():
        schema = response["content"]["application/json"]["schema"]
        assert "$ref" in schema, (key, code, schema)
        resolved = _resolve(schema, schemas)
        assert resolved.get("type") == "object", (key, code, resolved)
        assert resolved.get("properties"), (key, code, resolved)


def test_route_roles_name_exactly_the_private_operations() -> None:
    assert set(ROUTE_ROLES) == set(_private())
    for key, operation in _private().items():
        assert operation["x-roles"] == sorted(ROUTE_ROLES[key]), key


def test_admin_only_operations_are_the_ones_the_issue_names() -> None:
    admin_only = {key for key, roles in ROUTE_ROLES.items() if "marketing" not in roles}
    assert admin_only == {
        ("DELETE", "/v1/customers/{customer_id}"),  # GDPR erasure
        ("GET", "/v1/customers/{customer_id}/export"),  # GDPR export
        ("POST", "/v1/scoring/runs"),
        ("PATCH", "/v1/campaigns/{campaign_id}"),  # campaign switch
    }


def _event(method: str, resource: str, context: dict[str, Any]) -> dict[str, Any]:
    return {"httpMethod": method, "resource": resource, "requestContext": context}


def _claims(groups: Any) -> dict[str, Any]:
    return {"authorizer": {"claims": {"token_use": "id", "email": "a@example.com", "cognito:groups": groups}}}


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ("admin", {"admin", "marketing"}),
        ("marketing", {"marketing"}),
        ("[admin marketing]", {"admin", "marketing"}),
        ("marketing,admin", {"admin", "marketing"}),
        ('["marketing"]', {"marketing"}),
        ("", set()),
        ("administrators", set()),
        # More forms (see functions/admin_api/access.py::_groups for where each was reported).
        ("[admin]", {"admin", "marketing"}),
        ("[marketing]", {"marketing"}),
        ("[marketing, admin]", {"admin", "marketing"}),
        (" marketing , admin ", {"admin", "marketing"}),
        ("marketing admin", {"admin", "marketing"}),
        ('["admin", "marketing"]', {"admin", "marketing"}),
        ("[]", set()),
        ("[other marketing]", {"marketing"}),
        ("other,admin", {"admin", "marketing"}),
    ],
)
def test_groups_as_the_cognito_authorizer_passes_them(groups: str, expected: set[str]) -> None:
    found = caller(_event("GET", "/v1/me", _claims(groups)))
    assert found is not None
    assert found.kind == "user"
    assert set(found.roles) == expected


@pytest.mark.parametrize(
    ("groups", "expected"),
    [(["admin", "marketing"], {"admin", "marketing"}), (["marketing"], {"marketing"}), (None, set())],
)
def test_groups_as_a_list_or_missing(groups: Any, expected: set[str]) -> None:
    found = caller(_event("GET", "/v1/me", _claims(groups)))
    assert found is not None
    assert set(found.roles) == expected


def test_refusals_follow_the_table() -> None:
    erase = ("DELETE", "/v1/customers/{customer_id}")
    assert refusal(_event(*erase, _claims("admin"))) is None
    refused = refusal(_event(*erase, _claims("marketing")))
    assert refused is not None
    assert refused["statusCode"] == 403
    assert json.loads(refused["body"])["code"] == "forbidden"
    assert refusal(_event(*erase, {"identity": {"userArn": "arn:aws:iam::1:role/crm"}})) is None  # IAM
    assert refusal(_event(*erase, {"identity": {"sourceIp": "1.2.3.4"}})) is not None  # nobody
    # An access token (token_use=access) is not an identity for the console.
    access = {"authorizer": {"claims": {"token_use": "access", "cognito:groups": "admin"}}}
    assert refusal(_event(*erase, access)) is not None
    # An operation the table does not know is refused to people.
    assert refusal(_event("GET", "/v1/unknown", _claims("admin"))) is not None
