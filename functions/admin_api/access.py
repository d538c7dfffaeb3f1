"""Who may call which private operation: one table of route -> roles, checked before any route runs.

The gateway authenticates (the Cognito authorizer verifies the console's ID token; AWS_IAM verifies a
SigV4 signature; locally the adapter does both, with moto's Cognito keys and the ``x-api-key`` stand-in for
IAM) and puts who called into ``requestContext``, which a client cannot set. This module authorises:

* a person (Cognito token): the roles are the token's ``cognito:groups``; ``admin`` includes ``marketing``;
* a machine (IAM): every role; what it may call is its IAM policy's business (``execute-api:Invoke``).

An operation missing from :data:`ROUTE_ROLES` is refused to people (fail closed); a test checks that the
table and the OpenAPI document name the same operations.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final, Literal

Role = Literal["marketing", "admin"]
MARKETING: Final[frozenset[Role]] = frozenset({"marketing", "admin"})
ADMIN: Final[frozenset[Role]] = frozenset({"admin"})
ROLES: Final[tuple[Role, ...]] = ("marketing", "admin")

# (method, OpenAPI path) -> the groups allowed. marketing: segments, exports, reports, customer view;
# admin: also campaign switches, scoring runs, GDPR export and erasure.
ROUTE_ROLES: Final[dict[tuple[str, str], frozenset[Role]]] = {
    ("GET", "/v1/me"): MARKETING,
    ("GET", "/v1/customers"): MARKETING,
    ("GET", "/v1/customers/{customer_id}"): MARKETING,
    ("GET", "/v1/customers/{customer_id}/activity"): MARKETING,
    ("GET", "/v1/customers/{customer_id}/export"): ADMIN,
    ("DELETE", "/v1/customers/{customer_id}"): ADMIN,
    ("GET", "/v1/rejected-calls"): MARKETING,
    ("POST", "/v1/scoring/runs"): ADMIN,
    ("GET", "/v1/scoring/runs/{run_id}"): MARKETING,
    ("GET", "/v1/campaigns"): MARKETING,
    ("PATCH", "/v1/campaigns/{campaign_id}"): ADMIN,
    ("GET", "/v1/campaigns/{campaign_id}/report"): MARKETING,
    ("GET", "/v1/segments"): MARKETING,
    ("GET", "/v1/segments/{segment}"): MARKETING,
    ("POST", "/v1/segments/{segment}/exports"): MARKETING,
    ("GET", "/v1/exports/{export_id}"): MARKETING,
}

_GROUP_SEPARATORS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Caller:
    principal: str
    kind: Literal["user", "iam"]
    roles: frozenset[Role]

    def may(self, method: str, resource: str) -> bool:
        if self.kind == "iam":
            return True
        return bool(self.roles & ROUTE_ROLES.get((method.upper(), resource), frozenset()))

    def operations(self) -> list[str]:
        return sorted(f"{method} {path}" for method, path in ROUTE_ROLES if self.may(method, path))


def _groups(value: Any) -> set[str]:
    """``cognito:groups`` as the Cognito authorizer passes it, in every form seen in the wild.

    A REST API's Cognito user-pool authorizer flattens every claim to a string; for a list claim the forms
    reported are comma-separated (``admin,marketing``, one group: ``admin``; aws/chalice#783, which splits on
    ``,``) and, from API Gateway's JWT authorizer (HTTP APIs), bracketed and space-separated
    (``[admin marketing]``; aws-solutions-library-samples/guidance-for-claude-code-with-amazon-bedrock#803).
    A JSON list (``["admin","marketing"]``) or a real list (a test event, another authorizer) is read too;
    separators may mix (``[admin, marketing]``). Unknown names are ignored by the caller.
    """
    if isinstance(value, list):
        return {str(v) for v in value}
    text = str(value or "").strip()
    if text.startswith("["):
        try:
            return {str(v) for v in json.loads(text)}
        except ValueError:
            text = text.strip("[]")
    return {g for g in _GROUP_SEPARATORS.split(text) if g}


def caller(event: dict[str, Any]) -> Caller | None:
    """The authenticated caller from the gateway's request context; None if there is none."""
    context = event.get("requestContext") or {}
    claims = (context.get("authorizer") or {}).get("claims")
    if isinstance(claims, dict) and claims.get("token_use") == "id":
        groups = _groups(claims.get("cognito:groups"))
        roles: set[Role] = {r for r in ROLES if r in groups}
        if "admin" in roles:
            roles.add("marketing")
        name = claims.get("email") or claims.get("cognito:username") or claims.get("sub") or "?"
        return Caller(str(name), "user", frozenset(roles))
    identity = context.get("identity") or {}
    if identity.get("userArn") or identity.get("caller"):
        return Caller(str(identity.get("userArn") or identity.get("caller")), "iam", frozenset(ROLES))
    return None


def refusal(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 403 proxy response when the caller may not call this operation; None to go on."""
    found = caller(event)
    method = str(event.get("httpMethod") or "")
    resource = str(event.get("resource") or "")
    if found is not None and found.may(method, resource):
        return None
    if found is None:
        message = "Forbidden: no authenticated caller"
    else:
        needed = " or ".join(sorted(ROUTE_ROLES.get((method.upper(), resource), frozenset()))) or "nobody"
        message = f"Forbidden: {method} {resource} needs the role {needed}"
    return {
        "statusCode": 403,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"code": "forbidden", "message": message}),
        "isBase64Encoded": False,
    }
