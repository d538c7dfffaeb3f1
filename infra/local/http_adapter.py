"""Local HTTP server: turns requests into API Gateway (REST) proxy events for the real handlers.

Public routes go to the tracking function; private ones need the ``x-api-key`` header (IAM plays that
part in the cloud) or a console ID token (the Cognito authorizer's part, see :mod:`infra.local.console_auth`)
and go to the admin function, with the caller in ``requestContext`` as API Gateway sets it.

Concurrency, as Lambda: with ``workers`` > 0 requests are served in parallel by a pool of worker
processes, each with its own instance of every handler and handling one request at a time, as one Lambda
container does (``make local`` and ``make demo`` run 4; the local stack's dispatcher delivers queue and stream
batches through the same pool, :meth:`ApiAdapter.invoke`). With ``workers=0`` (the tests' shared stack, so
a test can patch code in its own process) each function handles one request at a time in this process.

Like API Gateway, the adapter refuses a body over :data:`MAX_BODY_BYTES` (413) from its Content-Length,
before reading it; a Content-Length that is not a non-negative integer is a 400; a client that stalls
while sending is cut off after :data:`SOCKET_TIMEOUT_SECONDS` without a byte (and a body must arrive
within :data:`BODY_DEADLINE_SECONDS`), answered 408.

Every function invocation and local POST endpoint runs inside ``ApiAdapter.activity()`` (the local stack
sets the dispatcher's): the dispatcher polls while a request runs and is woken when it ends. The answer
of a worker process comes back through this process, so the wake-up crosses the process boundary.
"""

from __future__ import annotations

import atexit
import base64
import hmac
import json
import multiprocessing
import os
import re
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from infra.local import local_signing, moto_http
from infra.local.dispatcher import load_handler
from infra.local.lambda_context import LocalContext
from infra.local.output import METRICS_LOG_VARIABLE, exit_without_teardown, route_metrics
from infra.routes import allowed_methods, find

STATIC_DIR = Path(__file__).with_name("static")
# The console's Content-Security-Policy (its scripts, styles and calls on its own origin only).
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"
)
# The codes of the adapter's own answers (API Gateway's gateway responses in the cloud).
_CODES = {
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}
# API Gateway refuses a request body larger than 10 MB (compressed or not) and inflates gzip bodies up to
# that size too (its payload quota).
MAX_REQUEST_BYTES = 10 * 1024 * 1024
_TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/javascript")
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
SOCKET_TIMEOUT_SECONDS = 10.0
BODY_DEADLINE_SECONDS = 30.0
_READ_CHUNK = 64 * 1024
_DIGITS = re.compile(r"[0-9]{1,20}")


def error_cors_headers(origin: str | None) -> dict[str, str]:
    """The CORS headers of an error the adapter answers itself (413, 403, 404, 405, 415, 502): the
    request's origin when it is one of ``RM_ALLOWED_ORIGINS``, else none (the browser then hides the
    answer, as it must from other sites)."""
    allowed = [o.strip() for o in os.environ.get("RM_ALLOWED_ORIGINS", "").split(",") if o.strip()]
    if not origin or origin not in allowed:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _init_worker(environ: dict[str, str]) -> None:
    """A worker process starts as a fresh Lambda container: the adapter's environment, no AWS clients, and
    the local stack's in-process launchers (a scoring run or an export started here runs here)."""
    os.environ.update(environ)
    # The SDK clients here talk to moto only, as in the stack's own process: headers read without the email
    # parser, requests signed without the signature's arithmetic.
    moto_http.install_client()
    local_signing.install()
    if environ.get(METRICS_LOG_VARIABLE):  # EMF lines to the stack's metrics log, as in the main process
        route_metrics(Path(environ[METRICS_LOG_VARIABLE]))
    from infra.local.launchers import in_process_ports
    from shared.services import ports

    ports.use(in_process_ports())
    threading.Thread(target=_leave_with_stack, args=(os.getppid(),), name="stack-watch", daemon=True).start()
    # Once the pool lets it go, the worker leaves without the interpreter's teardown. Registered last,
    # so it runs first among the exit handlers (the logging module's, registered before, is called by it).
    atexit.register(exit_without_teardown, 0)


