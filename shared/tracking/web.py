"""Form posts as the web sends them, read without I/O: who posts (origin), what the client can read
(content negotiation), the body (URL-encoded, multipart without files, JSON) and the form's rules.

``Origin`` (else ``Referer``) names the page that posts; :func:`wants_html` tells a browser navigation
(it gets a page) from ``fetch``/XHR and API clients (they get JSON). Multipart bodies are read by the
standard library's MIME parser (``email``), not by hand.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import ValidationError

from shared.tracking.forms import FormDefinition
from shared.tracking.payloads import FormSubmission

MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
FORM_MEDIA_TYPES = (URLENCODED, MULTIPART, "application/json")


class FormRefusedError(Exception):
    """A refused form post; ``code`` is stable (JSON clients, error_redirect's query, the page's words)."""

    def __init__(self, status: int, code: str, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.problems: list[dict[str, str]] = []  # request-validation detail, as other routes answer it


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


def origin_allowed(origin: str | None, allowed: Collection[str]) -> bool:
    """No origin (not a browser page) or one of ``allowed``."""
    return origin is None or origin in allowed


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


def back_url(headers: dict[str, str], allowed: Collection[str]) -> str | None:
    """The page the form was on (the ``Referer``), if it is on an allowed origin: the page's way back."""
    referer = headers.get("referer")
    if not referer or origin_of({"referer": referer}) not in allowed:
        return None
    return referer


def multipart_fields(content_type: str, raw: bytes) -> dict[str, str]:
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


def parse_fields(content_type: str, raw: bytes) -> dict[str, Any]:
    """A form post's fields from its body: URL-encoded, multipart (no files) or JSON (an object)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == MULTIPART:
        return multipart_fields(content_type, raw)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise FormRefusedError(400, "not_utf8", "the body is not UTF-8 text") from None
    if kind == URLENCODED:
        return dict(parse_qsl(text, keep_blank_values=True))
    if kind in ("", "application/json"):
        try:
            fields = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise FormRefusedError(400, "malformed_json", f"body is not valid JSON: {exc.msg}") from None
        if not isinstance(fields, dict):
            raise FormRefusedError(422, "validation_error", "body: a JSON object is required")
        return fields
    raise FormRefusedError(415, "unsupported_media_type", f"send the form as {', '.join(FORM_MEDIA_TYPES)}")


def submission_of(form: FormDefinition, fields: dict[str, Any]) -> FormSubmission:
    """The post's fields checked against the form's rules, then read into a :class:`FormSubmission`."""
    problems = form.problems(fields)
    if problems:
        refused = FormRefusedError(
            422, problems[0].code, "; ".join(p.message for p in problems), tuple(p.field for p in problems)
        )
        refused.problems = [{"field": f"body.{p.field}", "message": p.message} for p in problems]
        raise refused
    try:
        return FormSubmission.model_validate(fields)
    except ValidationError as exc:
        problems_ = [
            {"field": ".".join(("body", *(str(p) for p in e["loc"]))), "message": e["msg"]}
            for e in exc.errors()
        ]
        names = tuple(dict.fromkeys(str(e["loc"][0]) for e in exc.errors() if e["loc"]))
        refused = FormRefusedError(
            422, "validation_error", "; ".join(f"{p['field']}: {p['message']}" for p in problems_), names
        )
        refused.problems = problems_
        raise refused from None


def with_query(url: str, params: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def accepted_language(headers: dict[str, str]) -> str:
    """The visitor's first language (``Accept-Language``), for a page about a form we do not know."""
    first = (headers.get("accept-language") or "en").split(",", 1)[0].split(";", 1)[0].strip()
    return first or "en"
