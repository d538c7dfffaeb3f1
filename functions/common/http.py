"""Error responses shared by the API functions: 4xx with a message naming the field at fault."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from botocore.exceptions import BotoCoreError, ClientError

from functions.common.observability import logger
from shared.dal.bus import PublishError
from shared.dal.customers import ProfileErasedError
from shared.dal.errors import StoreError, is_transient_failure

# Seconds a client should wait before retrying a request refused because AWS was busy.
RETRY_AFTER_SECONDS = 2


# The ``code`` of an error answer when the raiser names none: stable, machine-readable (clients such as
# the Segment and RudderStack SDKs read ``code`` from every error body).
DEFAULT_CODES: dict[int, str] = {
    400: "malformed_body",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "service_busy",
}


class ApiError(Exception):
    """An error the client can fix: answered with ``status`` and ``{"code": ..., "message": ...}``."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.code = code or DEFAULT_CODES.get(status, "error")


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(status, content_types.APPLICATION_JSON, body, headers=headers)


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response[Any]:
        return json_response(exc.status, {"code": exc.code, "message": exc.message}, exc.headers)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[Any]:
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            # A body that does not parse is malformed (400), not a broken rule (422).
            return json_response(400, {"code": "malformed_json", "message": "the body is not valid JSON"})
        problems = [
            {
                "field": ".".join(str(p) for p in error.get("loc", ())),
                "message": error.get("msg", "is invalid"),
            }
            for error in exc.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return json_response(422, {"code": "validation_error", "message": message, "errors": problems})

    def _aws_failure(exc: Exception) -> Response[Any]:
        if not isinstance(exc, ProfileErasedError) and not is_transient_failure(exc):
            raise exc  # a real fault: the function fails, its error alarm sees it
        # Throttling or a brief AWS failure that outlasted the SDK's retries, or a request that met the
        # person's erasure half-way (retried, it is a new person). Nothing the request
        # committed is lost and a retry of the same request stores nothing twice (writes are keyed by
        # event id), so tell the client to retry instead of answering a bare 502.
        logger.warning("AWS busy; answering 503", exc_info=exc)
        return json_response(
            503,
            {"code": "service_busy", "message": "The service is busy; retry the same request shortly."},
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    for error_type in (StoreError, ClientError, BotoCoreError, PublishError, ProfileErasedError):
        app.exception_handler(error_type)(_aws_failure)