def _leave_with_stack(stack_pid: int) -> None:
    """A worker whose stack died without stopping it (killed) leaves too, as the moto process does when
    its pipe closes: nothing would ever send it work again (the pool's queue never reports the loss, as
    every worker holds its writing end)."""
    while os.getppid() == stack_pid:
        time.sleep(1.0)
    os._exit(0)


def _invoke_in_worker(function: str, event: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = load_handler(function)(event, LocalContext(function))
    return response


def _inflate(body: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, MAX_REQUEST_BYTES + 1)
    except zlib.error:
        raise ValueError("Content-Encoding gzip: the body is not gzip data") from None
    if len(out) > MAX_REQUEST_BYTES:
        raise ValueError(f"the inflated body is larger than {MAX_REQUEST_BYTES} bytes")
    if not inflater.eof:
        raise ValueError("Content-Encoding gzip: the gzip data is truncated")
    return out


class ApiAdapter:
    def __init__(
        self,
        api_key: str,
        stage: str = "local",
        on_request: Callable[[str], None] | None = None,
        workers: int = 0,
    ):
        self.api_key = api_key
        self.stage = stage
        self.on_request = on_request
        self.workers = workers
        self._locks: dict[str, threading.Lock] = {"track": threading.Lock(), "admin_api": threading.Lock()}
        # Local-only GET pages besides the API (the outbox): path -> handler(lower-cased request headers).
        self.extra_pages: dict[str, Callable[[dict[str, str]], tuple[int, dict[str, str], bytes]]] = {}
        # Local-only POST endpoints (SES feedback injection): path -> handler(headers, body).
        self.extra_posts: dict[str, Callable[[dict[str, str], bytes], tuple[int, dict[str, str], bytes]]] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # Around each invocation (in whichever process it runs): the dispatcher's wake-up.
        self.activity: Callable[[], AbstractContextManager[object]] = nullcontext
        # The console's sign-in (infra/local/console_auth.py): verifies an ID token as the Cognito
        # authorizer does (claims, or None), and serves the hosted-UI stand-in's paths:
        # path -> handler(method, query, lower-cased headers, body).
        self.verify_token: Callable[[str], dict[str, Any] | None] | None = None
        self.local_routes: dict[
            str, Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]
        ] = {}

    def _worker_pool(self) -> ProcessPoolExecutor:
        # Started on the first request: the stack's environment (endpoint, table names) is set by then.
        with self._pool_lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=(dict(os.environ),),
                )
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

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
        identity: dict[str, Any] = {"sourceIp": source_ip, "userAgent": headers.get("user-agent")}
        authorizer: dict[str, Any] | None = None
        if not route.is_public:
            if hmac.compare_digest(headers.get("x-api-key", "").encode(), self.api_key.encode()):
                # The stand-in for a SigV4-signed machine call: API Gateway sets the IAM caller.
                identity |= {
                    "caller": "local-api-key",
                    "userArn": "arn:aws:iam::123456789012:user/local-api-key",
                }
            else:
                claims = self.verify_token(headers.get("authorization", "")) if self.verify_token else None
                if claims is None:
                    return (
                        None,
                        None,
                        403,
                        "Forbidden: this route needs a valid x-api-key header or console token",
                    )
                authorizer = {"claims": claims}  # as the Cognito authorizer passes them
        query = parse_qs(split.query, keep_blank_values=True)
        if headers.get("content-encoding", "").strip().lower() == "gzip" and body:
            # API Gateway (REST) inflates a gzip request body before the proxy integration, answering 415
            # when the body is not gzip (see infra/constructs/api.py); the header reaches the function.
            try:
                body = _inflate(body)
            except ValueError as exc:
                return None, None, (413 if "larger" in str(exc) else 415), str(exc)
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
                "identity": identity,
                **({"authorizer": authorizer} if authorizer else {}),
            },
            "body": (text_body if text_body is not None else base64.b64encode(body).decode())
            if body
            else None,
            "isBase64Encoded": bool(body) and text_body is None,
        }
        return event, route.function, 0, ""

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        if self.workers > 0:
            return self._worker_pool().submit(_invoke_in_worker, function, event).result()
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
        timeout = SOCKET_TIMEOUT_SECONDS  # a client silent this long while sending is cut off

        def _error(self, status: int, message: str) -> None:
            self.close_connection = True  # what is left of the body is not read
            self._send(
                status,
                {"Content-Type": "application/json", "Connection": "close"} | self._error_cors(),
                json.dumps({"message": message}).encode(),
            )

        def _error_cors(self) -> dict[str, str]:
            """CORS headers on the adapter's own error answers, as API Gateway's gateway responses carry
            them (infra/constructs/api.py): a page of an allowed origin can read the error."""
            return error_cors_headers(self.headers.get("Origin"))

        def _read_body(self) -> bytes | None:
            """The body, or None after answering 400/408/413 (never reads more than the limit)."""
            raw = self.headers.get("Content-Length")
            if raw is None:
                return b""
            if not _DIGITS.fullmatch(raw.strip()):
                self._error(400, "Content-Length must be a non-negative integer")
                return None
            length = int(raw)
            if length > MAX_BODY_BYTES:
                self._error(413, f"the request body is over {MAX_BODY_BYTES} bytes")
                return None
            chunks: list[bytes] = []
            received = 0
            deadline = time.monotonic() + BODY_DEADLINE_SECONDS
            try:
                while received < length:
                    if time.monotonic() > deadline:
                        raise TimeoutError
                    chunk = self.rfile.read1(min(_READ_CHUNK, length - received))
                    if not chunk:
                        self.close_connection = True  # the client gave up half-way
                        return None
                    chunks.append(chunk)
                    received += len(chunk)
            except TimeoutError:
                self._error(408, "the request body did not arrive in time")
                return None
            return b"".join(chunks)

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
            headers = {"Content-Type": types.get(target.suffix, "application/octet-stream")}
            if target.suffix == ".html":  # the console's policy (CloudFront sends it once deployed)
                headers |= {"Content-Security-Policy": CONSOLE_CSP, "X-Frame-Options": "DENY"}
            self._send(200, headers, target.read_bytes())
            return True

        def _handle(self) -> None:
            local_route = adapter.local_routes.get(urlsplit(self.path).path)
            if local_route is not None:
                body = self._read_body()
                if body is not None:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    self._send(*local_route(self.command, urlsplit(self.path).query, headers, body))
                return
            if self.command == "GET" and self._static():
                return
            body = self._read_body()
            if body is None:
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            if self.command == "POST" and urlsplit(self.path).path in adapter.extra_posts:
                with adapter.activity():
                    answer = adapter.extra_posts[urlsplit(self.path).path](headers, body)
                self._send(*answer)
                return
            event, function, status, message = adapter.build_event(
                self.command, self.path, headers, body, self.client_address[0], self.headers.get("Host", "")
            )
            if event is None or function is None:
                refusal = {"code": _CODES.get(status, "error"), "message": message}
                headers = {"Content-Type": "application/json"} | self._error_cors()
                self._send(status, headers, json.dumps(refusal).encode())
                return
            try:
                with adapter.activity():
                    response = adapter.invoke(function, event)
            except Exception as exc:  # what API Gateway answers when a function crashes
                print(f"  ! {function} raised {exc!r}")
                self._send(
                    502,
                    {"Content-Type": "application/json"} | self._error_cors(),
                    b'{"code": "internal_error", "message": "Internal server error"}',
                )
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
    server.adapter = adapter  # type: ignore[attr-defined]
    server.daemon_threads = True
    return server
