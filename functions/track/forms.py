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

import json
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path as PathParam
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import Field, ValidationError

from functions.common.http import ApiError
from functions.common.observability import logger, metrics
from functions.common.responses import HTML, JSON, documented, media_type
from functions.track.common import Accepted, current_event, new_router, now, store
from shared.settings import get_settings
from shared.tracking.embed import embed_code
from shared.tracking.forms import FormDefinition, load_forms
from shared.tracking.identity import InvalidEmailError
from shared.tracking.normalise import from_form
from shared.tracking.pages import FORM_PAGE_CSP, form_error_page, thank_you_page
from shared.tracking.payloads import FormSubmission
from shared.tracking.redirects import RedirectError, safe_redirect

router = new_router()

TEXT_PLAIN = "text/plain"
MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
FORM_MEDIA_TYPES = (URLENCODED, MULTIPART, JSON)
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


class FormRefusedError(Exception):
    """A refused form post; ``code`` is stable (JSON clients, error_redirect's query, the page's words)."""

    def __init__(self, status: int, code: str, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.problems: list[dict[str, str]] = []  # request-validation detail, as other routes answer it


# -- who is asking -------------------------------------------------------------------------------------


def origin_of(headers: dict[str, str]) -> str | None:
    """The posting page's origin: ``Origin``, else the origin of ``Referer``; None when neither is sent
    (not a browser page). A ``Referer`` that does not parse counts as the origin ``null``."""
    origin = headers.get("origin")
    if origin:
        return origin.strip()
    referer = headers.get("referer")
    if not referer:
        return None
    try:
        parts = urlsplit(referer)
    except ValueError:
        return "null"
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else "null"


def origin_allowed(origin: str | None) -> bool:
    return origin is None or origin in get_settings().allowed_origin_list


def wants_html(headers: dict[str, str]) -> bool:
    """A browser navigation (a plain form post): it should get a page, not JSON. ``fetch``/XHR send
    ``Sec-Fetch-Mode: cors`` (or no such header) and ``Accept: */*`` unless told otherwise."""
    mode = (headers.get("sec-fetch-mode") or "").lower()
    if mode == "navigate":
        return True
    if mode in {"cors", "no-cors", "same-origin"}:
        return False
    return _quality(headers.get("accept") or "", "text", "html") > _quality(
        headers.get("accept") or "", "application", "json"
    )


def _quality(accept: str, kind: str, sub: str) -> float:
    """The q-value ``accept`` gives ``kind/sub`` (RFC 9110 §12.5.1: the most specific range wins)."""
    best: tuple[int, float] = (-1, 0.0)
    for item in accept.split(","):
        media, *params = (p.strip() for p in item.split(";"))
        if "/" not in media:
            continue
        a, b = (x.strip().lower() for x in media.split("/", 1))
        specificity = 2 if (a, b) == (kind, sub) else 1 if (a == kind and b == "*") else 0
        if not (specificity or (a, b) == ("*", "*")):
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if specificity > best[0]:
            best = (specificity, q)
    return best[1]


def back_url(headers: dict[str, str]) -> str | None:
    """The page the form was on (the ``Referer``), if it is on an allowed origin: the page's way back."""
    referer = headers.get("referer")
    if not referer or origin_of({"referer": referer}) not in get_settings().allowed_origin_list:
        return None
    return referer


# -- the body ------------------------------------------------------------------------------------------


def _multipart_fields(content_type: str, raw: bytes) -> dict[str, str]:
    """The fields of a ``multipart/form-data`` body, read by the standard library's MIME parser."""
    from email.parser import BytesParser  # lazily: only multipart posts need it
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
    )
    if not message.is_multipart() or message.defects:
        raise FormRefusedError(400, "malformed_body", "the multipart body does not parse")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_content_disposition() != "form-data" or not isinstance(name, str):
            raise FormRefusedError(400, "malformed_body", "each multipart part needs a form-data name")
        if part.get_filename() is not None:
            raise FormRefusedError(415, "files_not_accepted", f"{name}: files are not accepted")
        payload = part.get_payload(decode=True)
        try:
            fields[name] = (payload if isinstance(payload, bytes) else b"").decode(
                part.get_content_charset() or "utf-8"
            )
        except (LookupError, UnicodeDecodeError):
            raise FormRefusedError(400, "not_utf8", f"{name}: not UTF-8 text") from None
    return fields


