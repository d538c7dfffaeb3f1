"""The local adapter's own error answers (API Gateway's gateway responses in the cloud) carry CORS
headers for the allowed origins, so a page can read the error instead of an opaque network failure
(issue 17, edge): headless Chromium on another origin, and the bytes on the wire over a raw socket."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra.local.http_adapter import MAX_BODY_BYTES
from infra.local.stack import LocalStack
from tests.e2e.chromium import TIMEOUT_MS
from tests.site import Site

pytestmark = pytest.mark.browser

FETCH = """
async ({url, size}) => {
  try {
    const response = await fetch(url, {method: "POST", body: "x".repeat(size),
                                       headers: {"Content-Type": "text/plain"}});
    return {status: response.status, body: await response.json()};
  } catch (error) {
    return {error: String(error)};
  }
}
"""


def _raw_answer(stack: LocalStack, origin: str, length: int) -> tuple[int, dict[str, str]]:
    """Send only the request head (a body of ``length`` bytes announced, none sent); the status line and
    headers of the answer."""
    api = urlsplit(stack.api_url)
    with socket.create_connection((api.hostname, api.port), timeout=10) as conn:
        head = (
            f"POST /v1/track HTTP/1.1\r\nHost: {api.netloc}\r\nOrigin: {origin}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        )
        conn.sendall(head.encode())
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = conn.recv(65536)
            if not chunk:
                break
            raw += chunk
    status_line, *lines = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers


def test_a_body_over_the_limit_is_413_with_cors_for_an_allowed_origin_only(
    stack: LocalStack, site: Site
) -> None:
    status, headers = _raw_answer(stack, site.origin, MAX_BODY_BYTES + 1)
    assert status == 413
    assert headers["access-control-allow-origin"] == site.origin
    assert headers["vary"] == "Origin"
    status, headers = _raw_answer(stack, "https://elsewhere.example", MAX_BODY_BYTES + 1)
    assert status == 413
    assert "access-control-allow-origin" not in headers


def test_a_page_on_an_allowed_origin_reads_the_adapter_s_errors(
    stack: LocalStack, site: Site, browser: Any
) -> None:
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(site.put("/errors.html", "<!doctype html><title>shop</title>"))
    # A route the API does not have: the adapter's own 404 (API Gateway's MISSING_AUTHENTICATION_TOKEN).
    answer = page.evaluate(FETCH, {"url": f"{stack.api_url}/v1/no-such-route", "size": 2})
    assert answer == {"status": 404, "body": {"code": "not_found", "message": answer["body"]["message"]}}
    # A body over API Gateway's payload limit: 413, readable by the page.
    answer = page.evaluate(FETCH, {"url": f"{stack.api_url}/v1/track", "size": MAX_BODY_BYTES + 1})
    assert answer.get("status") == 413, answer
    page.close()
