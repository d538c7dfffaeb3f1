"""Local HTTP server: turns requests into API Gateway (REST) proxy events for the real handlers.

Public routes go to the tracking function; private ones need the ``x-api-key`` header (IAM plays that
part in the cloud) and go to the admin function. Each function handles one request at a time, as one
Lambda container does.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.local.dispatcher import load_handler
from infra.local.lambda_context import LocalContext
from infra.routes import allowed_methods, find

STATIC_DIR = Path(__file__).with_name("static")
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/javascript")


class ApiAdapter:
    def __init__(self, api_key: str, stage: str = "local", on_request: Callable[[str], None] | None = None):
        self.api_key = api_key
        self.stage = stage
        self.on_request = on_request
        self._locks: dict[str, threading.Lock] = {"track": threading.Lock(), "admin_api": threading.Lock()}
        # Local-only GET pages besides the API (the outbox): path -> handler(lower-cased request headers).
        self.extra_pages: dict[str, Callable[[dict[str, str]], tuple[int, dict[str, str], bytes]]] = {}

    def build_event(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str, host: str
    ) -> tuple[dict[str, Any] | None, str | None, int, str]:
        """(event, function, status, message): a status other than 0 is an error answered by the adapter."""
        split = urlsplit(raw_path)
        found = find(method, split.path)
        if found is None:
            if method != "OPTIONS" and allowed_methods(split.path):
                return None, None, 405, f"method {method} not allowed on {split.path}"
            if method == "OPTIONS" and allowed_methods(split.path):
                found_route = find(allowed_methods(split.path)[0], split.path)
                assert found_route is not None
                found = found_route
            else:
                return None, None, 404, f"no route {method} {split.path}"
        route, params = found
        if not route.is_public and not hmac.compare_digest(
            headers.get("x-api-key", "").encode(), self.api_key.encode()
        ):
            return None, None, 403, "Forbidden: this route needs a valid x-api-key header"
        query = parse_qs(split.query, keep_blank_values=True)
        content_type = headers.get("content-type", "")
        is_text = not body or content_type.startswith(_TEXT_TYPES) or not content_type
        try:
            text_body = body.decode() if is_text else None
        except UnicodeDecodeError:
            text_body = None
        event = {
            "resource": route.path,
            "path": split.path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path,
                "httpMethod": method,
                "path": f"/{self.stage}{split.path}",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "domainName": host,
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": source_ip, "userAgent": headers.get("user-agent")},
            },
            "body": (text_body if text_body is not None else base64.b64encode(body).decode())
            if body
            else None,
            "isBase64Encoded": bool(body) and text_body is None,
        }
        return event, route.function, 0, ""

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        handler = load_handler(function)
        with self._locks[function]:
            response: dict[str, Any] = handler(event, LocalContext(function))
        return response


def make_server(adapter: ApiAdapter, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY each keep-alive response waits
        # for the client's delayed ACK (about 40 ms).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _static(self) -> bool:
            path = urlsplit(self.path).path
            if path in {"/", "/dashboard"}:
                self._send(302, {"Location": "/dashboard/"}, b"")
                return True
            if path in adapter.extra_pages:
                self._send(*adapter.extra_pages[path]({k.lower(): v for k, v in self.headers.items()}))
                return True
            if path == "/thanks":  # stands for a site's thank-you page, where the demo's form redirects
                path = "/dashboard/thanks.html"
            if not path.startswith("/dashboard/"):
                return False
            name = path.removeprefix("/dashboard/") or "index.html"
            target = (STATIC_DIR / name).resolve()
            if STATIC_DIR.resolve() not in target.parents or not target.is_file():
                self._send(404, {"Content-Type": "text/plain"}, b"not found")
                return True
            types = {".html": "text/html; charset=utf-8", ".js": "application/javascript", ".css": "text/css"}
            self._send(
                200,
                {"Content-Type": types.get(target.suffix, "application/octet-stream")},
                target.read_bytes(),
            )
            return True

        def _handle(self) -> None:
            if self.command == "GET" and self._static():
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            event, function, status, message = adapter.build_event(
                self.command, self.path, headers, body, self.client_address[0], self.headers.get("Host", "")
            )
            if event is None or function is None:
                self._send(
                    status, {"Content-Type": "application/json"}, json.dumps({"message": message}).encode()
                )
                return
            try:
                response = adapter.invoke(function, event)
            except Exception as exc:  # what API Gateway answers when a function crashes
                print(f"  ! {function} raised {exc!r}")
                self._send(502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}')
                return
            out_headers = dict(response.get("headers") or {})
            for name, values in (response.get("multiValueHeaders") or {}).items():
                out_headers[name] = ", ".join(values)
            raw = response.get("body") or ""
            payload = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
            if adapter.on_request:
                adapter.on_request(f"{self.command} {urlsplit(self.path).path} -> {response['statusCode']}")
            self._send(int(response["statusCode"]), out_headers, payload)

        do_GET = do_POST = do_DELETE = do_PATCH = do_PUT = do_OPTIONS = do_HEAD = _handle  # noqa: N815
        # Methods no route takes: 405 from build_event, not http.server's bare 501 page.
        do_TRACE = do_QUERY = _handle  # noqa: N815

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default backlog of 5 resets connections under concurrent load

    server = Server((host, port), Handler)
    server.daemon_threads = True
    return server
