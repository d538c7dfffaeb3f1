"""Signed, expiring tokens for consent confirmation and unsubscribe links (HMAC-SHA256).

A token is ``base64url(json payload) + "." + base64url(hmac)``; the payload names its purpose, so a
confirmation token cannot be used to unsubscribe and the reverse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, Literal

Purpose = Literal["confirm", "unsubscribe"]


class InvalidTokenError(ValueError):
    """The token is malformed, forged, for another purpose, or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, purpose: Purpose, customer_id: str, channel: str, ttl_seconds: int | None) -> str:
    payload: dict[str, Any] = {"p": purpose, "c": customer_id, "ch": channel}
    if ttl_seconds is not None:
        payload["exp"] = int(time.time()) + ttl_seconds
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify(secret: str, token: str, purpose: Purpose, now: float | None = None) -> tuple[str, str]:
    """Return (customer_id, channel) of a valid token, or raise :class:`InvalidTokenError`."""
    try:
        body, mac = token.split(".", 1)
        expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            raise InvalidTokenError("the token's signature does not match")
        payload = json.loads(_unb64(body))
    except InvalidTokenError:
        raise
    except (ValueError, TypeError) as exc:
        raise InvalidTokenError("the token is malformed") from exc
    if payload.get("p") != purpose:
        raise InvalidTokenError(f"the token is not a {purpose} token")
    expires = payload.get("exp")
    if expires is not None and (now if now is not None else time.time()) > expires:
        raise InvalidTokenError("the token has expired")
    return str(payload["c"]), str(payload["ch"])


def token_id(token: str) -> str:
    """A short, stable id of a token (used as an idempotency key for the change it makes)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]
