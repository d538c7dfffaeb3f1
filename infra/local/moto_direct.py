"""A direct path to moto's response classes for the JSON-protocol requests of the local stack.

Half of the moto process's CPU was spent outside any service operation (py-spy on ``make demo``):
``DomainDispatcherApplication`` finding the backend for each request, Flask building its request and
app contexts, werkzeug matching the URL map, flask-cors looking at the response. For a request in the
JSON protocol (an ``X-Amz-Target`` header: DynamoDB, DynamoDB Streams, EventBridge, SQS) all of that
ends in one call, the service's ``BaseResponse.dispatch`` with moto's request object, whose answer
Flask wraps in a werkzeug ``Response``. :class:`DirectJson` makes that call itself, exactly as moto's
``convert_to_flask_response`` does (same request class, same recorder hook, same ``ClientError``
answer, same ``Response`` object, the header flask-cors adds), and hands every other request to moto's
dispatcher unchanged: S3, SES and every query-protocol call, unsigned requests, a path other than
``/``, a request carrying ``Origin`` (flask-cors answers those), and any target it does not know.

It replaces only the innermost WSGI app: the wrappers around it (control endpoint and request counts,
fault injection, the DynamoDB serial lock, presigned-link expiry) see every request as before.
``tests/integration/test_moto_direct.py`` checks that both paths give the same answers.

moto's request object (werkzeug's ``Request``) is built as moto builds it, with two values computed
the cheap way (``BaseResponse.setup_class`` reads both for every request: a third of its cost):

- the form and files of a JSON body: werkzeug runs its form parser machinery to find that it does not
  parse ``application/x-amz-json-*``, and leaves the stream unread with empty form and files: those
  are set directly;
- the URL root (``raw_url``'s scheme, host and script root): computed from the request's scheme, Host
  header, server address and root path alone, once per distinct set of those (one per client address).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from infra.local.faults import signing_service

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Dispatch = Callable[..., Any]


def _handlers() -> dict[tuple[str, str], Dispatch]:
    """(signing service, X-Amz-Target's prefix) -> the dispatch moto's URL map routes ``/`` to (the
    backend ``DomainDispatcherApplication.infer_service_region_host`` picks for that pair)."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
    from moto.events.responses import EventsHandler
    from moto.sqs import urls as sqs_urls

    return {
        ("dynamodb", "DynamoDB_20120810"): DynamoHandler.dispatch,
        ("dynamodb", "DynamoDBStreams_20120810"): DynamoDBStreamsHandler.dispatch,
        ("events", "AWSEvents"): EventsHandler.dispatch,
        ("sqs", "AmazonSQS"): sqs_urls.dispatch,
    }


_URL_ROOTS: dict[tuple[Any, ...], str] = {}


def _request_class() -> type:
    from moto.moto_server.werkzeug_app import BackendRequest

    class JsonRequest(BackendRequest):
        """moto's request for a JSON-protocol body (see the module docstring)."""

        def __init__(self, environ: dict[str, Any]) -> None:
            super().__init__(environ)
            # werkzeug's ``_load_form_data`` for a content type its form parser does not take.
            state = self.__dict__
            state["stream"], state["form"], state["files"] = (
                self.stream,
                self.parameter_storage_class(),
                self.parameter_storage_class(),
            )
            trusted = self.trusted_hosts
            key = (
                self.scheme,
                self.root_path,
                environ.get("HTTP_HOST"),
                self.server,
                None if trusted is None else tuple(trusted),
            )
            root = _URL_ROOTS.get(key)
            if root is None:
                if len(_URL_ROOTS) > 256:
                    _URL_ROOTS.clear()
                root = _URL_ROOTS[key] = self.url_root
            state["url_root"] = root

    return JsonRequest


class DirectJson:
    """WSGI app: known JSON-protocol requests straight to moto's response class, the rest to ``fallback``."""

    def __init__(self, fallback: Wsgi) -> None:
        from moto.settings import DISABLE_GLOBAL_CORS

        self.fallback = fallback
        self._handlers = _handlers()
        self._cors = not DISABLE_GLOBAL_CORS  # moto's Flask apps answer through flask-cors then
        self.request_class = _request_class()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fallback, name)  # moto's dispatcher's attributes (app_instances...)

    def handler_for(self, environ: dict[str, Any]) -> Dispatch | None:
        target = environ.get("HTTP_X_AMZ_TARGET")
        if (
            not target
            or environ.get("PATH_INFO") != "/"
            or environ.get("REQUEST_METHOD") != "POST"
            or "HTTP_ORIGIN" in environ  # flask-cors adds its headers to those answers
        ):
            return None
        prefix, dot, _operation = str(target).partition(".")
        if not dot:
            return None
        return self._handlers.get((signing_service(environ), prefix))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        handler = self.handler_for(environ)
        if handler is None:
            return self.fallback(environ, start_response)
        # What moto's ``convert_to_flask_response`` does inside Flask, without Flask around it.
        from botocore.exceptions import ClientError
        from flask import Response
        from moto.moto_api import recorder
        from moto.moto_server.werkzeug_app import BackendRequest

        content_type = str(environ.get("CONTENT_TYPE", ""))
        json_body = content_type.startswith("application/x-amz-json-") and ";" not in content_type
        request = self.request_class(environ) if json_body else BackendRequest(environ)
        try:
            recorder._record_request(request)
            result = handler(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        if len(result) == 3:
            status, headers, content = result
        else:
            status, headers, content = 200, {}, result
        response = Response(response=content, status=status, headers=headers)
        if self._cors:  # what flask-cors adds to an answer to a request without Origin (always_send)
            response.headers["Access-Control-Allow-Origin"] = "*"
        answer: Iterable[bytes] = response(environ, start_response)
        return answer


def install(server: Any) -> DirectJson:
    """Put the direct path under a moto server's WSGI app (its innermost app: call before any wrapper)."""
    if not isinstance(server.app, DirectJson):
        server.app = DirectJson(server.app)
    direct: DirectJson = server.app
    return direct
