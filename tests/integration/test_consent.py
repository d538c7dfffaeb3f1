"""Consent that holds, through the local HTTP server on moto, checked on the bytes SES received.

One test per sequence of issue 12: the list headers on the wire, names and addresses that cannot break a
message, GET of a link changing nothing, a stale confirmation after an unsubscribe, merges, token
re-encodings, redirects, and a form post over an existing person.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from infra.local.demo import Client
from infra.local.faults import Fault
from infra.local.stack import LocalStack
from shared.dal import customers as consent_dal
from shared.dal.models import CustomerModel, DecisionModel, IdentityModel, InteractionModel
from shared.events import InteractionTracked
from shared.services import campaigns
from shared.services import consent as consent_service
from shared.services.tracking import unsubscribe_url
from tests.helpers import daytime_zone, raw_emails, unique, wire_headers

CONFIRM = re.compile(r"http://[^/\s]+(/v1/consent/confirm\?token=[A-Za-z0-9_.%-]+)")
LIST_UNSUBSCRIBE = re.compile(rb"<(https?://[\x21-\x3b\x3d\x3f-\x7e]+)>")  # printable, no '<' or '>'


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _profile(client: Client, customer_id: str) -> dict[str, Any]:
    status, body, _ = client.call("GET", f"/v1/customers/{customer_id}", private=True)
    assert status == 200, body
    return dict(body)


def _email_status(client: Client, customer_id: str) -> str | None:
    record = _profile(client, customer_id)["consent"].get("email")
    return record["status"] if record else None


def _wire(stack: LocalStack, address: str) -> list[tuple[dict[str, list[bytes]], bytes]]:
    """(checked headers, raw bytes) of every message SES accepted for ``address``."""
    found = []
    for raw in raw_emails(stack):
        headers = wire_headers(raw)  # every message is checked, not only this address's
        if headers.get("to") == [address.encode()]:
            found.append((headers, raw))
    return found


def _sign_up(client: Client, email: str, **fields: str) -> tuple[int, Any, dict[str, str]]:
    return client.call("POST", "/v1/forms/newsletter", form={"email": email, "consent_email": "on", **fields})


def _confirm_link(stack: LocalStack, email: str) -> str:
    confirmations = [raw for headers, raw in _wire(stack, email) if b"list-unsubscribe" not in headers]
    assert confirmations, f"no confirmation email to {email}"
    # The body (not the headers, checked strictly above) is read with a decoding parser.
    message = message_from_bytes(confirmations[-1], policy=policy.default)
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    body = part.get_content()
    match = CONFIRM.search(body)
    assert match is not None, body
    return match.group(1)


def _subscribed(stack: LocalStack, client: Client, email: str, **fields: str) -> str:
    """Sign up, confirm with the page's button; returns the customer id."""
    status, body, _ = _sign_up(client, email, **fields)
    assert status == 200, body
    stack.drain()
    assert client.call("POST", _confirm_link(stack, email))[0] == 200
    stack.drain()
    return str(body["customer_id"])


def _interaction_kinds(customer_id: str) -> list[str]:
    items = sorted(InteractionModel.query(customer_id), key=lambda i: i.received_at)
    return [i.kind for i in items]


# --- 1. on the wire ------------------------------------------------------------------------------------


