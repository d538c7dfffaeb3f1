"""HTML forms: ``POST /v1/forms/{form_id}`` (sign-ups, contact requests, downloads) and each form's embed
code, ``GET /v1/forms/{form_id}/embed``.

Who may post: a browser's post is taken only from an allow-listed origin (``settings.allowed_origins``),
read from ``Origin`` (or ``Referer`` when a browser sends no ``Origin``), refused before anything is read,
stored or mailed. A client that sends neither (a server, curl) is not a browser page: it is taken as
before, and the other guards apply to everyone (the form id, validation, rate limits, the honeypot, and
double opt-in, which keeps a forged sign-up from ever receiving anything but the one confirmation email).

Who gets what: a browser navigation (``Sec-Fetch-Mode: navigate``, or ``Accept`` preferring HTML) gets a
readable page in the form's language, or a 303 to the form's ``error_redirect`` with the error code in
the query; ``fetch()``/XHR and API clients get JSON with a ``code``. Bodies: URL-encoded (a plain HTML
form), ``multipart/form-data`` (``FormData``; no files) or JSON.
"""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field

from functions.common.http import ApiError
from functions.common.observability import logger, metrics
from functions.common.responses import HTML, JSON, deferred_request_body, documented
from functions.track.common import Accepted, current_event, new_router, now, store
from shared.settings import get_settings
from shared.tracking.embed import embed_code
from shared.tracking.forms import FormDefinition, load_forms
from shared.tracking.identity import InvalidEmailError
from shared.tracking.normalise import from_form
from shared.tracking.pages import FORM_PAGE_CSP, form_error_page, thank_you_page
from shared.tracking.payloads import FormSubmission
from shared.tracking.redirects import RedirectError, safe_redirect
from shared.tracking.web import (
    MULTIPART,
    URLENCODED,
    FormRefusedError,
    accepted_language,
    back_url,
    origin_allowed,
    origin_of,
    parse_fields,
    submission_of,
    wants_html,
    with_query,
)

router = new_router()

TEXT_PLAIN = "text/plain"
# The readable pages are never cached (they answer one post) and never framed.
FORM_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": FORM_PAGE_CSP,
    "X-Frame-Options": "DENY",
    "Vary": "Origin, Accept",
}


class FormAccepted(Accepted):
    confirmation_email: bool = Field(
        default=False,
        description="A confirmation email is on its way (double opt-in): nothing else is sent until the "
        "person follows its link",
    )


def _submission(form: FormDefinition) -> FormSubmission:
    event = current_event(router)
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode()
    return submission_of(form, parse_fields(event.headers.get("content-type") or "", raw))


def _allowed() -> list[str]:
    return get_settings().allowed_origin_list


def _redirect_target(requested: str | None) -> str | None:
    """The allow-listed thank-you page, as browsers parse it (see shared.tracking.redirects)."""
    if not requested:
        return None
    try:
        return safe_redirect(requested, get_settings().allowed_redirect_host_set)
    except RedirectError as exc:
        raise FormRefusedError(422, "redirect_not_allowed", str(exc), ("redirect",)) from None


# -- answers ---------------------------------------------------------------------------------------------


def refusal(
    exc: FormRefusedError, form_id: str, form: FormDefinition | None, headers: dict[str, str]
) -> Response[Any]:
    """A refused post, answered as the client can read it: a page, a 303 to ``error_redirect``, or JSON."""
    metrics.add_metric(name="FormRefused", unit=MetricUnit.Count, value=1)
    if not wants_html(headers):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.fields:
            body["fields"] = list(exc.fields)
        if exc.problems:
            body["errors"] = exc.problems
        return Response(exc.status, content_types.APPLICATION_JSON, body, headers={"Vary": "Origin, Accept"})
    if form is not None and form.error_redirect and exc.code != "origin_not_allowed":
        try:
            target = safe_redirect(form.error_redirect, get_settings().allowed_redirect_host_set)
        except RedirectError:
            logger.warning("error_redirect not allowed", extra={"form_id": form_id})
        else:
            params = [("error", exc.code), ("form", form_id), *(("field", f) for f in exc.fields)]
            return Response(
                303, content_types.TEXT_PLAIN, "", headers={"Location": with_query(target, params)}
            )
    language = form.language if form else accepted_language(headers)
    back = back_url(headers, _allowed()) if exc.code != "origin_not_allowed" else None
    page = form_error_page(language, exc.code, exc.fields, back)
    return Response(exc.status, content_types.TEXT_HTML, page, headers=FORM_PAGE_HEADERS)


def _form_request_body() -> dict[str, Any]:
    schema = FormSubmission.model_json_schema()
    return {
        "required": True,
        "content": {URLENCODED: {"schema": schema}, MULTIPART: {"schema": schema}, JSON: {"schema": schema}},
    }


