"""Segment-compatible calls: ``/v1/<type>``, the short paths analytics.js posts to, and batches.

A call authenticates with its source's write key; each call is validated on its own and refused calls are
kept for developers to read (GET /v1/rejected-calls).
"""

from __future__ import annotations

import base64
import binascii
import copy
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from functions.common.http import ApiError
from functions.common.observability import logger, metrics
from functions.common.responses import JSON, TEXT, deferred_request_body, documented, media_type
from functions.track.common import Accepted, RejectedCall, current_event, new_router, now, store
from shared.dal.errors import StoreError
from shared.services import rejected_calls
from shared.settings import get_settings
from shared.tracking import wire
from shared.tracking.identity import InvalidEmailError
from shared.tracking.normalise import Interaction, from_segment_call
from shared.tracking.payloads import (
    CALL_MODELS,
    MAX_BATCH_BYTES,
    MAX_BATCH_CALLS,
    MAX_CALL_BYTES,
    CallProblem,
    validate_call,
)

router = new_router()
settings = get_settings()

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="tracking"'}


def _write_key(body: dict[str, Any]) -> str:
    """The source's write key: HTTP Basic user name (the Segment HTTP API's scheme, what the server SDKs
    send) or ``writeKey`` in the body (what analytics.js sends). Answers the source label."""
    header = router.current_event.headers.get("authorization") or router.current_event.headers.get(
        "Authorization"
    )
    user: Any = None
    if header and header.lower().startswith("basic "):
        try:
            user = base64.b64decode(header[6:].strip(), validate=True).decode().split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            raise ApiError(
                401, "malformed HTTP Basic credentials", _CHALLENGE, "malformed_write_key"
            ) from None
    else:
        user = body.get("writeKey")
    if not user:
        raise ApiError(
            401,
            "missing write key: send your source write key as the HTTP Basic user name or as `writeKey`",
            _CHALLENGE,
            "missing_write_key",
        )
    if not isinstance(user, str) or user not in settings.write_key_set:
        raise ApiError(401, "unknown write key", _CHALLENGE, "invalid_write_key")
    return f"key:{user[:6]}…"


def _segment_body(limit: int) -> dict[str, Any]:
    """The request's JSON object: gzip and base64 undone, text/plain (analytics.js) read as JSON."""
    event = router.current_event
    try:
        return wire.decode(event.body, bool(event.is_base64_encoded), media_type(event.headers), limit)
    except wire.BodyError as exc:
        raise ApiError(exc.status, exc.message, code=exc.code) from None


# What every Segment-style call can answer besides 200.
SEGMENT_ERRORS = (400, 401, 413, 415, 422)
# analytics.js posts each call to <apiHost>/<first letter of its type>, batches to <apiHost>/b
# (node_modules/@segment/analytics-next/dist/pkg/plugins/segmentio/index.js and batched-dispatcher.js).
SHORT_PATHS: dict[str, str] = {
    "track": "/v1/t",
    "identify": "/v1/i",
    "page": "/v1/p",
    "screen": "/v1/s",
    "group": "/v1/g",
    "alias": "/v1/a",
}
SUMMARIES: dict[str, str] = {
    "track": "Record an event (Segment `track`)",
    "identify": "Identify a person and set traits (Segment `identify`)",
    "page": "Record a page view (Segment `page`)",
    "screen": "Record an app screen view, stored as a page view (Segment `screen`)",
    "group": "Put the person's account or company traits on the profile (Segment `group`)",
    "alias": "Link a previous id to a user id, as identify does (Segment `alias`)",
}


def _json_or_text(schema: dict[str, Any]) -> dict[str, Any]:
    """A request body of JSON, or of JSON sent as text/plain (analytics.js)."""
    return {"required": True, "content": {JSON: {"schema": schema}, TEXT: {"schema": schema}}}


def _single_call(call_type: str) -> Accepted:
    body = _segment_body(MAX_CALL_BYTES)
    source = _write_key(body)
    received_at = now()
    call = validate_call(body, call_type)
    try:
        if isinstance(call, CallProblem):
            raise ApiError(422, call.message, code=call.code)
        try:
            interaction = from_segment_call(call, source, received_at)
        except InvalidEmailError as exc:
            raise ApiError(422, str(exc), code="invalid_email") from None
    except ApiError as exc:
        _reject([rejected_calls.Rejection(None, exc.code, exc.message, body)], source, received_at)
        raise
    return store(router, [interaction])


def _reject(rejections: list[rejected_calls.Rejection], source: str, now: datetime) -> None:
    """Count refused calls and keep them (7 days) for GET /v1/rejected-calls; never fails the request."""
    if not rejections:
        return
    metrics.add_metric(name="RejectedCalls", unit=MetricUnit.Count, value=len(rejections))
    event = current_event(router)
    try:
        rejected_calls.keep(
            rejections,
            path=event.path,
            source=source,
            request_id=event.request_context.request_id or "-",
            now=now,
        )
    except (StoreError, ClientError, BotoCoreError):
        logger.warning("rejected calls not kept", exc_info=True, extra={"count": len(rejections)})