def test_list_unsubscribe_headers_are_on_the_wire_exactly_as_rfc_8058_writes_them(
    stack: LocalStack, client: Client
) -> None:
    email = f"{unique('wire')}@example.com"
    # A name (from a Segment call: stored as sent) that tries to add a header, long enough to fold.
    name = "Eve\r\nBcc: victim@example.net\r\n\r\nbody" + " très-longue" * 12
    traits = {"email": email, "firstName": name, "timezone": daytime_zone()}
    client.call("POST", "/v1/identify", {"userId": unique("u"), "traits": traits})
    customer_id = _subscribed(stack, client, email)

    [(confirmation, raw_confirmation), (welcome, raw)] = _wire(stack, email)
    assert b"Bcc" not in raw_confirmation.partition(b"\r\n\r\n")[0]
    assert b"bcc" not in confirmation
    assert b"bcc" not in welcome
    assert welcome["x-campaign-id"] == [b"welcome"]
    # One of each, byte for byte: no RFC 2047 encoded-word, no folding inside the URL.
    [list_unsubscribe] = welcome["list-unsubscribe"]
    assert welcome["list-unsubscribe-post"] == [b"List-Unsubscribe=One-Click"]
    assert b"=?" not in list_unsubscribe
    match = LIST_UNSUBSCRIBE.fullmatch(list_unsubscribe)
    assert match is not None, list_unsubscribe
    assert b"\r\nList-Unsubscribe: <" + match.group(1) + b">\r\n" in raw
    # The subject is one logical line (folded at whitespace only), its name made harmless.
    [subject] = welcome["subject"]
    assert b"\r" not in subject
    assert b"\n" not in subject
    # The one-click POST as a mail provider sends it (RFC 8058 section 3.2): one request does it.
    one_click = _path(match.group(1).decode())
    status, _, _ = client.call("POST", one_click, form={"List-Unsubscribe": "One-Click"})
    assert status == 200
    assert _email_status(client, customer_id) == "revoked"


@pytest.mark.parametrize(
    "address",
    [
        "x1,carol@example.com",
        "Carol <carol@example.com>",
        '"carol"@example.com',
        "carol@example.com\r\nBcc: x@example.net",
        "carol@example.com, dave@example.com",
        "carol@[127.0.0.1]",
        "carol@localhost",
    ],
)
def test_an_address_that_is_not_one_addr_spec_is_refused_at_intake(client: Client, address: str) -> None:
    status, body, _ = _sign_up(client, address)
    assert status == 422, body
    status, body, _ = client.call(
        "POST", "/v1/identify", {"userId": unique("u"), "traits": {"email": address}}
    )
    assert status == 422, body


# --- 2. links safe from prefetching ------------------------------------------------------------------


def test_get_of_a_confirmation_or_unsubscribe_link_changes_nothing(stack: LocalStack, client: Client) -> None:
    email = f"{unique('scan')}@example.com"
    status, body, _ = _sign_up(client, email)
    customer_id = body["customer_id"]
    stack.drain()
    link = _confirm_link(stack, email)
    for _ in range(3):  # a mail scanner fetches links, maybe more than once
        status, page, headers = client.call("GET", link)
        assert status == 200
        assert page.count("<button") == 1
        assert "method=post" in page
        assert headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]  # no clickjacking
    assert _email_status(client, customer_id) == "pending"
    assert "consent_granted" not in _interaction_kinds(customer_id)

    assert client.call("POST", link)[0] == 200
    assert _email_status(client, customer_id) == "granted"
    # The change is in the audit trail with the wording the person agreed to.
    [granted] = [i for i in InteractionModel.query(customer_id) if i.kind == "consent_granted"]
    assert granted.properties is not None
    assert granted.properties.as_dict()["wording_version"] == "newsletter-v1"
    unsubscribe = _path(unsubscribe_url(customer_id))
    for _ in range(3):
        status, page, _ = client.call("GET", unsubscribe)
        assert status == 200
        assert page.count("<button") == 1
    assert _email_status(client, customer_id) == "granted"
    assert "unsubscribe" not in _interaction_kinds(customer_id)


# --- 3. the state machine ----------------------------------------------------------------------------


def test_a_stale_confirmation_after_an_unsubscribe_stays_revoked(stack: LocalStack, client: Client) -> None:
    email = f"{unique('stale')}@example.com"
    status, body, _ = _sign_up(client, email)
    customer_id = body["customer_id"]
    stack.drain()
    link = _confirm_link(stack, email)  # not clicked yet
    assert client.call("POST", _path(unsubscribe_url(customer_id)))[0] == 200
    assert _email_status(client, customer_id) == "revoked"

    status, page, _ = client.call("GET", link)
    assert status == 200
    assert "<button" not in page
    assert "unsubscribed after" in page
    status, page, _ = client.call("POST", link)
    assert status == 409
    assert "unsubscribed after" in page
    stack.drain()
    assert _email_status(client, customer_id) == "revoked"
    # The audit trail matches the state: the sign-up, then the unsubscribe; no grant.
    assert _interaction_kinds(customer_id) == ["signup", "unsubscribe"]
    assert len(_wire(stack, email)) == 1  # the confirmation only, no welcome

    # Signing up again opens a new request; only its own link confirms it.
    _sign_up(client, email, first_name="Again")
    stack.drain()
    new_link = _confirm_link(stack, email)
    assert new_link != link
    assert client.call("POST", link)[0] == 409
    assert client.call("POST", new_link)[0] == 200
    assert _email_status(client, customer_id) == "granted"


