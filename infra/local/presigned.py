"""S3's expiry of presigned links, which moto does not enforce: a WSGI wrapper around the moto server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib import parse

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _expired(query: dict[str, list[str]], now: float) -> bool:
    if "X-Amz-Date" in query and "X-Amz-Expires" in query:  # SigV4 query authentication
        signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return now > signed.timestamp() + int(query["X-Amz-Expires"][0])
    if "Expires" in query and "Signature" in query:  # SigV2
        return now > int(query["Expires"][0])
    return False


class PresignedExpiry:
    """WSGI middleware answering an expired presigned GET with S3's 403 (moto never checks expiry)."""

    enforces_presigned_expiry = True
    _body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    )

    def __init__(self, app: Wsgi) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            query = parse.parse_qs(environ.get("QUERY_STRING", ""))
            if _expired(query, time.time()):
                start_response(
                    "403 Forbidden",
                    [("Content-Type", "application/xml"), ("Content-Length", str(len(self._body)))],
                )
                return [self._body]
        return self.app(environ, start_response)


def enforce_link_expiry(server: Any) -> None:
    """Make a moto server refuse expired links, as S3 does (once)."""
    if not getattr(server.app, "enforces_presigned_expiry", False):
        server.app = PresignedExpiry(server.app)
