"""Record the AWS requests the local moto process serves, to replay them later (``python -m benchmarks
moto_requests --replay FILE``): the same workload against two moto processes, request by request, for
an A/B of moto's CPU per request that the machine's load affects alike.

``LOCAL_MOTO_RECORD=/path/requests.jsonl`` in the environment of the moto process (for example of
``python -m infra.local --once``) writes one JSON line per request: method, path with query string,
headers (the Host header left out: the replay sends its own) and the body in base64. Local
measurements only: nothing reads the file but the benchmark.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_") and key != "HTTP_HOST":
            headers.append((key[5:].replace("_", "-").title(), str(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").title(), str(value)))
    return headers


class RequestRecorder:
    """WSGI wrapper: each request's method, path, headers and body to a JSON-lines file, in the order
    they reach it (one lock: lines never interleave)."""

    def __init__(self, app: Wsgi, path: str) -> None:
        self.app = app
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (open for the process's life)
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        stream = environ.get("wsgi.input")
        body = stream.read() if stream is not None and not environ.get("wsgi.input_terminated") else b""
        environ["wsgi.input"] = io.BytesIO(body)
        path = str(environ.get("RAW_URI") or environ.get("PATH_INFO", "/"))
        if "?" not in path and environ.get("QUERY_STRING"):
            path += "?" + str(environ["QUERY_STRING"])
        line = json.dumps(
            {
                "m": environ.get("REQUEST_METHOD", "GET"),
                "p": path,
                "h": _headers(environ),
                "b": base64.b64encode(body).decode("ascii"),
            }
        )
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()
        return self.app(environ, start_response)


def install(server: Any, path: str) -> RequestRecorder:
    """Record the requests reaching a moto server's WSGI app (install inside the control endpoint)."""
    recorder = RequestRecorder(server.app, path)
    server.app = recorder
    return recorder


def load(path: str) -> list[tuple[str, str, list[tuple[str, str]], bytes]]:
    """The recorded requests: (method, path, headers, body)."""
    requests = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            entry = json.loads(line)
            headers = [(str(name), str(value)) for name, value in entry["h"]]
            requests.append((entry["m"], entry["p"], headers, base64.b64decode(entry["b"])))
    return requests