def test_one_interaction_per_change_even_when_clicked_twice(stack: LocalStack, client: Client) -> None:
    email = f"{unique('twice')}@example.com"
    customer_id = _subscribed(stack, client, email)
    unsubscribe = _path(unsubscribe_url(customer_id))
    for _ in range(2):
        assert client.call("POST", unsubscribe)[0] == 200
    kinds = _interaction_kinds(customer_id)
    assert kinds.count("consent_granted") == 1
    assert kinds.count("unsubscribe") == 1
    # Subscribed again later, the same old link unsubscribes again: a new change, a new interaction.
    _sign_up(client, email, first_name="Back")
    stack.drain()
    assert client.call("POST", _confirm_link(stack, email))[0] == 200
    assert client.call("POST", unsubscribe)[0] == 200
    assert _email_status(client, customer_id) == "revoked"
    assert _interaction_kinds(customer_id).count("unsubscribe") == 2


@pytest.mark.parametrize("whose_link", ["merged-away", "survivor"])
def test_merge_then_unsubscribe_with_either_link_revokes_the_survivor_and_no_email_follows(
    stack: LocalStack, client: Client, whose_link: str
) -> None:
    email = f"{unique('merge')}@example.com"
    user_id = unique("shop")
    # A newsletter subscriber (confirmed), and a shop account of the same person, not yet linked.
    subscriber = _subscribed(stack, client, email, first_name="Nia")
    status, body, _ = client.call(
        "POST", "/v1/identify", {"userId": user_id, "traits": {"timezone": daytime_zone()}}
    )
    shop = body["customer_id"]
    assert shop != subscriber
    # The shop account gives its email: the subscriber's profile is merged into the shop's.
    client.call("POST", "/v1/identify", {"userId": user_id, "traits": {"email": email}})
    assert IdentityModel.get(f"email:{email}").customer_id == shop
    assert _email_status(client, shop) == "granted"  # consent carried over
    assert "consent_changed" in _interaction_kinds(shop)
    stack.drain()
    sent_before = len(_wire(stack, email))

    link = _path(unsubscribe_url(subscriber if whose_link == "merged-away" else shop))
    assert client.call("GET", link)[0] == 200
    assert _email_status(client, shop) == "granted"  # a GET changes nothing
    status, _, _ = client.call("POST", link, form={"List-Unsubscribe": "One-Click"})
    assert status == 200
    assert _email_status(client, shop) == "revoked"

    # Whatever campaigns decide for the survivor now, and whatever was queued, nothing goes out.
    [granted] = [i for i in InteractionModel.query(shop) if i.kind == "consent_granted"]
    campaigns.handle_event(
        InteractionTracked(
            customer_id=shop, event_id=granted.event_id, kind=granted.kind, occurred_at=granted.occurred_at
        )
    )
    campaigns.sweep(datetime.now(UTC) + timedelta(days=400), only={shop, subscriber})
    stack.drain()
    assert len(_wire(stack, email)) == sent_before


def test_the_merged_away_profile_s_confirmation_link_confirms_the_survivor(
    stack: LocalStack, client: Client
) -> None:
    email = f"{unique('mconf')}@example.com"
    user_id = unique("shop")
    _, body, _ = _sign_up(client, email)
    subscriber = body["customer_id"]
    stack.drain()
    link = _confirm_link(stack, email)
    _status, body, _ = client.call("POST", "/v1/identify", {"userId": user_id, "traits": {"plan": "x"}})
    shop = body["customer_id"]
    client.call("POST", "/v1/identify", {"userId": user_id, "traits": {"email": email}})
    assert _email_status(client, shop) == "pending"  # the open request carried over
    assert client.call("POST", link)[0] == 200
    assert _email_status(client, shop) == "granted"
    assert "consent_granted" in _interaction_kinds(shop)
    assert subscriber != shop


