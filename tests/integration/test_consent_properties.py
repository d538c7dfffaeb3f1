"""Property: every sign-up the API accepts gets its confirmation email sent (SES accepted it, and it
passes the strict wire check); none is dead-lettered; anything refused is a 422, never a 5xx."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from infra.local.demo import Client
from infra.local.stack import LocalStack
from tests.helpers import raw_emails, wire_headers

# Names: any text, with the characters that broke messages before made likely.
NAMES = st.one_of(
    st.none(),
    st.text(max_size=120),
    st.lists(st.sampled_from(["Ann", "\r", "\n", "\r\n", "Bcc: x@evil.test", "=?utf-8?q?x?=", "é", " ", "\t",
                              "\x00", "\u2028", "<b>", ",", ";", '"', ":"]), max_size=12).map("".join),
)  # fmt: skip
LOCAL_PARTS = st.one_of(
    st.emails().map(lambda e: e.rsplit("@", 1)[0]),
    st.text(max_size=20),
    st.sampled_from(["x1,carol", '"q"', "a b", "a..b", ".a", "a.", "Ann <a", "a\r\nBcc: b", "ü"]),
)
DOMAINS = st.one_of(
    st.emails().map(lambda e: e.rsplit("@", 1)[1]),
    st.sampled_from(
        ["example.com", "EXAMPLE.com", "münchen.example", "localhost", "[127.0.0.1]", "x", "a.b"]
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(local=LOCAL_PARTS, domain=DOMAINS, first_name=NAMES, last_name=NAMES)
def test_every_accepted_sign_up_gets_its_confirmation_sent(
    stack: LocalStack, client: Client, local: str, domain: str, first_name: str | None, last_name: str | None
) -> None:
    # A fresh address per example (a repeated one would rightly send no second confirmation).
    address = f"p{uuid.uuid4().hex[:8]}.{local}@{domain}"
    form = {"email": address, "consent_email": "on"}
    form |= {k: v for k, v in (("first_name", first_name), ("last_name", last_name)) if v is not None}
    dead_before = len(stack.dispatcher.log.dead_lettered)  # type: ignore[union-attr]
    sent_before = len(raw_emails(stack))
    status, body, _ = client.call("POST", "/v1/forms/newsletter", form=form)
    assert status in (200, 422), (status, body)
    event(f"answered {status}")  # --hypothesis-show-statistics: how many were accepted
    stack.drain()
    assert len(stack.dispatcher.log.dead_lettered) == dead_before  # type: ignore[union-attr]
    new = raw_emails(stack)[sent_before:]
    if status == 422:
        assert new == []
        return
    status, profile, _ = client.call("GET", f"/v1/customers/{body['customer_id']}", private=True)
    stored = profile["profile"]["email"]
    [confirmation] = new
    headers = wire_headers(confirmation)
    assert headers["to"] == [stored.encode()]
    assert b"bcc" not in headers
