"""The consent state machine (pure): which confirmation moves what, and merges."""

from __future__ import annotations

from typing import Any

import pytest

from shared.tracking.consent import confirm_outcome, merge
from shared.tracking.redirects import RedirectError, safe_redirect


def _r(status: str, at: str, event_id: str = "e") -> dict[str, Any]:
    return {"status": status, "at": f"2026-01-{at}T00:00:00+00:00", "event_id": event_id}


def test_a_confirmation_moves_only_its_own_pending_request() -> None:
    assert confirm_outcome(_r("pending", "01", "form:a"), "form:a") == "confirm"
    assert confirm_outcome(_r("pending", "02", "form:b"), "form:a") == "superseded"
    assert confirm_outcome(_r("revoked", "03"), "form:a") == "revoked_since"
    assert confirm_outcome(_r("granted", "03"), "form:a") == "already_confirmed"
    assert confirm_outcome(None, "form:a") == "no_request"
    assert confirm_outcome(_r("pending", "01", "form:a"), None) == "confirm"  # links from before request ids


@pytest.mark.parametrize(
    ("survivor", "merged", "expected"),
    [
        (None, _r("granted", "01"), "granted"),
        (_r("granted", "01"), None, "granted"),
        (_r("granted", "02"), _r("revoked", "01"), "granted"),  # most recent decision wins
        (_r("granted", "01"), _r("revoked", "02"), "revoked"),
        (_r("revoked", "01"), _r("granted", "02"), "granted"),
        (_r("granted", "01"), _r("revoked", "01"), "revoked"),  # revocation wins a tie
        (_r("revoked", "01"), _r("granted", "01"), "revoked"),
        (_r("pending", "05"), _r("granted", "01"), "granted"),  # a request never downgrades a grant
        (_r("pending", "05"), _r("revoked", "01"), "pending"),  # signed up again after unsubscribing
        (_r("pending", "01"), _r("revoked", "05"), "revoked"),
        (_r("pending", "01"), _r("pending", "02", "newer"), "pending"),
    ],
)
def test_a_merge_carries_the_most_recent_explicit_decision(
    survivor: dict[str, Any] | None, merged: dict[str, Any] | None, expected: str
) -> None:
    result = merge(survivor, merged)
    assert result is not None
    assert result["status"] == expected
    assert merge(merged, survivor) == result  # the order of the two profiles does not matter


def test_a_merge_of_nothing_is_nothing() -> None:
    assert merge(None, None) is None


ALLOWED = frozenset({"localhost", "shop.example.com"})


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.com\\@localhost/",
        "https://localhost\\.evil.com/",
        "http://localhost/\r\nSet-Cookie:x",
        "http://localhost/\x00",
        "http://a:b@localhost/",
        "http://@localhost/",
        "http://[localhost]/",
        "https://shop.example.com.evil.com/",
        "https://evil.com#@shop.example.com",
        "https://evil.com?@shop.example.com",
        "data:text/html,x",
        "//shop.example.com/",
        "http://localhost\u2028/",
    ],
)
def test_redirects_refused(url: str) -> None:
    with pytest.raises(RedirectError):
        safe_redirect(url, ALLOWED)


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("https://shop.example.com/thanks", "https://shop.example.com/thanks"),
        ("HTTPS://SHOP.example.COM:443/a?b=c#d", "https://shop.example.com/a?b=c#d"),
        ("http://localhost:8080/ok", "http://localhost:8080/ok"),
        ("https://shop.example.com/é", "https://shop.example.com/%C3%A9"),
    ],
)
def test_allowed_redirects_are_answered_as_browsers_serialise_them(url: str, location: str) -> None:
    assert safe_redirect(url, ALLOWED) == location