# --- 4. one encoding per token -------------------------------------------------------------------------


def _re_encodings(token: str) -> list[str]:
    body, mac = token.split(".")
    raw = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
    variants = [
        f"{body}.{mac}=",  # padding
        f"{body}.{base64.b64encode(raw).decode().rstrip('=')}",  # standard alphabet (+/) if any
        f"{body}=.{mac}",
    ]
    # Changed unused bits in the last character: decodes to the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(mac[-1])
    variants.append(f"{body}.{mac[:-1]}{alphabet[last | 1]}")
    return [v for v in variants if v != token]


def test_token_re_encodings_are_refused(stack: LocalStack, client: Client) -> None:
    email = f"{unique('enc')}@example.com"
    customer_id = _subscribed(stack, client, email)
    token = unsubscribe_url(customer_id).split("token=", 1)[1]
    for variant in _re_encodings(token):
        status, page, _ = client.call("POST", f"/v1/unsubscribe?token={variant.replace('+', '%2B')}")
        assert status in (400, 422), (variant, page)
    assert _email_status(client, customer_id) == "granted"
    assert "unsubscribe" not in _interaction_kinds(customer_id)


# --- 5. redirects as browsers read them ----------------------------------------------------------------


@pytest.mark.parametrize(
    "redirect",
    [
        "http://evil.com\\@localhost/",
        "http://localhost\\@evil.com/",
        "http://localhost/ok\r\nSet-Cookie: a=b",
        "http://localhost/ok\nx",
        "http://local\thost/",
        "http://user@localhost/",
        "http://evil.com@localhost/",
        "http://[localhost]/",
        "javascript:alert(1)//localhost",
        "http:///evil.com",
        " http://evil.com/",
    ],
)
def test_redirects_browsers_would_read_elsewhere_are_422(client: Client, redirect: str) -> None:
    status, body, headers = _sign_up(client, f"{unique('r')}@example.com", redirect=redirect)
    assert status == 422, (status, body)
    assert "Location" not in headers


def test_an_allowed_redirect_answers_the_url_as_browsers_serialise_it(
    stack: LocalStack, client: Client
) -> None:
    host = stack.api_url.split("//", 1)[1].split("/", 1)[0]
    status, _, headers = _sign_up(client, f"{unique('r')}@example.com", redirect=f"HTTP://{host}/thanks?x=é")
    assert status == 303
    assert headers["Location"] == f"http://{host}/thanks?x=%C3%A9"


# --- 6. a public form never overwrites -----------------------------------------------------------------


def test_a_form_post_over_an_existing_person_leaves_their_fields(stack: LocalStack, client: Client) -> None:
    email = f"{unique('known')}@example.com"
    traits = {"email": email, "firstName": "Ann", "lastName": "Lee", "company": "Acme"}
    status, body, _ = client.call("POST", "/v1/identify", {"userId": unique("u"), "traits": traits})
    customer_id = body["customer_id"]
    status, body, _ = _sign_up(
        client, email, first_name="Mallory", last_name="M", company="Evil Corp", job_title="CEO"
    )
    assert status == 200
    assert body["customer_id"] == customer_id
    profile = _profile(client, customer_id)["profile"]
    assert (profile["first_name"], profile["last_name"], profile["company"]) == ("Ann", "Lee", "Acme")
    assert profile["job_title"] == "CEO"  # an empty field is filled


# --- 7. decisions tell the truth -----------------------------------------------------------------------


def _welcome_decision(customer_id: str) -> DecisionModel:
    [decision] = [d for d in DecisionModel.query(customer_id) if d.campaign_id == "welcome"]
    return decision


def _confirmed_but_not_drained(stack: LocalStack, client: Client, email: str) -> str:
    """A subscriber whose confirmation was just pressed: the welcome decision is not taken yet."""
    traits = {"email": email, "timezone": daytime_zone()}  # daytime there: quiet hours defer nothing
    _, body, _ = client.call("POST", "/v1/identify", {"userId": unique("u"), "traits": traits})
    customer_id = str(body["customer_id"])
    _sign_up(client, email)
    stack.drain()
    assert client.call("POST", _confirm_link(stack, email))[0] == 200
    return customer_id