@router.post(
    "/v1/forms/<form_id>",
    summary="Submit an HTML form (sign-up, newsletter, contact request, download)",
    tags=["forms"],
    responses=documented(
        {
            200: {
                "description": "Stored (no redirect): JSON, or a thank-you page for a browser navigation",
                "content": {JSON: {"model": FormAccepted}, HTML: {"schema": {"type": "string"}}},
            },
            303: {
                "description": "Stored; redirect to the form's thank-you page (the `redirect` field or the "
                "form's `redirect`); or refused, to the form's `error_redirect` (`?error=<code>`)",
                "headers": {"Location": {"description": "The thank-you page", "schema": {"type": "string"}}},
                "content": {},
            },
        },
        *(400, 403, 404, 413, 415, 422),
        e403="A browser page on an origin that is not allowed (Origin, else Referer)",
        e404="Unknown form",
    ),
    # The body is parsed by the handler (form, multipart or JSON); documented here so clients and tests
    # know it.
    openapi_extensions=deferred_request_body(_form_request_body),
)
def submit_form(
    form_id: Annotated[
        str, PathParam(description="A form of the forms catalogue (RM_FORMS_FILE)", examples=["newsletter"])
    ],
) -> Response[Any]:
    """Body: the fields of the form (see its embed code, ``GET /v1/forms/{form_id}/embed``): email
    (required), first_name, last_name, phone, company, job_title, message, consent_email/sms/phone/post
    (checkboxes), anonymous_id, redirect (allow-listed thank-you page), website (the honeypot)."""
    headers = dict(router.current_event.headers)
    headers = {k.lower(): v for k, v in headers.items()}
    form: FormDefinition | None = None
    try:
        if not origin_allowed(origin_of(headers), _allowed()):
            # Before anything is read: a page elsewhere cannot sign anyone up through its visitors.
            logger.info("form post from an origin not allowed", extra={"origin": origin_of(headers)})
            raise FormRefusedError(403, "origin_not_allowed", "this form may not be posted from this origin")
        form = load_forms(get_settings().forms_file).forms.get(form_id)
        if form is None:
            raise FormRefusedError(404, "unknown_form", f"form_id: unknown form {form_id!r}")
        submission = _submission(form)
        redirect = _redirect_target(submission.redirect or form.redirect)
        check_inbox = form.double_opt_in and (
            "email" in form.consent_channels_default
            or (submission.consent_email and form.takes_consent("email"))
        )
        if submission.website:
            # Honeypot filled in: a bot. Answer as if it worked, store nothing.
            logger.info("form honeypot triggered", extra={"form_id": form_id})
            metrics.add_metric(name="FormSpamBlocked", unit=MetricUnit.Count, value=1)
            accepted = Accepted(stored=0, duplicates=0)
        else:
            try:
                accepted = store(router, [from_form(form_id, form, submission, now())])
            except InvalidEmailError as exc:
                raise FormRefusedError(422, "invalid_email", str(exc), ("email",)) from None
    except FormRefusedError as exc:
        return refusal(exc, form_id, form, headers)
    if redirect:
        return Response(303, content_types.TEXT_PLAIN, "", headers={"Location": redirect})
    if wants_html(headers):
        page = thank_you_page(form.language, check_inbox, back_url(headers, _allowed()))
        return Response(200, content_types.TEXT_HTML, page, headers=FORM_PAGE_HEADERS)
    answer = FormAccepted(**accepted.model_dump(), confirmation_email=check_inbox)
    return Response(
        200, content_types.APPLICATION_JSON, answer.model_dump(), headers={"Vary": "Origin, Accept"}
    )


@router.get(
    "/v1/forms/<form_id>/embed",
    summary="The embed code of a form: HTML to paste into a page (labels, honeypot, consent wording)",
    tags=["forms"],
    responses=documented(
        {200: {"description": "The HTML to paste", "content": {TEXT_PLAIN: {"schema": {"type": "string"}}}}},
        404,
        e404="Unknown form",
    ),
    enable_validation=True,  # the script query parameter (see functions.track.handler)
)
def form_embed(
    form_id: Annotated[str, PathParam(description="A form of the forms catalogue", examples=["newsletter"])],
    script: Annotated[
        bool, Query(description="Add a small script that sends the form with fetch() and answers in place")
    ] = False,
) -> Response[str]:
    form = load_forms(get_settings().forms_file).forms.get(form_id)
    if form is None:
        raise ApiError(404, f"form_id: unknown form {form_id!r}", code="unknown_form")
    settings = get_settings()
    base = settings.public_base_url
    if not base:
        ctx = current_event(router).request_context
        base = f"https://{ctx.domain_name}/{ctx.stage}" if ctx.domain_name else ""
    code = embed_code(form_id, form, f"{base}/v1/forms/{form_id}", script=script)
    return Response(200, "text/plain; charset=utf-8", code, headers={"Cache-Control": "max-age=300"})


def negotiate_early(event: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """A form post refused before routing (413, 415, 400 from the body checks), as the client can read it:
    a page for a navigation; for ``fetch`` from an allowed origin, JSON it may read (CORS headers)."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    origin = origin_of(headers)
    if wants_html(headers) and origin_allowed(origin, _allowed()):
        body = json.loads(answer.get("body") or "{}")
        form_id = (event.get("path") or "").removeprefix("/v1/forms/").split("/", 1)[0]
        form = load_forms(get_settings().forms_file).forms.get(form_id)
        language = form.language if form else accepted_language(headers)
        page = form_error_page(language, str(body.get("code", "")), (), back_url(headers, _allowed()))
        return {
            "statusCode": answer["statusCode"],
            "headers": {"Content-Type": "text/html; charset=utf-8", **FORM_PAGE_HEADERS},
            "body": page,
            "isBase64Encoded": False,
        }
    if origin and origin_allowed(origin, _allowed()):
        answer = {
            **answer,
            "headers": {**answer.get("headers", {}), "Access-Control-Allow-Origin": origin, "Vary": "Origin"},
        }
    return answer
