"""The moto process's control endpoint: what the local stack asks of its AWS stand-in besides AWS calls.

moto runs in its own OS process (:mod:`infra.local.moto_process`), so the stack cannot reach into its
Python objects. This WSGI wrapper, outermost around moto's app, answers paths under ``/_local/`` (no AWS
service uses that prefix) and passes every other request on:

- ``POST /_local/faults`` (a :class:`~infra.local.faults.Fault` as JSON) adds a fault rule and answers its
  id; ``DELETE /_local/faults/<id>`` removes it and answers how many requests it hit;
- ``GET /_local/ses/sent?region=&start=`` lists the messages SES accepted (from number ``start``), raw
  data as received;
- ``GET /_local/requests`` counts the requests served, by operation (X-Amz-Target's operation, else
  the signing service, ``s3:<METHOD>`` for S3), with the events put and the bytes written to S3;
- ``GET /_local/status``: the process's CPU time.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import fields
from typing import Any
from urllib.parse import parse_qs

from infra.local.faults import Fault, FaultInjector, signing_service

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PREFIX = "/_local/"
_FAULT_FIELDS = {f.name for f in fields(Fault)} - {"hits"}


class RequestCounter:
    """Requests served, by operation: the unit counts of the cost model and the benchmarks."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.events = 0
        self.s3_bytes = 0
        self._lock = threading.Lock()

    def count(self, environ: dict[str, Any]) -> None:
        target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
        service = signing_service(environ)
        if target:
            key = target.rsplit(".", 1)[-1]
        elif service in ("s3", ""):  # presigned S3 links carry their signature in the query
            key = f"s3:{environ.get('REQUEST_METHOD')}"
        else:
            key = service  # the query protocol (SES, SQS's older clients)
        events = 0
        if key == "PutEvents":  # the entries (up to 10 per request) are what EventBridge bills
            body = environ["wsgi.input"].read()
            environ["wsgi.input"] = io.BytesIO(body)
            events = len(json.loads(body or b"{}").get("Entries", []))
        with self._lock:
            self.requests[key] += 1
            self.events += events
            if key == "s3:PUT":
                self.s3_bytes += int(environ.get("CONTENT_LENGTH") or 0)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self.requests), "events": self.events, "s3_bytes": self.s3_bytes}


def sent_messages(region: str, start: int = 0) -> list[dict[str, Any]]:
    """The messages moto's SES accepted in ``region``, oldest first from number ``start``, in one plain
    shape (SES's list only grows)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    found: list[dict[str, Any]] = []
    for sent in ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages[start:]:
        raw = getattr(sent, "raw_data", None)
        destinations = getattr(sent, "destinations", [])
        if isinstance(destinations, dict):  # SendEmail: {"ToAddresses": [...], ...}
            destinations = destinations.get("ToAddresses", [])
        found.append(
            {
                "id": sent.id,
                "source": getattr(sent, "source", ""),
                "destinations": list(destinations),
                # moto keeps SendRawEmail's data as the UTF-8 text it decoded: encoding it gives the bytes.
                "raw_data": raw,
                "subject": getattr(sent, "subject", ""),
                "body": str(getattr(sent, "body", "")),
            }
        )
    return found


class Control:
    """WSGI middleware answering ``/_local/`` (see the module docstring)."""

    def __init__(self, app: Wsgi, faults: FaultInjector) -> None:
        self.app = app
        self.faults = faults
        self.counter = RequestCounter()
        self._rules: dict[str, Fault] = {}
        self._next_id = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if not path.startswith(PREFIX):
            self.counter.count(environ)
            return self.app(environ, start_response)
        try:
            status, answer = self._control(environ, path[len(PREFIX) :])
        except (KeyError, TypeError, ValueError) as exc:
            status, answer = 400, {"message": repr(exc)}
        body = json.dumps(answer).encode()
        start_response(
            f"{status} {'OK' if status == 200 else 'Error'}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _control(self, environ: dict[str, Any], path: str) -> tuple[int, Any]:
        method = environ.get("REQUEST_METHOD")
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        if path == "faults" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            spec = json.loads(environ["wsgi.input"].read(length))
            fault = Fault(**{k: v for k, v in spec.items() if k in _FAULT_FIELDS})
            with self._lock:
                self._next_id += 1
                rule_id = str(self._next_id)
                self._rules[rule_id] = fault
            self.faults.add(fault)
            return 200, {"id": rule_id}
        if path.startswith("faults/") and method == "DELETE":
            with self._lock:
                fault = self._rules.pop(path.removeprefix("faults/"))
            self.faults.remove(fault)
            return 200, {"hits": fault.hits}
        if path == "ses/sent" and method == "GET":
            start = int(query.get("start", ["0"])[0])
            return 200, {"messages": sent_messages(query["region"][0], start)}
        if path == "requests" and method == "GET":
            return 200, self.counter.snapshot()
        if path == "status" and method == "GET":
            return 200, {"cpu_seconds": time.process_time()}
        return 404, {"message": f"no control operation {method} {PREFIX}{path}"}


def install(server: Any, faults: FaultInjector) -> Control:
    """Put the control endpoint outermost around a moto server's WSGI app."""
    control = Control(server.app, faults)
    server.app = control
    return control
