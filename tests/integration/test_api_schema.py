"""Property-based API testing: schemathesis against the generated OpenAPI document, on the local stack.

Every documented operation (``functions/openapi.json``, served at GET /v1/openapi.json) gets requests
generated from the document, valid and invalid ones (schemathesis' coverage phase: boundary values,
missing fields, wrong types, undeclared media types, missing credentials; then 25 fuzzed examples),
sent through the local HTTP adapter to the real handlers on moto. Each answer must not be a server
error and must match the document: a documented status code, its content type, its body schema.

Deterministic (fixed seed, ``derandomize``): the same requests on every run of the same command
(Hypothesis also draws a few strings from the modules loaded in the process, so a handful of the ids
in 403/404 cases differ between a serial and an xdist run). About 1,400 requests in all, ~15 s.
What it found stays covered by explicit requests (FOUND below), whatever generation draws in future.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import settings
from pydantic import ValidationError
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from functions.openapi import DOCUMENT
from infra.local.demo import WRITE_KEY
from infra.local.stack import LocalStack

START_SCORING_RUN = "start_scoring_run_v1_scoring_runs_post"

CONFIG = schemathesis.Config.from_dict(
    {
        # A fixed seed, not only derandomize: under xdist schemathesis otherwise shares a fresh random
        # seed from the controller with the workers.
        "seed": 20260101,
        "phases": {"stateful": {"enabled": False}},
        "generation": {"mode": "all"},
        "operations": [
            # A valid request runs a whole scoring run (model fitting over every customer, up to 1000
            # scan segments) in the API process in local mode, and it becomes the latest run the other
            # tests' segments and exports read: only invalid requests, which must be refused, are sent
            # (and any the server would accept is skipped, see _starts_a_scoring_run).
            {"include-operation-id": START_SCORING_RUN, "generation": {"mode": "negative"}},
        ],
    }
)
schema = schemathesis.openapi.from_path(DOCUMENT, config=CONFIG)

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]
# Segment-style calls authenticate with HTTP Basic, the write key as user name; other routes ignore it.
WRITE_AUTH = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True)
def test_api_conforms_to_its_openapi_document(case: Case[Any], stack: LocalStack) -> None:
    if case.operation.definition.raw.get("operationId") == START_SCORING_RUN and _starts_a_scoring_run(case):
        return
    # Valid credentials on every request; the negative cases that drop them (schemathesis removes a
    # security header it was asked to omit) check the documented 403.
    headers = {"Authorization": WRITE_AUTH}
    if case.operation.definition.raw.get("security"):
        headers["x-api-key"] = stack.api_key
    case.call_and_validate(base_url=stack.api_url, headers=headers, checks=CHECKS, timeout=30)


def _starts_a_scoring_run(case: Case[Any]) -> bool:
    """Whether the server would accept this body: negative generation may still produce one (e.g. a
    number sent as a string, which pydantic coerces). Anything but a JSON object is refused."""
    from functions.admin_api.handler import ScoringRunRequest

    if not isinstance(case.body, dict):
        return False
    try:
        request = ScoringRunRequest.model_validate(case.body)
    except ValidationError:
        return False
    return not (request.as_of and request.as_of > datetime.now(UTC).date())


JSON_BODY = {"Content-Type": "application/json"}
MULTIPART = {"Content-Type": "multipart/form-data"}  # and no boundary


def _call(**fields: Any) -> bytes:
    return json.dumps({"userId": "u-1", **fields}).encode()


def _nested(depth: int) -> bytes:
    return b'{"userId": "u-1", "traits": {"k": ' + b"[" * depth + b"]" * depth + b"}}"


# (id, method, path, headers, body, status). Up to "moto does not check", each was a server error on
# the local stack before its fix (502 from the adapter, as API Gateway answers a crashed function).
FOUND: list[tuple[str, str, str, dict[str, str], bytes, int]] = [
    # powertools read multipart bodies on JSON routes, and crashed on one without a boundary
    ("multipart-track", "POST", "/v1/track", MULTIPART, b"--x--", 415),
    ("multipart-admin", "PATCH", "/v1/campaigns/welcome", MULTIPART, b"--x--", 415),
    # bytes that are not UTF-8 under a JSON content type: UnicodeDecodeError
    ("not-utf8-identify", "POST", "/v1/identify", JSON_BODY, b"\xc6[\x87\xcc", 400),
    ("not-utf8-admin", "POST", "/v1/segments/prospects/exports", JSON_BODY, b"\x7f\xbe\xe3", 400),
    # JSON nested past the parser's recursion limit: RecursionError
    ("nested-2000", "POST", "/v1/identify", JSON_BODY, _nested(2000), 400),
    # a sentAt millennia ahead "corrected" the timestamp out of the calendar: OverflowError
    (
        "sent-at-5808",
        "POST",
        "/v1/identify",
        JSON_BODY,
        _call(timestamp="2000-01-01", sentAt="5808-04-10"),
        422,
    ),
    # the last hour of year 9999 west of UTC is past datetime.max in UTC: OverflowError
    ("year-9999", "POST", "/v1/track", JSON_BODY, _call(event="E", timestamp="9999-12-31T23:00-05:00"), 422),
    # trait names are document paths (traits.<name>): pynamodb refused "" and a[x], DynamoDB a[0]
    ("empty-trait", "POST", "/v1/identify", JSON_BODY, _call(traits={"": 1}), 422),
    ("trait-index", "POST", "/v1/identify", JSON_BODY, _call(traits={"a[0]": 1}), 422),
    ("trait-bracket", "POST", "/v1/track", JSON_BODY, _call(event="E", context={"traits": {"a[x]": 1}}), 422),
    # numbers past DynamoDB's range: "Number overflow" (moto's PutItem), also for an order's amount
    ("number-1e300", "POST", "/v1/track", JSON_BODY, _call(event="E", properties={"k": 1e300}), 422),
    (
        "order-overflow",
        "POST",
        "/v1/track",
        JSON_BODY,
        _call(
            event="Order Completed",
            properties={"order_id": "o-1", "products": [{"price": 9e125, "quantity": 9}]},
        ),
        422,
    ),
    # methods no route takes: the local adapter's http.server answered a bare 501 page (local only)
    ("trace", "TRACE", "/v1/track", {}, b"", 405),
    ("query", "QUERY", "/v1/customers/c-1", {}, b"", 405),
    # moto does not check: DynamoDB's own limits (a 500 in the cloud) on numbers (magnitude, 38 digits,
    # no NaN) and nesting (32 levels); a lone surrogate is no UTF-8 text, which DynamoDB strings are
    ("number-1e-300", "POST", "/v1/identify", JSON_BODY, _call(traits={"k": 1e-300}), 422),
    ("number-50-digits", "POST", "/v1/track", JSON_BODY, _call(event="E", properties={"k": 10**50 - 1}), 422),
    ("number-nan", "POST", "/v1/identify", JSON_BODY, b'{"userId": "u-1", "traits": {"k": NaN}}', 422),
    ("nested-40", "POST", "/v1/identify", JSON_BODY, _nested(40), 422),
    ("surrogate", "POST", "/v1/identify", JSON_BODY, b'{"userId": "u-1", "traits": {"k": "\\ud800"}}', 422),
]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"), [f[1:] for f in FOUND], ids=[f[0] for f in FOUND]
)
def test_what_schemathesis_found_stays_fixed(
    stack: LocalStack, method: str, path: str, headers: dict[str, str], body: bytes, status: int
) -> None:
    auth = {"Authorization": WRITE_AUTH, "x-api-key": stack.api_key}
    response = requests.request(
        method, stack.api_url + path, headers={**auth, **headers}, data=body or None, timeout=30
    )
    assert response.status_code == status, response.text
    assert response.json()["message"]
