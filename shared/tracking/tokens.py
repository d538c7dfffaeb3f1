"""Signed, expiring tokens for consent confirmation and unsubscribe links (HMAC-SHA256).

A token is ``base64url(json payload) + "." + base64url(hmac)``; the payload names its purpose, so a
confirmation token cannot be used to unsubscribe and the reverse. A confirmation token also names the
pending request it was issued for (``rq``): it confirms that request and no other.

One accepted encoding per token: both parts must be canonical base64url without padding (the alphabet
``A-Z a-z 0-9 - _``, no ``=``, and zero unused bits in the last character). A decoder that tolerated
padding, ``+/`` or changed unused bits would accept several spellings of the same MAC, and each spelling
would record the change as a different interaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Final, Literal

Purpose = Literal["confirm", "unsubscribe"]
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]+")


class InvalidTokenError(ValueError):
    """The token is malformed, forged, for another purpose, or expired."""


@dataclass(frozen=True)
class Claims:
    customer_id: str
    channel: str
    request_id: str | None  # confirmation tokens: the pending request (its event id) they confirm


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    """Decode canonical unpadded base64url only: re-encoding the bytes must give ``text`` back."""
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise InvalidTokenError("the token is not canonical base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidTokenError("the token is malformed") from exc
    if _b64(data) != text:  # non-zero unused bits: another spelling of the same bytes
        raise InvalidTokenError("the token is not canonical base64url")
    return data


def sign(
    secret: str,
    purpose: Purpose,
    customer_id: str,
    channel: str,
    ttl_seconds: int | None,
    request_id: str | None = None,
) -> str:
    payload: dict[str, Any] = {"p": purpose, "c": customer_id, "ch": channel}
    if ttl_seconds is not None:
        payload["exp"] = int(time.time()) + ttl_seconds
    if request_id is not None:
        payload["rq"] = request_id
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify_claims(secret: str, token: str, purpose: Purpose, now: float | None = None) -> Claims:
    """The claims of a valid token, or raise :class:`InvalidTokenError`."""
    body, dot, mac = token.partition(".")
    if not dot:
        raise InvalidTokenError("the token is malformed")
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(mac)):
        raise InvalidTokenError("the token's signature does not match")
    try:
        payload = json.loads(_unb64(body))
        if not isinstance(payload, dict):
            raise TypeError("payload is not an object")
    except (ValueError, TypeError) as exc:
        if isinstance(exc, InvalidTokenError):
            raise
        raise InvalidTokenError("the token is malformed") from exc
    if payload.get("p") != purpose:
        raise InvalidTokenError(f"the token is not a {purpose} token")
    expires = payload.get("exp")
    if expires is not None and (now if now is not None else time.time()) > expires:
        raise InvalidTokenError("the token has expired")
    request_id = payload.get("rq")
    return Claims(str(payload["c"]), str(payload["ch"]), str(request_id) if request_id else None)


def verify(secret: str, token: str, purpose: Purpose, now: float | None = None) -> tuple[str, str]:
    """Return (customer_id, channel) of a valid token, or raise :class:`InvalidTokenError`."""
    claims = verify_claims(secret, token, purpose, now)
    return claims.customer_id, claims.channel


def token_id(token: str) -> str:
    """A short, stable id of a token (used as an idempotency key for the change it makes)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]
