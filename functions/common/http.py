"""Error responses shared by the API functions: 4xx with a message naming the field at fault."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError


class ApiError(Exception):
    """An error the client can fix: answered with ``status`` and ``{"message": ...}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(status, content_types.APPLICATION_JSON, body, headers=headers)


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response[Any]:
        return json_response(exc.status, {"message": exc.message}, exc.headers)

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response[Any]:
        problems = [
            {
                "field": ".".join(str(p) for p in error.get("loc", ())),
                "message": error.get("msg", "is invalid"),
            }
            for error in exc.errors()
        ]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return json_response(422, {"message": message, "errors": problems})
