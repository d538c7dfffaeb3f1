"""Public tracking API: Segment-compatible calls, HTML forms, consent confirmation and unsubscribe.

Only wiring: one resolver with a router per concern (``segment``: Segment calls; ``forms``: form posts and
embed code; ``consent_pages``: the consent links), the shared error answers, and the checks a request
passes before any parsing (size, media type). The work is in ``shared``.

The Segment router is included at import; the forms and consent-link routers (and what only they use:
the form catalogue, the pages, the consent service) on the first request under their paths, before it is
routed, so a container that only takes Segment calls never imports them. With SnapStart they are
included before the snapshot; the OpenAPI document includes them before it is generated.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.http import register_error_handlers
from functions.common.observability import logger, metrics
from functions.common.responses import unreadable_body
from functions.common.snapstart import before_snapshot, preload
from functions.track import segment
from shared.settings import get_settings
from shared.tracking.identity import InvalidEmailError
from shared.tracking.web import FORM_MEDIA_TYPES


class _TrackingResolver(APIGatewayRestResolver):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        include_all_routers()  # the document lists every route
        return super().get_openapi_schema(*args, **kwargs)


settings = get_settings()
# Imported lazily (a form post's YAML parser and MIME helpers, the email address checker, the URL parser of
# a form's redirect): with SnapStart, already in the snapshot.
preload("yaml", "email_validator", "ada_url", "shared.messaging.mime")
# No resolver-wide request validation: the Segment calls and form posts are read and validated by the
# routes themselves (shared.tracking.payloads), and powertools' validation machinery costs a fifth of the
# cold start. The routes that take query parameters (the consent links, the embed code) turn it on for
# themselves (``enable_validation=True``), so their 422 answers are powertools' as before; the OpenAPI
# document (functions/openapi.py) is generated from the same routes either way.
app = _TrackingResolver(
    enable_validation=False,
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
app.include_router(segment.router)


def _forms_router() -> Router:
    from functions.track import forms

    return forms.router


def _consent_router() -> Router:
    from functions.track import consent_pages

    return consent_pages.router


# Path prefix -> the router included on the first request under it (in this order when all are: the
# order of the OpenAPI document's paths).
LATER_ROUTERS: dict[str, Callable[[], Router]] = {
    "/v1/forms/": _forms_router,
    "/v1/consent/": _consent_router,
    "/v1/unsubscribe": _consent_router,
}
_included: set[Callable[[], Router]] = set()
_including = threading.Lock()


def _include(load: Callable[[], Router]) -> None:
    with _including:
        if load not in _included:
            app.include_router(load())
            _included.add(load)


def include_all_routers() -> None:
    for load in dict.fromkeys(LATER_ROUTERS.values()):
        _include(load)


def _include_for(path: str) -> None:
    for prefix, load in LATER_ROUTERS.items():
        if path.startswith(prefix) and load not in _included:
            _include(load)


before_snapshot(include_all_routers)


@app.exception_handler(InvalidEmailError)
def _invalid_email(exc: InvalidEmailError) -> Response[Any]:
    return Response(422, content_types.APPLICATION_JSON, {"code": "invalid_email", "message": str(exc)})


OPENAPI_DOCUMENT = Path(__file__).parent.parent / "openapi.json"


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    """The OpenAPI document of the whole API (public and private routes), generated from the routes by
    ``python -m functions.openapi`` and checked up to date by the tests."""
    return Response(200, content_types.APPLICATION_JSON, OPENAPI_DOCUMENT.read_text())


def _unreadable_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """415 (or 400 for bytes that are not text) before any parsing: Segment calls are JSON, forms are form
    posts, multipart or JSON; the consent links read no body (a one-click unsubscribe POSTs
    ``List-Unsubscribe=One-Click`` as a form or as multipart)."""
    path = event.get("path") or ""
    if path in segment.SEGMENT_PATHS:
        return None  # read by the route: gzip, text/plain (analytics.js), see shared.tracking.wire
    if path.startswith("/v1/forms/"):
        return unreadable_body(event, FORM_MEDIA_TYPES)
    return None


def _too_large(event: dict[str, Any]) -> dict[str, Any] | None:
    """413 before any parsing: a single call may be 32 KB, a batch 4 MiB (a gzip body is measured again
    once inflated)."""
    body = event.get("body") or ""
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(body.encode())
    limit = segment.body_limit(event.get("path") or "")
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


def _refused_early(event: dict[str, Any]) -> dict[str, Any] | None:
    refused = _too_large(event) or _unreadable_body(event)
    if refused is not None and (event.get("path") or "").startswith("/v1/forms/"):
        from functions.track import forms  # included by the handler already (its path)

        return forms.negotiate_early(event, refused)  # a page for a browser, CORS headers for fetch
    return refused


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _include_for(event.get("path") or "")
    return _refused_early(event) or app.resolve(event, context)
