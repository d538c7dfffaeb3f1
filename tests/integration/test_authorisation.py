"""Every private route refuses requests without valid credentials, on the local stack.

The operations are enumerated from the OpenAPI document itself (not through ``infra.routes``), so a new
route is covered as soon as the handlers declare it: an operation with a security requirement must refuse
requests without the API key (IAM in the cloud, ``x-api-key`` on the local stack) before any handler runs;
an operation without one must be in :data:`PUBLIC_OPERATIONS`, a conscious decision.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from urllib import error, request

import pytest

from infra.local import http_adapter
from infra.local.demo import WRITE_KEY
from infra.local.stack import LocalStack

OPENAPI = Path(__file__).resolve().parents[2] / "functions" / "openapi.json"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})

# Operations open without gateway credentials, and who authenticates them instead. Adding a public route
# means adding it here, on purpose.
PUBLIC_OPERATIONS = {
    ("POST", "/v1/track"): "Segment write key, checked by the handler",
    ("POST", "/v1/identify"): "Segment write key, checked by the handler",
    ("POST", "/v1/page"): "Segment write key, checked by the handler",
    ("POST", "/v1/batch"): "Segment write key, checked by the handler",
    ("POST", "/v1/screen"): "Segment write key, checked by the handler",
    ("POST", "/v1/group"): "Segment write key, checked by the handler",
    ("POST", "/v1/alias"): "Segment write key, checked by the handler",
    # analytics.js: the write key inside the text/plain body
    **{("POST", f"/v1/{p}"): "Segment write key (body writeKey), checked by the handler" for p in "tipsgab"},
    ("POST", "/v1/forms/{form_id}"): "declared form id; HTML form posts from allowed origins",
    ("GET", "/v1/forms/{form_id}/embed"): "none needed: the embed code of a declared form (public HTML)",
    ("GET", "/v1/consent/confirm"): "HMAC-signed token from the confirmation email",
    ("POST", "/v1/consent/confirm"): "HMAC-signed token (the confirmation page's button)",
    ("GET", "/v1/unsubscribe"): "HMAC-signed token from the email",
    ("POST", "/v1/unsubscribe"): "HMAC-signed token (RFC 8058 one-click unsubscribe)",
}

# Requests that must not reach a handler: (id, extra headers).
BAD_CREDENTIALS = [
    ("no-credentials", {}),
    ("wrong-api-key", {"x-api-key": "not-the-api-key"}),
    ("empty-api-key", {"x-api-key": ""}),
    ("write-key-only", {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}),
    ("api-key-as-bearer", {"Authorization": "Bearer {api_key}"}),
]


def operations() -> dict[tuple[str, str], dict[str, Any]]:
    document = json.loads(OPENAPI.read_text())
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                # OpenAPI: an operation's `security` overrides the document's default.
                found[(method.upper(), path)] = {"security": document.get("security"), **operation}
    return found


def is_private(operation: dict[str, Any]) -> bool:
    """At least one requirement, and none of them empty (``{}`` makes authentication optional)."""
    security = operation.get("security") or []
    return bool(security) and all(security)


PRIVATE = sorted(key for key, op in operations().items() if is_private(op))


def _ids(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


def _send(
    stack: LocalStack, method: str, path: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, Any]:
    url = stack.api_url + re.sub(r"\{(\w+)\}", r"authz-\1", path)  # placeholder path parameters
    headers = {k: v.format(api_key=stack.api_key) for k, v in headers.items()}
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = request.Request(url, data=body, method=method, headers=headers)
    try:
        with request.urlopen(req, timeout=60) as response:
            status, raw, content_type = response.status, response.read(), response.headers["Content-Type"]
    except error.HTTPError as exc:
        status, raw, content_type = exc.code, exc.read(), exc.headers["Content-Type"]
    return status, json.loads(raw) if raw and "json" in (content_type or "") else raw.decode()


def _body(method: str, path: str) -> bytes | None:
    """A JSON body for operations that take one; with a field no request model accepts, so that a request
    that does reach a handler is refused by validation instead of starting a run or an export."""
    if "requestBody" not in operations()[(method, path)]:
        return None
    return json.dumps({"authorisation_test": True}).encode()


@pytest.fixture
def invoked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions the local HTTP adapter invokes during the test."""
    calls: list[str] = []
    load_handler = http_adapter.load_handler

    def spy(function: str) -> Any:
        calls.append(function)
        return load_handler(function)

    monkeypatch.setattr(http_adapter, "load_handler", spy)
    return calls


def test_private_operations_exist() -> None:
    assert PRIVATE, "the OpenAPI document declares no private operation"
    assert ("DELETE", "/v1/customers/{customer_id}") in PRIVATE


def test_every_public_operation_is_allow_listed() -> None:
    public = {key for key, op in operations().items() if not is_private(op)}
    unexpected = sorted(public - set(PUBLIC_OPERATIONS))
    assert not unexpected, f"public operations not in PUBLIC_OPERATIONS (add them on purpose): {unexpected}"
    stale = sorted(set(PUBLIC_OPERATIONS) - public)
    assert not stale, f"PUBLIC_OPERATIONS lists operations the document does not declare public: {stale}"


@pytest.mark.parametrize(("variant", "headers"), BAD_CREDENTIALS, ids=[v for v, _ in BAD_CREDENTIALS])
@pytest.mark.parametrize("key", PRIVATE, ids=_ids)
def test_private_operation_refuses_bad_credentials(
    stack: LocalStack, invoked: list[str], key: tuple[str, str], variant: str, headers: dict[str, str]
) -> None:
    method, path = key
    status, body = _send(stack, method, path, headers, _body(method, path))
    assert status in (401, 403), (variant, status, body)
    # The adapter's refusal (API Gateway's in the cloud), not a handler's answer: no function ran.
    assert isinstance(body, dict), body
    # Every error body has a stable code beside the message (API Gateway's: its response type).
    assert set(body) == {"code", "message"}, body
    assert body["code"] == "forbidden", body
    assert "forbidden" in body["message"].lower(), body
    assert invoked == []


@pytest.mark.parametrize("key", PRIVATE, ids=_ids)
def test_private_operation_reaches_the_handler_with_the_api_key(
    stack: LocalStack, invoked: list[str], key: tuple[str, str]
) -> None:
    method, path = key
    status, body = _send(stack, method, path, {"x-api-key": stack.api_key}, _body(method, path))
    assert invoked == ["admin_api"], (status, body)
    assert status != 403, body
    assert status < 500, body


@pytest.mark.parametrize("key", sorted(PUBLIC_OPERATIONS), ids=_ids)
def test_public_operation_goes_to_the_tracking_function(
    stack: LocalStack, invoked: list[str], key: tuple[str, str]
) -> None:
    """Without credentials a public route reaches the handler that authenticates it itself (never admin)."""
    method, path = key
    status, body = _send(stack, method, path, {}, _body(method, path))
    assert invoked == ["track"], (status, body)
    assert status < 500, body
