"""The webhook channel locally: a stand-in for the EventBridge API destination, and a real HTTP receiver.

In the cloud, :data:`shared.events.WEBHOOK_RULE` targets an API destination
(``infra/constructs/channels.py``): EventBridge POSTs the CampaignTriggered detail to the CRM with the
connection's credentials and the headers of :data:`shared.events.WEBHOOK_HEADER_PATHS`, retries on 429/5xx
(and connection errors) within the retry policy, and sends what it could not deliver to a dead-letter queue
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html). Locally the same rule
routes to a queue (``WebhookQueue``), which :class:`LocalApiDestination` drains on the dispatcher's passes
with the same rules: one POST per event, another attempt after a retryable answer, the
dead-letter queue after :data:`MAX_ATTEMPTS`.

:class:`WebhookReceiver` is a real HTTP server (the stand-in CRM) that records every request and can be
told to answer 500 to the next requests. It accepts a key once: a redelivery is answered 200 and not
counted again, as a CRM honouring ``Idempotency-Key`` would.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib import error, request

import boto3

from shared.events import WEBHOOK_HEADER_PATHS

MAX_ATTEMPTS: Final = 5
RETRYABLE: Final = frozenset({401, 407, 409, 429})  # and every 5xx (EventBridge's retry rules)
API_KEY_HEADER: Final = "X-Api-Key"


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


@dataclass
class WebhookReceiver:
    """The stand-in CRM: ``POST /crm/leads`` (any path) with a JSON body."""

    host: str = "127.0.0.1"
    api_key: str = "local-crm-key"
    requests: list[ReceivedRequest] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)  # idempotency key -> body
    fail_next: int = 0  # answer 500 to this many requests
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{self.host}:{self._server.server_address[1]}/crm/leads"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = receiver._answer(self.path, headers, raw)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                body = json.dumps({"status": status}).encode()
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer((self.host, 0), Handler)
        # Looks for a stop request every 50 ms (socketserver's default, 0.5 s, is what a stop would wait).
        threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="webhook-receiver", daemon=True
        ).start()
        return self

    def _answer(self, path: str, headers: dict[str, str], raw: bytes) -> int:
        with self._lock:
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            if headers.get(API_KEY_HEADER.lower()) != self.api_key:
                status = 403
            elif self.fail_next > 0:
                self.fail_next -= 1
                status = 500
            else:
                status = 200
                key = headers.get("idempotency-key", "")
                self.accepted.setdefault(key, body)
            self.requests.append(ReceivedRequest(path, headers, body, status))
            return status

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _json_path(event: dict[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@dataclass
class _Held:
    event: dict[str, Any]
    attempts: int = 0


class LocalApiDestination:
    """Drains ``WebhookQueue`` and POSTs each event to ``endpoint`` (see the module docstring)."""

    def __init__(
        self, queue_url: str, dead_letter_url: str, region: str, endpoint: str, api_key: str
    ) -> None:
        self.queue_url = queue_url
        self.dead_letter_url = dead_letter_url
        self.endpoint = endpoint
        self.api_key = api_key
        self.sqs = boto3.client("sqs", region_name=region)
        self._held: deque[_Held] = deque()
        self.delivered = 0
        self.dead_lettered: list[dict[str, Any]] = []

    def _take(self) -> None:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
            self._held.extend(_Held(json.loads(m["Body"])) for m in messages)
            if len(messages) < 10:  # nothing more was visible: no empty receive to learn it
                return

    def _post(self, event: dict[str, Any]) -> int:
        headers = {"Content-Type": "application/json", API_KEY_HEADER: self.api_key}
        for name, path in WEBHOOK_HEADER_PATHS.items():
            value = _json_path(event, path)
            if value is not None:
                headers[name] = str(value)
        req = request.Request(
            self.endpoint, data=json.dumps(event["detail"]).encode(), headers=headers, method="POST"
        )
        try:
            with request.urlopen(req, timeout=10) as response:
                return int(response.status)
        except error.HTTPError as exc:
            return int(exc.code)
        except error.URLError:
            return 503  # unreachable: retried, as EventBridge does

    def pump(self) -> int:
        """One attempt for each held event; returns how many attempts were made."""
        self._take()
        attempts = 0
        for _ in range(len(self._held)):
            held = self._held.popleft()
            held.attempts += 1
            attempts += 1
            status = self._post(held.event)
            if 200 <= status < 300:
                self.delivered += 1
                continue
            if (status >= 500 or status in RETRYABLE) and held.attempts < MAX_ATTEMPTS:
                self._held.append(held)
                continue
            self.sqs.send_message(QueueUrl=self.dead_letter_url, MessageBody=json.dumps(held.event))
            self.dead_lettered.append(held.event)
        return attempts
