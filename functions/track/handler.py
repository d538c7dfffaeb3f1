"""Public tracking API: Segment-compatible calls, HTML forms, consent confirmation and unsubscribe.

Thin: validation is declared on the routes (powertools + pydantic); the work is in
``shared.services.tracking``.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field, ValidationError
from pynamodb.exceptions import PynamoDBException

from functions.common.http import ApiError, register_error_handlers
from functions.common.observability import logger, metrics
from functions.common.responses import HTML, HTML_PAGE, JSON, TEXT, documented, media_type, unreadable_body
from functions.common.snapstart import preload
from shared.services import consent, rejected_calls, tracking
from shared.settings import get_settings
from shared.tracking import wire
from shared.tracking.forms import load_forms
from shared.tracking.identity import InvalidEmailError
from shared.tracking.normalise import Interaction, from_form, from_segment_call
from shared.tracking.payloads import (
    CALL_MODELS,
    MAX_BATCH_BYTES,
    MAX_BATCH_CALLS,
    MAX_CALL_BYTES,
    CallProblem,
    FormSubmission,
    validate_call,
)
from shared.tracking.redirects import RedirectError, safe_redirect
from shared.tracking.tokens import InvalidTokenError

settings = get_settings()
# Imported lazily (a form post's YAML parser): with SnapStart, already in the snapshot.
preload("yaml")
app = APIGatewayRestResolver(
    enable_validation=True,
    cors=CORSConfig(
        allow_origin=settings.allowed_origin_list[0],
        extra_origins=settings.allowed_origin_list[1:],
        # analytics.js in batching mode sends HTTP Basic and, on a retry, X-Retry-Count (a preflight)
        allow_headers=["X-Retry-Count", "Content-Encoding"],
    )
    if settings.allowed_origin_list
    else None,
)
register_error_handlers(app)


class RejectedCall(BaseModel):
    """A call of a batch that was not stored, and why (the others were)."""

    index: int = Field(description="Position of the call in `batch`, from 0")
    code: str = Field(description="Stable machine-readable reason: invalid_call, unknown_type, invalid_email")
    message: str = Field(description="What is wrong, naming the field at fault")


class Accepted(BaseModel):
    success: bool = True
    customer_id: str | None = Field(
        default=None, description="The customer of the stored calls when they all belong to one"
    )
    stored: int
    duplicates: int
    rejected: list[RejectedCall] = Field(
        default_factory=list, description="Calls of a batch refused one by one (the others are stored)"
    )


@app.exception_handler(InvalidEmailError)
def _invalid_email(exc: InvalidEmailError) -> Response[Any]:
    return Response(422, content_types.APPLICATION_JSON, {"code": "invalid_email", "message": str(exc)})


_CHALLENGE = {"WWW-Authenticate": 'Basic realm="tracking"'}


def _write_key(body: dict[str, Any]) -> str:
    """The source's write key: HTTP Basic user name (the Segment HTTP API's scheme, what the server SDKs
    send) or ``writeKey`` in the body (what analytics.js sends). Answers the source label."""
    header = app.current_event.headers.get("authorization") or app.current_event.headers.get("Authorization")
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
    event = app.current_event
    try:
        return wire.decode(event.body, bool(event.is_base64_encoded), media_type(event.headers), limit)
    except wire.BodyError as exc:
        raise ApiError(exc.status, exc.message, code=exc.code) from None


def _base_url() -> str | None:
    if get_settings().public_base_url:
        return None  # configured: the service uses settings.public_base_url
    ctx = app.current_event.request_context
    return f"https://{ctx.domain_name}/{ctx.stage}" if ctx.domain_name else None


def _store(batch: list[Interaction]) -> Accepted:
    results = tracking.track(batch, base_url=_base_url()) if batch else []
    stored = sum(r.stored for r in results)
    metrics.add_metric(name="InteractionsTracked", unit=MetricUnit.Count, value=stored)
    metrics.add_metric(name="DuplicateInteractions", unit=MetricUnit.Count, value=len(results) - stored)
    customers = {r.customer_id for r in results}
    dropped = sum(r.traits_dropped for r in results)
    if dropped:
        # Traits over the profile's budget (shared.dal.customers): the event is stored, the trait is not.
        metrics.add_metric(name="TraitsDropped", unit=MetricUnit.Count, value=dropped)
        logger.warning("traits over the profile budget were dropped", extra={"traits_dropped": dropped})
    return Accepted(
        customer_id=customers.pop() if len(customers) == 1 else None,
        stored=stored,
        duplicates=len(results) - stored,
    )


def _now() -> datetime:
    return datetime.now(UTC)


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
    return {
        "requestBody": {"required": True, "content": {JSON: {"schema": schema}, TEXT: {"schema": schema}}}
    }


def _single_call(call_type: str) -> Accepted:
    body = _segment_body(MAX_CALL_BYTES)
    source = _write_key(body)
    received_at = _now()
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
    return _store([interaction])


def _reject(rejections: list[rejected_calls.Rejection], source: str, now: datetime) -> None:
    """Count refused calls and keep them (7 days) for GET /v1/rejected-calls; never fails the request."""
    if not rejections:
        return
    metrics.add_metric(name="RejectedCalls", unit=MetricUnit.Count, value=len(rejections))
    event = app.current_event
    try:
        rejected_calls.keep(
            rejections,
            path=event.path,
            source=source,
            request_id=event.request_context.request_id or "-",
            now=now,
        )
    except (PynamoDBException, ClientError, BotoCoreError):
        logger.warning("rejected calls not kept", exc_info=True, extra={"count": len(rejections)})


def _single_route(call_type: str, path: str, short: bool) -> None:
    def route() -> Accepted:
        return _single_call(call_type)

    route.__name__ = call_type if not short else f"{call_type}_short"
    schema = CALL_MODELS[call_type].model_json_schema(by_alias=True)
    summary = SUMMARIES[call_type] + (" — analytics.js path" if short else "")
    app.post(
        path,
        summary=summary,
        tags=["tracking"],
        responses=documented(200, *SEGMENT_ERRORS),
        openapi_extensions=_json_or_text(schema),
    )(route)


for _type in CALL_MODELS:
    _single_route(_type, f"/v1/{_type}", short=False)
    _single_route(_type, SHORT_PATHS[_type], short=True)


def _batch_schema() -> dict[str, Any]:
    calls = []
    for name, model in CALL_MODELS.items():
        schema = model.model_json_schema(by_alias=True)
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
    received_at = _now()
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
    accepted = _store(interactions)
    _reject(rejected, source, received_at)
    accepted.rejected = [RejectedCall(index=r.index or 0, code=r.code, message=r.message) for r in rejected]
    return accepted


@app.post(
    "/v1/batch",
    summary=f"Up to {MAX_BATCH_CALLS} calls in one request (Segment `batch`)",
    tags=["tracking"],
    responses=documented(200, *SEGMENT_ERRORS),
    openapi_extensions=_json_or_text(_batch_schema()),
)
def batch() -> Accepted:
    """Each call is validated on its own, as Segment does: the valid ones are stored, the others listed
    in ``rejected`` by index with a code. Only a body that does not parse is refused as a whole."""
    return _batch()


@app.post(
    "/v1/b",
    summary=f"Up to {MAX_BATCH_CALLS} calls in one request (Segment `batch`) — analytics.js path",
    tags=["tracking"],
    responses=documented(200, *SEGMENT_ERRORS),
    openapi_extensions=_json_or_text(_batch_schema()),
)
def batch_short() -> Accepted:
    return _batch()


def _parse_form_body() -> FormSubmission:
    event = app.current_event
    content_type = (event.headers.get("content-type") or event.headers.get("Content-Type") or "").lower()
    raw = event.decoded_body or ""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            fields: Any = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        elif content_type.startswith("application/json") or not content_type:
            fields = json.loads(raw or "{}")
        else:
            raise ApiError(415, "send the form as application/x-www-form-urlencoded or application/json")
        return FormSubmission.model_validate(fields)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"body is not valid JSON: {exc.msg}") from None
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


FORM_SCHEMA = FormSubmission.model_json_schema()


def _redirect_target(requested: str | None) -> str | None:
    """The allow-listed thank-you page, as browsers parse it (see shared.tracking.redirects)."""
    if not requested:
        return None
    try:
        return safe_redirect(requested, settings.allowed_redirect_host_set)
    except RedirectError as exc:
        raise ApiError(422, str(exc)) from None


@app.post(
    "/v1/forms/<form_id>",
    summary="Submit an HTML form (sign-up, newsletter, contact request, download)",
    tags=["forms"],
    responses=documented(
        {
            200: {"description": "Stored (no `redirect` field)", "content": {JSON: {"model": Accepted}}},
            303: {
                "description": "Stored; redirect to the form's thank-you page (the `redirect` field)",
                "headers": {"Location": {"description": "The thank-you page", "schema": {"type": "string"}}},
                "content": {},
            },
        },
        *(400, 404, 413, 415, 422),
        e404="Unknown form",
    ),
    # The body is parsed by the handler (form or JSON); documented here so clients and tests know it.
    openapi_extensions={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": FORM_SCHEMA},
                JSON: {"schema": FORM_SCHEMA},
            },
        }
    },
)
def submit_form(
    form_id: Annotated[
        str, PathParam(description="A form of the forms catalogue (RM_FORMS_FILE)", examples=["newsletter"])
    ],
) -> Response[Any]:
    """Body: ``application/x-www-form-urlencoded`` (a plain HTML form) or JSON, with the fields of
    ``FormSubmission``: email (required), first_name, last_name, phone, company, job_title, message,
    consent_email/sms/phone/post (checkboxes), anonymous_id, redirect (allow-listed thank-you page)."""
    form = load_forms(get_settings().forms_file).forms.get(form_id)
    if form is None:
        raise ApiError(404, f"form_id: unknown form {form_id!r}")
    submission = _parse_form_body()
    redirect = _redirect_target(submission.redirect)
    if submission.website:
        # Honeypot filled in: a bot. Answer as if it worked, store nothing.
        logger.info("form honeypot triggered", extra={"form_id": form_id})
        metrics.add_metric(name="FormSpamBlocked", unit=MetricUnit.Count, value=1)
        accepted = Accepted(stored=0, duplicates=0)
    else:
        accepted = _store([from_form(form_id, form, submission, _now())])
    if redirect:
        return Response(303, content_types.TEXT_PLAIN, "", headers={"Location": redirect})
    return Response(200, content_types.APPLICATION_JSON, accepted.model_dump())


_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8>"
    "<meta name=viewport content='width=device-width,initial-scale=1'>"
    "<meta name=robots content=noindex><title>{title}</title>"
    "<body style='font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em'>"
    "<h1>{title}</h1><p>{text}</p>{form}</body></html>"
)
_BUTTON = (
    "<form method=post action='?{query}'>"
    "<button type=submit style='font-size:1.2em;padding:.5em 1.5em'>{label}</button></form>"
)


# Not cached anywhere (the page shows the consent as it is now); never framed (a framed page with one
# button could be clicked by a trick: clickjacking a confirmation would forge consent); the token in the
# URL is never sent on as a referrer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _consent_page(
    title: str, text: str, status: int = 200, button: tuple[str, str] | None = None
) -> Response[Any]:
    """A plain page; ``button`` = (label, token): one button that POSTs to this same URL."""
    form = ""
    if button is not None:
        label, token = button
        form = _BUTTON.format(query=html.escape(urlencode({"token": token})), label=html.escape(label))
    page = _PAGE.format(title=html.escape(title), text=html.escape(text), form=form)
    return Response(status, content_types.TEXT_HTML, page, headers=PAGE_HEADERS)


def _bad_link(exc: InvalidTokenError, hint: str = "") -> Response[Any]:
    return _consent_page("This link does not work", f"{exc}.{hint}", 400)


# What a confirmation link's page says, per outcome: (status, title, text).
_CONFIRM_PAGES: dict[str, tuple[int, str, str]] = {
    "confirmed": (200, "Subscription confirmed", "Thank you: your subscription is confirmed."),
    "already_confirmed": (200, "Already confirmed", "Your subscription was already confirmed."),
    "revoked_since": (
        409,
        "This link no longer works",
        "You unsubscribed after this confirmation email was sent, so this link does nothing and you stay "
        "unsubscribed. To subscribe again, please sign up again.",
    ),
    "superseded": (
        409,
        "This link no longer works",
        "A newer confirmation email was sent to you since: please use the link in that one.",
    ),
    "no_request": (
        409,
        "Nothing to confirm",
        "There is no subscription waiting for confirmation. Please sign up again.",
    ),
}

# The consent links are opened by people (and fetched by mail scanners): a GET answers a page with one
# button and changes nothing; the button POSTs to the same URL, which makes the change.
CONSENT_PAGES: dict[int, OpenAPIResponse] = {
    200: {
        "description": "A page saying what the link does (GET) or that it is done (POST)",
        "content": {HTML: HTML_PAGE},
    },
    400: {"description": "Forged, malformed or expired link: a page saying so", "content": {HTML: HTML_PAGE}},
}
CONFIRM_POST_PAGES: dict[int, OpenAPIResponse] = {
    **CONSENT_PAGES,
    409: {
        "description": "The link did nothing: the person unsubscribed since, a newer confirmation replaced "
        "it, or nothing is pending (a page saying so)",
        "content": {HTML: HTML_PAGE},
    },
}
TOKEN = Annotated[str, Query(min_length=10, max_length=2000)]


@app.get(
    "/v1/consent/confirm",
    summary="Confirmation link (double opt-in): a page with one button; changes nothing",
    tags=["consent"],
    responses=documented(CONSENT_PAGES),
)
def confirm_page(token: TOKEN) -> Response[Any]:
    try:
        outcome = consent.preview(token, "confirm")
    except InvalidTokenError as exc:
        return _bad_link(exc, " Please sign up again.")
    if outcome.result == "confirmable":
        return _consent_page(
            "Confirm your subscription",
            "Press the button to confirm that you want to receive our emails.",
            button=("Yes, subscribe me", token),
        )
    _, title, text = _CONFIRM_PAGES[outcome.result]
    return _consent_page(title, text)  # a GET only tells: the status is the page's, 200


@app.post(
    "/v1/consent/confirm",
    summary="Confirm a double opt-in (the button of the confirmation page)",
    tags=["consent"],
    responses=documented(CONFIRM_POST_PAGES, 413),
)
def confirm(token: TOKEN) -> Response[Any]:
    try:
        outcome = consent.confirm(token)
    except InvalidTokenError as exc:
        return _bad_link(exc, " Please sign up again.")
    if outcome.changed:
        metrics.add_metric(name="ConsentConfirmed", unit=MetricUnit.Count, value=1)
    status, title, text = _CONFIRM_PAGES[outcome.result]
    return _consent_page(title, text, status)


@app.get(
    "/v1/unsubscribe",
    summary="Unsubscribe link (in every email): a page with one button; changes nothing",
    tags=["consent"],
    responses=documented(CONSENT_PAGES),
)
def unsubscribe_page(token: TOKEN) -> Response[Any]:
    try:
        outcome = consent.preview(token, "unsubscribe")
    except InvalidTokenError as exc:
        return _bad_link(exc)
    text = "Press the button to stop receiving our emails."
    if outcome.result == "already_unsubscribed":
        text = "You are already unsubscribed. " + text.replace("Press", "To be sure, press")
    return _consent_page("Unsubscribe", text, button=("Unsubscribe", token))


@app.post(
    "/v1/unsubscribe",
    summary="Unsubscribe: the page's button, and the RFC 8058 one-click POST (List-Unsubscribe-Post)",
    tags=["consent"],
    responses=documented(CONSENT_PAGES, 413),
)
def unsubscribe(token: TOKEN) -> Response[Any]:
    """One request does it (RFC 8058): the body (``List-Unsubscribe=One-Click``) is not needed."""
    try:
        outcome = consent.unsubscribe(token)
    except InvalidTokenError as exc:
        return _bad_link(exc)
    if outcome.changed:
        metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
    return _consent_page("You are unsubscribed", "You will not receive these emails any more.")


OPENAPI_DOCUMENT = Path(__file__).parent.parent / "openapi.json"


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    """The OpenAPI document of the whole API (public and private routes), generated from the routes by
    ``python -m functions.openapi`` and checked up to date by the tests."""
    return Response(200, content_types.APPLICATION_JSON, OPENAPI_DOCUMENT.read_text())


_BODY_LIMITS = {"/v1/batch": MAX_BATCH_BYTES, "/v1/b": MAX_BATCH_BYTES}
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", JSON)
SEGMENT_PATHS = frozenset({*(f"/v1/{t}" for t in CALL_MODELS), *SHORT_PATHS.values(), "/v1/batch", "/v1/b"})


def _unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """415 (or 400 for bytes that are not text) before any parsing: Segment calls are JSON, forms are form
    posts or JSON; the consent links read no body (a one-click unsubscribe POSTs
    ``List-Unsubscribe=One-Click`` as a form or as multipart)."""
    path = event.get("path") or ""
    if path in SEGMENT_PATHS:
        return None  # read by the route: gzip, text/plain (analytics.js), see shared.tracking.wire
    if path.startswith("/v1/forms/"):
        return unreadable_body(event, FORM_MEDIA_TYPES)
    return None


def _too_large(event: dict[str, Any]) -> dict[str, Any] | None:
    """413 before any parsing: a single call may be 32 KB, a batch 4 MiB (a gzip body is measured again
    once inflated)."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    limit = _BODY_LIMITS.get(event.get("path") or "", MAX_CALL_BYTES)
    if size <= limit:
        return None
    return {
        "statusCode": 413,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(
            {"code": "body_too_large", "message": f"body is {size} bytes; at most {limit} are accepted here"}
        ),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _too_large(event) or _unreadable_body(event) or app.resolve(event, context)
