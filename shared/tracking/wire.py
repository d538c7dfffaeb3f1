"""Request bodies as the Segment-compatible clients send them, decoded into JSON objects.

What the clients send with their default settings (read in their sources):
- ``segment-analytics-python``: ``application/json``, gzip when ``gzip=True``, the write key both as
  HTTP Basic user name and as ``writeKey`` in the body;
- ``rudder-sdk-python``: ``application/json`` with ``Content-Encoding: gzip`` by default, HTTP Basic;
- ``@segment/analytics-next`` (analytics.js): ``text/plain`` (a CORS "simple request": no preflight) to
  short paths, the write key only as ``writeKey`` in the body.

Pure functions with no I/O: the handler maps :class:`BodyError` to a 4xx answer with its ``code``.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from decimal import Decimal
from typing import Any, Final

GZIP_MAGIC: Final = b"\x1f\x8b"
# Media types a Segment-style body may carry: analytics.js posts JSON as text/plain.
JSON_MEDIA_TYPES: Final = ("application/json", "text/plain")
# Longer integer literals are kept as Decimal: int() refuses more than 4300 digits (CVE-2020-10735).
# Validation rejects them (far past DynamoDB's 1e126) instead of the parser crashing the request.
_MAX_INT_DIGITS: Final = 4000


class BodyError(ValueError):
    """A body that cannot be read: answered with ``status`` and the stable ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def raw_bytes(body: str | None, is_base64: bool) -> bytes:
    """The bytes of a proxy event's body."""
    if not body:
        return b""
    if not is_base64:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise BodyError(400, "malformed_body", "the body is not valid base64") from None


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate a gzip body, refusing one that inflates past ``limit`` bytes (a gzip bomb costs nothing to
    send). Bytes that are not gzip are returned as they are: API Gateway may already have inflated them."""
    if not data.startswith(GZIP_MAGIC):
        return data
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise BodyError(400, "malformed_gzip", "the body is not valid gzip data") from None
    if len(out) > limit:
        raise BodyError(413, "body_too_large", f"the body inflates to more than {limit} bytes")
    if not inflater.eof:
        raise BodyError(400, "malformed_gzip", "the gzip data is truncated")
    return out


def _parse_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _MAX_INT_DIGITS else Decimal(text)


def parse_json_object(data: bytes) -> dict[str, Any]:
    """A JSON object from UTF-8 bytes; BodyError (400) for anything else."""
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise BodyError(400, "not_utf8", "the body is not UTF-8 text") from None
    try:
        value = json.loads(text, parse_int=_parse_int)
    except RecursionError:  # Python's parser gives up at about 1000 levels
        raise BodyError(400, "malformed_json", "the body nests too deeply") from None
    except ValueError as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise BodyError(400, "malformed_json", f"the body is not valid JSON: {msg}") from None
    if not isinstance(value, dict):
        raise BodyError(400, "malformed_json", "the body must be a JSON object")
    return value


def decode(body: str | None, is_base64: bool, media_type: str, limit: int) -> dict[str, Any]:
    """The JSON object of a Segment-style request: base64 and gzip undone, ``text/plain`` read as JSON."""
    if media_type and media_type not in JSON_MEDIA_TYPES:
        raise BodyError(
            415,
            "unsupported_media_type",
            f"Content-Type {media_type} is not accepted here: send {' or '.join(JSON_MEDIA_TYPES)}",
        )
    data = gunzip(raw_bytes(body, is_base64), limit)
    if len(data) > limit:
        raise BodyError(
            413, "body_too_large", f"body is {len(data)} bytes; at most {limit} are accepted here"
        )
    if not data.strip():
        raise BodyError(400, "malformed_json", "the body is empty: send a JSON object")
    return parse_json_object(data)
