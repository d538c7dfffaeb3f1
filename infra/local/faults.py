"""Fault injection for the local stack: a WSGI wrapper around the moto server that fails chosen calls.

The handlers talk to AWS through their real SDK clients, so an injected fault travels the same path as a
real one: botocore parses the error, applies its retry policy, PynamoDB wraps it, the handler reports
the record as failed, the dispatcher redelivers or dead-letters it. Kinds of fault:

* ``error``: answer with an AWS error (``ProvisionedThroughputExceededException``, ``Throttling``, ...)
  without touching moto, as a throttled or failing service does;
* ``lost_response``: let moto apply the call, then answer 500, as when a write commits but its response
  is lost; the client's retry then meets its own write (a conditional check fails, an entry exists);
* ``fail_entries``: for ``PutEvents``, let moto accept only some entries and report the others failed
  (``FailedEntryCount``), as EventBridge does under partial failure.

A rule applies to requests of one service and operation, optionally only when the request body contains
``match``, and for ``times`` matching requests. ``faults.inject(...)`` is a context manager, so a rule
never outlives its test.
"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
FaultKind = Literal["error", "lost_response", "fail_entries"]

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# Services answering in the JSON protocol (X-Amz-Target); the others here use the query protocol (XML).
_JSON_SERVICES = {"dynamodb": "1.0", "events": "1.1", "sqs": "1.0"}
_STATUS_TEXT = {400: "400 Bad Request", 500: "500 Internal Server Error", 503: "503 Service Unavailable"}


@dataclass
class Fault:
    service: str  # SigV4 signing name: dynamodb, events, ses (SES v1), sqs, s3...
    operation: str  # PutItem, UpdateItem, PutEvents, SendRawEmail...
    kind: FaultKind = "error"
    times: int = 1
    error_code: str = "InternalServerError"
    status: int = 500
    match: str | None = None
    fail_every: int = 2  # fail_entries: entries 0, fail_every, 2*fail_every... fail
    hits: int = 0

    @property
    def spent(self) -> bool:
        return self.hits >= self.times


def signing_service(environ: dict[str, Any]) -> str:
    """The service a SigV4-signed request is for (its credential scope), "" when it is not signed so."""
    found = _SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    return found.group(1) if found else ""


def _request_identity(environ: dict[str, Any], body: bytes) -> tuple[str, str]:
    """(service, operation) of a signed AWS request."""
    service = signing_service(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return service, target.rsplit(".", 1)[-1]
    if environ.get("REQUEST_METHOD") == "POST" and body:
        try:
            action = parse_qs(body.decode()).get("Action", [""])[0]
        except UnicodeDecodeError:
            action = ""
        return service, action
    return service, ""


def _error_response(service: str, code: str, status: int) -> tuple[str, list[tuple[str, str]], bytes]:
    message = f"injected fault: {code}"
    if service in _JSON_SERVICES:
        prefix = "com.amazonaws.dynamodb.v20120810#" if service == "dynamodb" else ""
        body = json.dumps({"__type": f"{prefix}{code}", "message": message}).encode()
        content_type = f"application/x-amz-json-{_JSON_SERVICES[service]}"
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="http://{service}.amazonaws.com/doc/2010-12-01/">'
            f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    return _STATUS_TEXT.get(status, f"{status} Error"), headers, body


class FaultInjector:
    """WSGI middleware: applies the active :class:`Fault` rules, passes every other request to moto."""

    def __init__(self, app: Wsgi) -> None:
        self.app = app
        self._rules: list[Fault] = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # markers of the wrappers inside (e.g. presigned-link expiry)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._rules.append(fault)

    def remove(self, fault: Fault) -> None:
        with self._lock:
            self._rules.remove(fault)

    @contextmanager
    def inject(self, fault: Fault) -> Iterator[Fault]:
        self.add(fault)
        try:
            yield fault
        finally:
            self.remove(fault)

    def _take(self, service: str, operation: str, body: bytes) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.spent or rule.service != service or rule.operation != operation:
                    continue
                if rule.match is not None and rule.match.encode() not in body:
                    continue
                rule.hits += 1
                return rule
        return None

    def _call_moto(self, environ: dict[str, Any], body: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
        environ = {**environ, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"], captured["headers"] = status, headers

        chunks = self.app(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return captured["status"], captured["headers"], payload

    def _fail_entries(
        self, environ: dict[str, Any], body: bytes, rule: Fault
    ) -> tuple[str, list[Any], bytes]:
        request = json.loads(body)
        entries = request["Entries"]
        failing = {i for i in range(len(entries)) if i % rule.fail_every == 0}
        kept = [entry for i, entry in enumerate(entries) if i not in failing]
        accepted: list[dict[str, Any]] = []
        if kept:
            status, _headers, payload = self._call_moto(
                environ, json.dumps({**request, "Entries": kept}).encode()
            )
            if not status.startswith("200"):
                return status, _headers, payload
            accepted = json.loads(payload)["Entries"]
        results = []
        for i in range(len(entries)):
            if i in failing:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected fault"})
            else:
                results.append(accepted.pop(0))
        out = json.dumps({"FailedEntryCount": len(failing), "Entries": results}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(out)))]
        return "200 OK", headers, out

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self._rules:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        service, operation = _request_identity(environ, body)
        rule = self._take(service, operation, body)
        if rule is None:
            environ = {**environ, "wsgi.input": io.BytesIO(body)}
            return self.app(environ, start_response)
        if rule.kind == "error":
            status, headers, payload = _error_response(service, rule.error_code, rule.status)
        elif rule.kind == "lost_response":
            self._call_moto(environ, body)  # applied by moto; its answer never reaches the client
            status, headers, payload = _error_response(service, rule.error_code, rule.status)
        else:
            status, headers, payload = self._fail_entries(environ, body, rule)
        start_response(status, headers)
        return [payload]


def install(server: Any) -> FaultInjector:
    """Wrap a moto server's WSGI app (once) and return the injector."""
    if not isinstance(server.app, FaultInjector):
        server.app = FaultInjector(server.app)
    injector: FaultInjector = server.app
    return injector
