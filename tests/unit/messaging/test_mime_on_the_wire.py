"""The message bytes, checked strictly (tests.helpers.wire_headers), for any subject, name and URL."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.messaging import mime
from shared.messaging.templates import render
from shared.tracking import tokens
from tests.helpers import wire_headers

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
SECRET = "s3cret"


def _url(customer_id: str, base: str = "https://api.example.com/prod") -> str:
    token = tokens.sign(SECRET, "unsubscribe", customer_id, "email", ttl_seconds=None)
    return f"{base}/v1/unsubscribe?token={token}"


def test_the_stdlib_default_would_encode_the_header_and_this_module_does_not() -> None:
    """The bug of issue 12, kept visible: a long List-Unsubscribe set the usual way goes out as
    encoded-words; built here it is one raw line."""
    from email.message import EmailMessage

    url = _url("c_" + "0" * 24)
    naive = EmailMessage()
    naive["List-Unsubscribe"] = f"<{url}>"
    assert b"=?utf-8?q?" in naive.as_bytes()

    raw = mime.to_bytes(mime.Email("m@example.com", "a@example.com", "Hi", "Body", url), NOW)
    headers = wire_headers(raw)
    assert headers["list-unsubscribe"] == [f"<{url}>".encode()]
    assert headers["list-unsubscribe-post"] == [b"List-Unsubscribe=One-Click"]


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(max_size=300),
    customer_id=st.text(alphabet="abcdef0123456789_c", min_size=1, max_size=60),
    template=st.sampled_from(["welcome", "win-back", "cross-sell", "confirm-subscription", "nope"]),
    products=st.lists(st.text(max_size=30), max_size=4),
)
def test_any_name_gives_a_message_that_passes_the_strict_wire_check(
    name: str, customer_id: str, template: str, products: list[str]
) -> None:
    subject, body = render(
        template, {"first_name": name, "recommended_products": ", ".join(products), "confirm_url": "x"}
    )
    url = _url(customer_id)
    email = mime.Email("m@example.com", "a.b+c@example.com", subject, body, url, {"X-Campaign-Id": template})
    headers = wire_headers(mime.to_bytes(email, NOW))
    assert headers["list-unsubscribe"] == [f"<{url}>".encode()]
    assert headers["list-unsubscribe-post"] == [b"List-Unsubscribe=One-Click"]
    assert headers["to"] == [b"a.b+c@example.com"]
    assert set(headers) == {
        "date", "message-id", "from", "to", "subject", "list-unsubscribe", "list-unsubscribe-post",
        "x-campaign-id", "content-type", "content-transfer-encoding", "mime-version",
    }  # fmt: skip


@pytest.mark.parametrize(
    "to", ["x1,carol@example.com", '"q"@example.com', "a@b@c.com", "a\r\n@x.com", "nope"]
)
def test_an_address_that_is_not_one_plain_addr_spec_is_not_built(to: str) -> None:
    with pytest.raises(mime.MessageError):
        mime.to_bytes(mime.Email("m@example.com", to, "Hi", "Body"), NOW)


@pytest.mark.parametrize(
    "url", ["http://x/a b", "http://x/a>b", "http://x/\r\nBcc: y", "ftp://x/", "http://x/é"]
)
def test_an_unsubscribe_url_that_cannot_sit_raw_in_the_header_is_not_built(url: str) -> None:
    with pytest.raises(mime.MessageError):
        mime.to_bytes(mime.Email("m@example.com", "a@example.com", "Hi", "Body", url), NOW)


# --- tokens: one encoding each ------------------------------------------------------------------------


def test_token_re_encodings_are_refused() -> None:
    token = tokens.sign(SECRET, "unsubscribe", "c_1", "email", ttl_seconds=None)
    body, mac = token.split(".")
    raw_mac = base64.urlsafe_b64decode(mac + "=")
    assert tokens.verify(SECRET, token, "unsubscribe") == ("c_1", "email")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    variants = {
        f"{body}.{mac}=",
        f"{body}.{mac}==",
        f"{body}.{base64.b64encode(raw_mac).decode()}",
        f"{body}.{base64.b64encode(raw_mac).decode().rstrip('=')}",
        f"{body}.{mac[:-1]}{alphabet[alphabet.index(mac[-1]) | 1]}",  # unused bits set
        f"{body}.{mac[:-1]}{alphabet[alphabet.index(mac[-1]) | 2]}",
        f"{body}.{mac} ",
        f" {body}.{mac}",
    }
    variants.discard(token)
    assert len(variants) >= 6
    for variant in variants:
        with pytest.raises(tokens.InvalidTokenError):
            tokens.verify(SECRET, variant, "unsubscribe")


@settings(max_examples=300, deadline=None)
@given(customer_id=st.text(min_size=1, max_size=80), channel=st.sampled_from(["email", "sms"]))
def test_every_signed_token_is_canonical(customer_id: str, channel: str) -> None:
    token = tokens.sign(SECRET, "confirm", customer_id, channel, ttl_seconds=60, request_id="form:abc")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}", token)
    claims = tokens.verify_claims(SECRET, token, "confirm")
    assert (claims.customer_id, claims.channel, claims.request_id) == (customer_id, channel, "form:abc")
