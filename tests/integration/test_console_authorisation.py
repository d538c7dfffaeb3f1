"""Every private operation x every kind of caller, on the local stack, enumerated from the OpenAPI document.

Callers: anonymous, a console user in no group, ``marketing``, ``admin`` (ID tokens moto's Cognito signed,
obtained with the user's password, checked by the local adapter as the Cognito authorizer checks them),
and a machine (IAM; the ``x-api-key`` stand-in locally). The expected answer comes from the operation's
``x-roles`` in the document (written from the handler's route -> roles table): allowed callers reach the
route (no 401/403, no 5xx), the others get 403 ``forbidden`` and nothing runs. Also: a token signed with
another key, an expired token and a token for another app client are refused before any handler runs.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib import error, request

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwk
from moto.utilities.utils import load_resource

from infra.local import http_adapter
from infra.local.stack import LocalStack

OPENAPI = Path(__file__).resolve().parents[2] / "functions" / "openapi.json"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch"})
CALLERS = ("anonymous", "no-group", "marketing", "admin", "iam")


def private_operations() -> dict[tuple[str, str], dict[str, Any]]:
    document = json.loads(OPENAPI.read_text())
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS and operation.get("security")
    }


OPERATIONS = private_operations()


def allowed(caller: str, operation: dict[str, Any]) -> bool:
    if caller == "iam":
        return True
    roles = set(operation["x-roles"])
    return caller in roles


@pytest.fixture(scope="module")
def tokens(stack: LocalStack) -> dict[str, str]:
    nobody = f"nogroup-{uuid.uuid4().hex[:8]}@example.com"
    stack.cognito.add_user(nobody, ())
    return {
        "marketing": stack.cognito.id_token("marketing@example.com"),
        "admin": stack.cognito.id_token("admin@example.com"),
        "no-group": stack.cognito.id_token(nobody),
    }


@pytest.fixture
def invoked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    load_handler = http_adapter.load_handler

    def spy(function: str) -> Any:
        calls.append(function)
        return load_handler(function)

    monkeypatch.setattr(http_adapter, "load_handler", spy)
    return calls


def send(stack: LocalStack, method: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    url = stack.api_url + re.sub(r"\{(\w+)\}", r"authz-\1", path)
    body = None
    if "requestBody" in OPERATIONS[(method, path)]:
        # A field no request model takes: a request that gets through is refused by validation (422)
        # instead of starting a scoring run or an export.
        body = json.dumps({"authorisation_test": True}).encode()
        headers = {**headers, "Content-Type": "application/json"}
    req = request.Request(url, data=body, method=method, headers=headers)
    try:
        with request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def credentials(stack: LocalStack, tokens: dict[str, str], caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    if caller == "iam":
        return {"x-api-key": stack.api_key}
    return {"Authorization": f"Bearer {tokens[caller]}"}


def test_every_private_operation_names_its_roles() -> None:
    assert len(OPERATIONS) >= 16
    for key, operation in OPERATIONS.items():
        assert operation["x-roles"], key
        assert set(operation["x-roles"]) <= {"marketing", "admin"}, key
        assert "admin" in operation["x-roles"], key  # admin may do everything marketing may


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("key", sorted(OPERATIONS), ids=lambda k: f"{k[0]} {k[1]}")
def test_operation_by_caller(
    stack: LocalStack, tokens: dict[str, str], invoked: list[str], key: tuple[str, str], caller: str
) -> None:
    method, path = key
    status, body = send(stack, method, path, credentials(stack, tokens, caller))
    if allowed(caller, OPERATIONS[key]):
        assert status not in (401, 403), (caller, key, status, body)
        assert status < 500, (caller, key, status, body)
        assert invoked == ["admin_api"]
        return
    assert status == 403, (caller, key, status, body)
    assert body["code"] == "forbidden", body
    if caller == "anonymous":
        assert invoked == []  # refused by the gateway (the adapter): no function ran
    else:
        assert "needs the role" in body["message"], body


def test_a_marketing_user_cannot_erase_a_real_customer(stack: LocalStack, tokens: dict[str, str]) -> None:
    """With a real customer id (not a placeholder), the refusal happens before the erasure."""
    from infra.local.demo import Client

    client = Client(stack.api_url, stack.api_key)
    user = f"authz-{uuid.uuid4().hex[:8]}"
    status, answer, _ = client.call(
        "POST",
        "/v1/identify",
        {"userId": user, "traits": {"email": f"{user}@example.com"}, "messageId": uuid.uuid4().hex},
    )
    assert status == 200, answer
    stack.drain()
    status, found, _ = client.call("GET", f"/v1/customers?user_id={user}", private=True)
    assert status == 200, found
    customer = found["customer_id"]
    headers = {"Authorization": f"Bearer {tokens['marketing']}"}
    req = request.Request(f"{stack.api_url}/v1/customers/{customer}", method="DELETE", headers=headers)
    with pytest.raises(error.HTTPError) as refused:
        request.urlopen(req, timeout=60)
    assert refused.value.code == 403
    status, still, _ = client.call("GET", f"/v1/customers/{customer}", private=True)
    assert status == 200
    assert still["customer_id"] == customer


def _forged(stack: LocalStack, **changes: Any) -> str:
    """An ID token like moto's, with ``changes``; signed with a key of our own unless ``key`` is given."""
    genuine = jwt.decode(stack.cognito.id_token("admin@example.com"), options={"verify_signature": False})
    key = changes.pop("key", None) or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode({**genuine, **changes}, key, algorithm="RS256", headers={"kid": "dummy"})


@pytest.mark.parametrize(
    "variant",
    ["other-key", "expired", "other-client", "other-issuer", "access-token", "none-algorithm"],
)
def test_bad_tokens_are_refused_before_any_handler(
    stack: LocalStack, invoked: list[str], variant: str
) -> None:
    if variant == "other-key":
        token = _forged(stack)
    elif variant == "none-algorithm":
        claims = jwt.decode(stack.cognito.id_token("admin@example.com"), options={"verify_signature": False})
        token = jwt.encode(claims, None, algorithm="none")
    else:
        idp = stack.cognito.client()
        answer = idp.initiate_auth(
            ClientId=stack.cognito.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "admin@example.com", "PASSWORD": stack.cognito.password},
        )["AuthenticationResult"]
        if variant == "access-token":
            token = answer["AccessToken"]  # signed by the pool, but not an ID token
        else:
            # Claims changed and signed again with the pool's own key (moto's, shipped in its package):
            # only the changed claim is wrong.
            private = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
            pem = private.as_pem(private=True)
            change = {
                "expired": {"exp": int(time.time()) - 60, "iat": int(time.time()) - 4000},
                "other-client": {"aud": "another-client"},
                "other-issuer": {"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_other"},
            }[variant]
            token = _forged(stack, key=pem, **change)
    headers = {"Authorization": f"Bearer {token}"}
    req = request.Request(f"{stack.api_url}/v1/me", headers=headers)
    with pytest.raises(error.HTTPError) as refused:
        request.urlopen(req, timeout=60)
    assert refused.value.code == 403
    assert json.loads(refused.value.read())["code"] == "forbidden"
    assert invoked == []