@cache
def _call_schema(call_type: str) -> dict[str, Any]:
    """A call model's JSON schema, generated once, when the OpenAPI document is (each is used by three
    routes). Callers that change it take a copy."""
    return CALL_MODELS[call_type].model_json_schema(by_alias=True)


def _single_route(call_type: str, path: str, short: bool) -> None:
    def route() -> Accepted:
        return _single_call(call_type)

    route.__name__ = call_type if not short else f"{call_type}_short"
    summary = SUMMARIES[call_type] + (" — analytics.js path" if short else "")
    router.post(
        path,
        summary=summary,
        tags=["tracking"],
        responses=documented(200, *SEGMENT_ERRORS),
        openapi_extensions=deferred_request_body(lambda: _json_or_text(_call_schema(call_type))),
    )(route)


for _type in CALL_MODELS:
    _single_route(_type, f"/v1/{_type}", short=False)
    _single_route(_type, SHORT_PATHS[_type], short=True)


@cache
def _batch_schema() -> dict[str, Any]:
    calls = []
    for name in CALL_MODELS:
        schema = copy.deepcopy(_call_schema(name))
        schema["required"] = sorted({*schema.get("required", []), "type"})
        schema["properties"]["type"] = {"const": name, "type": "string"}
        calls.append(schema)
    return {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_CALLS, "items": {"anyOf": calls}},
            "context": {"type": "object", "description": "Applies to each call without a context"},
            "writeKey": {"type": "string", "description": "The write key, if not sent as HTTP Basic"},
            "sentAt": {"type": "string", "format": "date-time"},
        },
    }


def _batch() -> Accepted:
    body = _segment_body(MAX_BATCH_BYTES)
    source = _write_key(body)
    calls = body.get("batch")
    if not isinstance(calls, list) or not calls:
        raise ApiError(400, "batch: a non-empty list of calls is required", code="malformed_batch")
    if len(calls) > MAX_BATCH_CALLS:
        raise ApiError(
            413,
            f"batch has {len(calls)} calls; at most {MAX_BATCH_CALLS} are accepted",
            code="too_many_calls",
        )
    shared_context = body.get("context") if isinstance(body.get("context"), dict) else None
    sent_at = body.get("sentAt")
    received_at = now()
    interactions: list[Interaction] = []
    rejected: list[rejected_calls.Rejection] = []
    for index, raw in enumerate(calls):
        if isinstance(raw, dict) and (shared_context or sent_at):
            raw = {"context": shared_context, "sentAt": sent_at, **raw}
        call = validate_call(raw, max_bytes=MAX_CALL_BYTES)
        if isinstance(call, CallProblem):
            rejected.append(rejected_calls.Rejection(index, call.code, call.message, raw))
            continue
        try:
            interactions.append(from_segment_call(call, source, received_at))
        except InvalidEmailError as exc:
            rejected.append(rejected_calls.Rejection(index, "invalid_email", str(exc), raw))
    accepted = store(router, interactions)
    _reject(rejected, source, received_at)
    accepted.rejected = [RejectedCall(index=r.index or 0, code=r.code, message=r.message) for r in rejected]
    return accepted


@router.post(
    "/v1/batch",
    summary=f"Up to {MAX_BATCH_CALLS} calls in one request (Segment `batch`)",
    tags=["tracking"],
    responses=documented(200, *SEGMENT_ERRORS),
    openapi_extensions=deferred_request_body(lambda: _json_or_text(_batch_schema())),
)
def batch() -> Accepted:
    """Each call is validated on its own, as Segment does: the valid ones are stored, the others listed
    in ``rejected`` by index with a code. Only a body that does not parse is refused as a whole."""
    return _batch()


@router.post(
    "/v1/b",
    summary=f"Up to {MAX_BATCH_CALLS} calls in one request (Segment `batch`) — analytics.js path",
    tags=["tracking"],
    responses=documented(200, *SEGMENT_ERRORS),
    openapi_extensions=deferred_request_body(lambda: _json_or_text(_batch_schema())),
)
def batch_short() -> Accepted:
    return _batch()


_BODY_LIMITS = {"/v1/batch": MAX_BATCH_BYTES, "/v1/b": MAX_BATCH_BYTES}
SEGMENT_PATHS = frozenset({*(f"/v1/{t}" for t in CALL_MODELS), *SHORT_PATHS.values(), "/v1/batch", "/v1/b"})


def body_limit(path: str) -> int:
    """The largest body a path takes: a single call may be 32 KB, a batch 4 MiB."""
    return _BODY_LIMITS.get(path, MAX_CALL_BYTES)