def test_a_message_that_cannot_be_built_is_failed_with_its_reason_in_the_report(
    stack: LocalStack, client: Client
) -> None:
    email = f"{unique('legacy')}@example.com"
    customer_id = _confirmed_but_not_drained(stack, client, email)
    # An address stored before intake validated addresses (two recipients in one field).
    CustomerModel(customer_id).update(actions=[CustomerModel.email.set(f"x1,{email}")])
    dead_before = len(stack.dispatcher.log.dead_lettered)  # type: ignore[union-attr]
    stack.drain()
    decision = _welcome_decision(customer_id)
    assert (decision.outcome, decision.reason) == ("failed", "unbuildable: not a plain addr-spec")
    assert len(stack.dispatcher.log.dead_lettered) == dead_before  # type: ignore[union-attr]
    status, report, _ = client.call("GET", "/v1/campaigns/welcome/report", private=True)
    assert status == 200
    assert report["failed"]["unbuildable: not a plain addr-spec"] >= 1


def test_a_message_ses_rejects_is_failed_until_sent_and_never_sent_before_ses_accepts(
    stack: LocalStack, client: Client
) -> None:
    email = f"{unique('rejected')}@example.com"
    customer_id = _confirmed_but_not_drained(stack, client, email)
    stack.drain()
    assert _welcome_decision(customer_id).outcome == "sent"  # the ordinary path, for comparison

    email = f"{unique('rejected')}@example.com"
    customer_id = _confirmed_but_not_drained(stack, client, email)
    fault = Fault("ses", "SendRawEmail", error_code="MessageRejected", status=400, times=1000)
    with stack.faults.inject(fault):
        stack.drain()
    decision = _welcome_decision(customer_id)
    assert (decision.outcome, decision.reason) == ("failed", "rejected by SES: MessageRejected")
    assert [h for h, _ in _wire(stack, email) if h.get("x-campaign-id")] == []


def test_a_form_never_changes_a_known_address_until_its_owner_confirms(
    stack: LocalStack, client: Client
) -> None:
    old, new = f"{unique('old')}@example.com", f"{unique('new')}@example.com"
    anonymous_id = unique("anon")
    traits = {"email": old, "firstName": "Ann"}
    _, body, _ = client.call(
        "POST", "/v1/identify", {"userId": unique("u"), "anonymousId": anonymous_id, "traits": traits}
    )
    customer_id = body["customer_id"]
    status, body, _ = _sign_up(client, new, anonymous_id=anonymous_id, first_name="Visit evil.example")
    assert status == 200
    assert body["customer_id"] == customer_id
    assert _profile(client, customer_id)["profile"]["email"] == old  # held until confirmed
    stack.drain()
    [(_, raw)] = _wire(stack, new)
    message = message_from_bytes(raw, policy=policy.default)
    assert "Hello Ann," in message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert client.call("POST", _confirm_link(stack, new))[0] == 200
    profile = _profile(client, customer_id)
    assert profile["profile"]["email"] == new
    assert profile["consent"]["email"]["status"] == "granted"


def test_an_unsubscribe_racing_a_merge_still_revokes_the_survivor(
    stack: LocalStack, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The link resolved the subscriber's profile; the merge carried its still-granted consent over to
    the shop account before the revocation was written: the revocation still reaches the survivor."""
    email = f"{unique('race')}@example.com"
    user_id = unique("shop")
    subscriber = _subscribed(stack, client, email)
    shop = client.call("POST", "/v1/identify", {"userId": user_id, "traits": {"plan": "x"}})[1]["customer_id"]
    real_revoke = consent_dal.revoke_consent
    merged: list[str] = []

    def merge_first(customer_id: str, channel: str, record: dict[str, Any]) -> bool:
        if not merged:
            merged.append(customer_id)
            client.call("POST", "/v1/identify", {"userId": user_id, "traits": {"email": email}})
            assert _email_status(client, shop) == "granted"  # carried over before the revocation
        return real_revoke(customer_id, channel, record)

    monkeypatch.setattr(consent_dal, "revoke_consent", merge_first)
    outcome = consent_service.unsubscribe(unsubscribe_url(subscriber).split("token=", 1)[1])
    assert outcome.changed
    assert merged == [subscriber]
    assert _email_status(client, shop) == "revoked"