def _raw_fields() -> dict[str, Any]:
    event = router.current_event
    headers = event.headers
    kind = media_type(dict(headers))
    if kind == MULTIPART:
        raw = _b64(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
        return _multipart_fields(headers.get("content-type") or "", raw)
    text = event.decoded_body or ""
    if kind == URLENCODED:
        return dict(parse_qsl(text, keep_blank_values=True))
    if kind in ("", JSON):
        try:
            fields = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise FormRefusedError(400, "malformed_json", f"body is not valid JSON: {exc.msg}") from None
        if not isinstance(fields, dict):
            raise FormRefusedError(422, "validation_error", "body: a JSON object is required")
        return fields
    raise FormRefusedError(415, "unsupported_media_type", f"send the form as {', '.join(FORM_MEDIA_TYPES)}")


def _b64(body: str) -> bytes:
    import base64

    return base64.b64decode(body)


def _submission(form: FormDefinition) -> FormSubmission:
    fields = _raw_fields()
    problems = form.problems(fields)
    if problems:
        first = problems[0].code
        refused = FormRefusedError(
            422, first, "; ".join(p.message for p in problems), tuple(p.field for p in problems)
        )
        refused.problems = [{"field": f"body.{p.field}", "message": p.message} for p in problems]
        raise refused
    try:
        return FormSubmission.model_validate(fields)
    except ValidationError as exc:
        names = tuple(dict.fromkeys(str(e["loc"][0]) for e in exc.errors() if e["loc"]))
        problems_ = [
            {"field": ".".join(("body", *(str(p) for p in e["loc"]))), "message": e["msg"]}
            for e in exc.errors()
        ]
        refused = FormRefusedError(
            422, "validation_error", "; ".join(f"{p['field']}: {p['message']}" for p in problems_), names
        )
        refused.problems = problems_
        raise refused from None


def _redirect_target(requested: str | None) -> str | None:
    """The allow-listed thank-you page, as browsers parse it (see shared.tracking.redirects)."""
    if not requested:
        return None
    try:
        return safe_redirect(requested, get_settings().allowed_redirect_host_set)
    except RedirectError as exc:
        raise FormRefusedError(422, "redirect_not_allowed", str(exc), ("redirect",)) from None


# -- answers ---------------------------------------------------------------------------------------------


def _with_query(url: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def refusal(
    exc: FormRefusedError, form_id: str, form: FormDefinition | None, headers: dict[str, str]
) -> Response[Any]:
    """A refused post, answered as the client can read it: a page, a 303 to ``error_redirect``, or JSON."""
    metrics.add_metric(name="FormRefusedError", unit=MetricUnit.Count, value=1)
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
                303, content_types.TEXT_PLAIN, "", headers={"Location": _with_query(target, params)}
            )
    language = form.language if form else _accepted_language(headers)
    back = back_url(headers) if exc.code != "origin_not_allowed" else None
    page = form_error_page(language, exc.code, exc.fields, back)
    return Response(exc.status, content_types.TEXT_HTML, page, headers=FORM_PAGE_HEADERS)


def _accepted_language(headers: dict[str, str]) -> str:
    """The visitor's first language (``Accept-Language``), for a page about a form we do not know."""
    first = (headers.get("accept-language") or "en").split(",", 1)[0].split(";", 1)[0].strip()
    return first or "en"


FORM_SCHEMA = FormSubmission.model_json_schema()


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
    openapi_extensions={
        "requestBody": {
            "required": True,
            "content": {
                URLENCODED: {"schema": FORM_SCHEMA},
                MULTIPART: {"schema": FORM_SCHEMA},
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
    """Body: the fields of the form (see its embed code, ``GET /v1/forms/{form_id}/embed``): email
    (required), first_name, last_name, phone, company, job_title, message, consent_email/sms/phone/post
    (checkboxes), anonymous_id, redirect (allow-listed thank-you page), website (the honeypot)."""
    headers = dict(router.current_event.headers)
    headers = {k.lower(): v for k, v in headers.items()}
    form: FormDefinition | None = None
    try:
        if not origin_allowed(origin_of(headers)):
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
        page = thank_you_page(form.language, check_inbox, back_url(headers))
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
    if wants_html(headers) and origin_allowed(origin):
        body = json.loads(answer.get("body") or "{}")
        form_id = (event.get("path") or "").removeprefix("/v1/forms/").split("/", 1)[0]
        form = load_forms(get_settings().forms_file).forms.get(form_id)
        language = form.language if form else _accepted_language(headers)
        page = form_error_page(language, str(body.get("code", "")), (), back_url(headers))
        return {
            "statusCode": answer["statusCode"],
            "headers": {"Content-Type": "text/html; charset=utf-8", **FORM_PAGE_HEADERS},
            "body": page,
            "isBase64Encoded": False,
        }
    if origin and origin_allowed(origin):
        answer = {
            **answer,
            "headers": {**answer.get("headers", {}), "Access-Control-Allow-Origin": origin, "Vary": "Origin"},
        }
    return answer
