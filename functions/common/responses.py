"""The responses the API functions document on their routes (``responses=`` of the route decorators).

Every error answer is JSON with a ``message`` (see :mod:`functions.common.http`); a 422 from request
validation also lists the fields at fault. :func:`documented` builds a route's ``responses`` from its
success response and the error statuses it really answers, so the OpenAPI document (and schemathesis,
which checks the API against it) knows each of them. :func:`unreadable_body` answers the 415 and 400
the documents promise before powertools reads a body of a media type the route does not take, or no text.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseContentSchema
from pydantic import BaseModel, ConfigDict, Field

# The error models document the answers (the answers themselves are built as dicts): their validators
# are built if something validates one, never at a cold start.
_DOCUMENTATION_ONLY = ConfigDict(defer_build=True)


class ErrorMessage(BaseModel):
    """An error the client can fix."""

    model_config = _DOCUMENTATION_ONLY

    code: str = Field(description="Stable machine-readable reason, e.g. malformed_json, invalid_write_key")
    message: str = Field(description="What is wrong, naming the field at fault")


class FieldProblem(BaseModel):
    model_config = _DOCUMENTATION_ONLY

    field: str = Field(description="Where: body.<field>, query.<name>, ...")
    message: str


class ValidationProblem(BaseModel):
    """The request is well-formed but breaks a rule."""

    model_config = _DOCUMENTATION_ONLY

    code: str = Field(description="Stable machine-readable reason, e.g. validation_error, invalid_call")
    message: str = Field(description="All problems, `field: problem; ...`")
    errors: list[FieldProblem] | None = Field(
        default=None, description="One entry per field at fault (request validation only)"
    )


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed request body: not valid JSON (or gzip), not UTF-8 text, nested too deeply",
    401: "Missing, malformed or unknown write key (HTTP Basic, write key as the user name)",
    403: "No valid credentials for a private route (IAM or a console token; `x-api-key` locally), or a "
    "console user whose role may not call it",
    404: "Not found",
    413: "Request body too large",
    415: "Unsupported request content type",
    422: "Validation error: the message names the field at fault",
}

JSON = "application/json"
TEXT = "text/plain"
HTML = "text/html"
HTML_PAGE: OpenAPIResponseContentSchema = {
    "schema": {"type": "string", "description": "An HTML page for people"}
}


def error(status: int, description: str | None = None) -> OpenAPIResponse:
    model = ValidationProblem if status == 422 else ErrorMessage
    return {
        "description": description or ERROR_DESCRIPTIONS[status],
        "content": {JSON: {"model": model}},
    }


def documented(
    success: dict[int, OpenAPIResponse] | int = 200,
    *errors: int,
    **descriptions: str,
) -> dict[int, OpenAPIResponse]:
    """``responses=`` for a route: ``success`` (a status whose body is the route's return annotation, or
    full response objects), then one entry per error status, e.g. ``documented(200, 404, 422)``.
    ``descriptions`` override an error's description: ``documented(200, 404, e404="Unknown customer")``.
    422 is always included: powertools validates every route's parameters."""
    responses: dict[int, OpenAPIResponse] = (
        {success: {"description": "Successful Response"}} if isinstance(success, int) else dict(success)
    )
    for status in sorted({*errors, 422}):
        responses[status] = error(status, descriptions.get(f"e{status}"))
    return responses


def media_type(headers: dict[str, str] | None) -> str:
    """The request's media type (``Content-Type`` without parameters, lower case); "" if none was sent."""
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            return (value or "").split(";", 1)[0].strip().lower()
    return ""


def _raw_error(status: int, message: str, code: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": JSON},
        "body": json.dumps({"code": code, "message": message}),
        "isBase64Encoded": False,
    }


# Fewer brackets than this cannot nest deep enough to trouble the JSON parser: no need to parse twice.
_BRACKETS_WITHOUT_DOUBT = 500


def unreadable_body(event: dict[str, Any], accepted: tuple[str, ...] = (JSON,)) -> dict[str, Any] | None:
    """A 415 (a media type the route does not take) or 400 (not UTF-8 text; JSON nested too deeply to
    parse) proxy response for a request body powertools cannot read, answered before it tries: it would
    read form and multipart bodies on a JSON route, and crash on a multipart body without a boundary, on
    bytes that are not UTF-8 and on JSON nested past the parser's recursion limit. A body without
    ``Content-Type`` is read as JSON, as powertools does."""
    body = event.get("body")
    if not body:
        return None
    kind = media_type(event.get("headers"))
    if kind and kind not in accepted:
        return _raw_error(
            415,
            f"Content-Type {kind} is not accepted here: send {' or '.join(accepted)}",
            "unsupported_media_type",
        )
    try:
        text = base64.b64decode(body, validate=True).decode() if event.get("isBase64Encoded") else body
    except (binascii.Error, UnicodeDecodeError):
        return _raw_error(400, "the body is not UTF-8 text", "not_utf8")
    if kind in ("", JSON) and text.count("[") + text.count("{") > _BRACKETS_WITHOUT_DOUBT:
        try:
            json.loads(text)
        except RecursionError:  # Python's JSON parser gives up at about 1000 levels
            return _raw_error(400, "the body nests too deeply", "malformed_json")
        except ValueError:
            pass  # not JSON: the route answers that
    return None


class _Deferred(Mapping[str, Any]):
    """A mapping computed on first read (see :func:`deferred_request_body`)."""

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build = build
        self._value: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        if self._value is None:
            self._value = self._build()
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


def deferred_request_body(build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A route's ``openapi_extensions`` documenting its request body (``build()``: the OpenAPI request
    body object), built when the OpenAPI document is generated, not when the function starts: no request
    reads it, and generating the JSON schemas of the Segment call and form models at import cost a tenth
    of the tracking function's cold import. powertools copies the extensions when a router's route is
    registered, so the body object itself is the lazy part."""
    return {"requestBody": _Deferred(build)}
