"""Consent links: the confirmation link of a double opt-in and the unsubscribe link of every email.

The links are opened by people (and fetched by mail scanners): a GET answers a page with one button and
changes nothing; the button POSTs to the same URL, which makes the change. The pages are rendered by
``shared.tracking.pages``.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit

from functions.common.observability import metrics
from functions.common.responses import HTML, HTML_PAGE, documented
from functions.track.common import new_router
from shared.services import consent
from shared.tracking.pages import CONFIRM_PAGES, PAGE_HEADERS, consent_page
from shared.tracking.tokens import InvalidTokenError

router = new_router()


def _consent_page(
    title: str, text: str, status: int = 200, button: tuple[str, str] | None = None
) -> Response[Any]:
    """A plain page; ``button`` = (label, token): one button that POSTs to this same URL."""
    return Response(status, content_types.TEXT_HTML, consent_page(title, text, button), headers=PAGE_HEADERS)


def _bad_link(exc: InvalidTokenError, hint: str = "") -> Response[Any]:
    return _consent_page("This link does not work", f"{exc}.{hint}", 400)


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


@router.get(
    "/v1/consent/confirm",
    summary="Confirmation link (double opt-in): a page with one button; changes nothing",
    tags=["consent"],
    responses=documented(CONSENT_PAGES),
    enable_validation=True,  # the token query parameter (see functions.track.handler)
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
    _, title, text = CONFIRM_PAGES[outcome.result]
    return _consent_page(title, text)  # a GET only tells: the status is the page's, 200


@router.post(
    "/v1/consent/confirm",
    summary="Confirm a double opt-in (the button of the confirmation page)",
    tags=["consent"],
    responses=documented(CONFIRM_POST_PAGES, 413),
    enable_validation=True,
)
def confirm(token: TOKEN) -> Response[Any]:
    try:
        outcome = consent.confirm(token)
    except InvalidTokenError as exc:
        return _bad_link(exc, " Please sign up again.")
    if outcome.changed:
        metrics.add_metric(name="ConsentConfirmed", unit=MetricUnit.Count, value=1)
    status, title, text = CONFIRM_PAGES[outcome.result]
    return _consent_page(title, text, status)


@router.get(
    "/v1/unsubscribe",
    summary="Unsubscribe link (in every email): a page with one button; changes nothing",
    tags=["consent"],
    responses=documented(CONSENT_PAGES),
    enable_validation=True,  # the token query parameter (see functions.track.handler)
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


@router.post(
    "/v1/unsubscribe",
    summary="Unsubscribe: the page's button, and the RFC 8058 one-click POST (List-Unsubscribe-Post)",
    tags=["consent"],
    responses=documented(CONSENT_PAGES, 413),
    enable_validation=True,
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
