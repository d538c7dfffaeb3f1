"""Public tracking API: Segment-compatible calls, HTML forms, consent confirmation and unsubscribe.

Thin: validation is declared on the routes (powertools + pydantic); the work is in
``shared.services.tracking``.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlparse

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from functions.common.http import ApiError, register_error_handlers
from functions.common.observability import logger, metrics
from functions.common.responses import HTML, HTML_PAGE, JSON, documented, unreadable_body
from functions.common.snapstart import preload
from shared.services import tracking
from shared.settings import get_settings
from shared.tracking.forms import load_forms
from shared.tracking.identity import InvalidEmailError
from shared.tracking.normalise import Interaction, from_form, from_segment_call
from shared.tracking.payloads import (
    MAX_BATCH_BYTES,
    MAX_CALL_BYTES,
    BatchRequest,
    FormSubmission,
    IdentifyCall,
    PageCall,
    TrackCall,
)
from shared.tracking.tokens import InvalidTokenError

settings = get_settings()
# Imported lazily (a form post's YAML parser): with SnapStart, already in the snapshot.
preload("yaml")
app = APIGatewayRestResolver(
    enable_validation=True,
    cors=CORSConfig(
        allow_origin=settings.allowed_origin_list[0], extra_origins=settings.allowed_origin_list[1:]
    )
    if settings.allowed_origin_list
    else None,
)
register_error_handlers(app)


class Accepted(BaseModel):
    success: bool = True
    customer_id: str | None = None
    stored: int
    duplicates: int


@app.exception_handler(InvalidEmailError)
def _invalid_email(exc: InvalidEmailError) -> Response[Any]:
    return Response(422, content_types.APPLICATION_JSON, {"message": str(exc)})


def _source_of_write_key() -> str:
    """HTTP Basic auth with the source's write key as user name (the Segment HTTP API's scheme)."""
    header = app.current_event.headers.get("authorization") or app.current_event.headers.get("Authorization")
    challenge = {"WWW-Authenticate": 'Basic realm="tracking"'}
    if not header or not header.lower().startswith("basic "):
        raise ApiError(
            401, "missing HTTP Basic credentials: use your source write key as the user name", challenge
        )
    try:
        user = base64.b64decode(header[6:].strip(), validate=True).decode().split(":", 1)[0]
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "malformed HTTP Basic credentials", challenge) from None
    if user not in settings.write_key_set:
        raise ApiError(401, "unknown write key", challenge)
    return f"key:{user[:6]}…"


def _base_url() -> str | None:
    if os.environ.get("RM_PUBLIC_BASE_URL"):
        return None  # configured: the service uses settings.public_base_url
    ctx = app.current_event.request_context
    return f"https://{ctx.domain_name}/{ctx.stage}" if ctx.domain_name else None


def _store(batch: list[Interaction]) -> Accepted:
    results = tracking.track(batch, base_url=_base_url())
    stored = sum(r.stored for r in results)
    metrics.add_metric(name="InteractionsTracked", unit=MetricUnit.Count, value=stored)
    metrics.add_metric(name="DuplicateInteractions", unit=MetricUnit.Count, value=len(results) - stored)
    return Accepted(
        customer_id=results[0].customer_id if len(results) == 1 else None,
        stored=stored,
        duplicates=len(results) - stored,
    )


def _now() -> datetime:
    return datetime.now(UTC)


# What every Segment-style call can answer besides 200.
SEGMENT_ERRORS = (400, 401, 413, 415, 422)


@app.post(
    "/v1/track",
    summary="Record an event (Segment `track`)",
    tags=["tracking"],
    responses=documented(200, *SEGMENT_ERRORS),
)
def track(call: Annotated[TrackCall, Body()]) -> Accepted:
    return _store([from_segment_call(call, _source_of_write_key(), _now())])


@app.post(
    "/v1/identify",
    summary="Identify a person and set traits (Segment `identify`)",
    tags=["tracking"],
    responses=documented(200, *SEGMENT_ERRORS),
)
def identify(call: Annotated[IdentifyCall, Body()]) -> Accepted:
    return _store([from_segment_call(call, _source_of_write_key(), _now())])


@app.post(
    "/v1/page",
    summary="Record a page view (Segment `page`)",
    tags=["tracking"],
    responses=documented(200, *SEGMENT_ERRORS),
)
def page(call: Annotated[PageCall, Body()]) -> Accepted:
    return _store([from_segment_call(call, _source_of_write_key(), _now())])


@app.post(
    "/v1/batch",
    summary="Up to 100 calls in one request (Segment `batch`)",
    tags=["tracking"],
    responses=documented(200, *SEGMENT_ERRORS),
)
def batch(request: Annotated[BatchRequest, Body()]) -> Accepted:
    source = _source_of_write_key()
    received_at = _now()
    # Every call is validated before anything is stored: a bad call rejects the whole batch.
    interactions = [from_segment_call(call, source, received_at) for call in request.batch]
    return _store(interactions)


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
    if not requested:
        return None
    parsed = urlparse(requested)
    if (
        parsed.scheme not in {"http", "https"}
        or (parsed.hostname or "").lower() not in settings.allowed_redirect_host_set
    ):
        raise ApiError(422, f"redirect: host {parsed.hostname!r} is not an allowed redirect host")
    return requested


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
    form = load_forms().forms.get(form_id)
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
    "<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
    "<body style='font-family:sans-serif;max-width:40em;margin:3em auto'>"
    "<h1>{title}</h1><p>{text}</p></body></html>"
)


def _consent_page(title: str, text: str, status: int = 200) -> Response[Any]:
    return Response(
        status, content_types.TEXT_HTML, _PAGE.format(title=html.escape(title), text=html.escape(text))
    )


# The consent links are opened by people: they answer HTML pages, a 400 page for a bad or expired link.
CONSENT_PAGES: dict[int, OpenAPIResponse] = {
    200: {"description": "Done: a page saying so", "content": {HTML: HTML_PAGE}},
    400: {"description": "Forged, malformed or expired link: a page saying so", "content": {HTML: HTML_PAGE}},
}


@app.get(
    "/v1/consent/confirm",
    summary="Confirm a double opt-in (link from the confirmation email)",
    tags=["consent"],
    responses=documented(CONSENT_PAGES),
)
def confirm(token: Annotated[str, Query(min_length=10, max_length=2000)]) -> Response[Any]:
    try:
        tracking.change_consent(token, "confirm", source="confirmation-link")
    except InvalidTokenError as exc:
        return _consent_page("This link does not work", f"{exc}. Please sign up again.", 400)
    metrics.add_metric(name="ConsentConfirmed", unit=MetricUnit.Count, value=1)
    return _consent_page("Subscription confirmed", "Thank you: your subscription is confirmed.")


def _unsubscribe(token: str) -> Response[Any]:
    try:
        tracking.change_consent(token, "unsubscribe", source="unsubscribe-link")
    except InvalidTokenError as exc:
        return _consent_page("This link does not work", str(exc), 400)
    metrics.add_metric(name="Unsubscribed", unit=MetricUnit.Count, value=1)
    return _consent_page("You are unsubscribed", "You will not receive these emails any more.")


@app.get(
    "/v1/unsubscribe",
    summary="Unsubscribe (link in every email)",
    tags=["consent"],
    responses=documented(CONSENT_PAGES),
)
def unsubscribe_link(token: Annotated[str, Query(min_length=10, max_length=2000)]) -> Response[Any]:
    return _unsubscribe(token)


@app.post(
    "/v1/unsubscribe",
    summary="One-click unsubscribe (RFC 8058 List-Unsubscribe-Post)",
    tags=["consent"],
    responses=documented(CONSENT_PAGES, 413),
)
def unsubscribe_one_click(token: Annotated[str, Query(min_length=10, max_length=2000)]) -> Response[Any]:
    return _unsubscribe(token)


OPENAPI_DOCUMENT = Path(__file__).parent.parent / "openapi.json"


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    """The OpenAPI document of the whole API (public and private routes), generated from the routes by
    ``python -m functions.openapi`` and checked up to date by the tests."""
    return Response(200, content_types.APPLICATION_JSON, OPENAPI_DOCUMENT.read_text())


_BODY_LIMITS = {"/v1/batch": MAX_BATCH_BYTES}
FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", JSON)
SEGMENT_PATHS = frozenset({"/v1/track", "/v1/identify", "/v1/page", "/v1/batch"})


def _unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """415 (or 400 for bytes that are not text) before any parsing: Segment calls are JSON, forms are form
    posts or JSON; the consent links read no body (a one-click unsubscribe POSTs
    ``List-Unsubscribe=One-Click`` as a form or as multipart)."""
    path = event.get("path") or ""
    if path in SEGMENT_PATHS:
        return unreadable_body(event)
    if path.startswith("/v1/forms/"):
        return unreadable_body(event, FORM_MEDIA_TYPES)
    return None


def _too_large(event: dict[str, Any]) -> dict[str, Any] | None:
    """413 before any parsing: a single call may be 32 KB, a batch 500 KB."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    limit = _BODY_LIMITS.get(event.get("path") or "", MAX_CALL_BYTES)
    if size <= limit:
        return None
    return {
        "statusCode": 413,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"message": f"body is {size} bytes; at most {limit} are accepted here"}),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _too_large(event) or _unreadable_body(event) or app.resolve(event, context)
