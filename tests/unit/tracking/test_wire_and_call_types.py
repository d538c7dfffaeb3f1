"""Request bodies as the SDKs send them (gzip, text/plain, huge numbers) and the six Segment call types."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime

import pytest

from shared.tracking import wire
from shared.tracking.normalise import from_segment_call
from shared.tracking.payloads import AliasCall, CallProblem, validate_call

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LIMIT = 32 * 1024


def test_gzip_base64_and_text_plain_bodies_decode_to_the_same_object() -> None:
    call = {"userId": "u-1", "event": "Signed Up"}
    raw = json.dumps(call).encode()
    zipped = base64.b64encode(gzip.compress(raw)).decode()
    assert wire.decode(raw.decode(), False, "application/json", LIMIT) == call
    assert wire.decode(zipped, True, "application/json", LIMIT) == call
    assert wire.decode(raw.decode(), False, "text/plain", LIMIT) == call  # analytics.js
    assert wire.decode(raw.decode(), False, "", LIMIT) == call


@pytest.mark.parametrize(
    ("body", "is_base64", "media_type", "status", "code"),
    [
        ('{"userId": ', False, "application/json", 400, "malformed_json"),
        ("[1, 2]", False, "application/json", 400, "malformed_json"),
        ("", False, "application/json", 400, "malformed_json"),
        (base64.b64encode(b"\xc6[\x87").decode(), True, "application/json", 400, "not_utf8"),
        (base64.b64encode(b"\x1f\x8bnot really gzip").decode(), True, "", 400, "malformed_gzip"),
        (base64.b64encode(gzip.compress(b" " * (LIMIT + 1))).decode(), True, "", 413, "body_too_large"),
        ("{}", False, "multipart/form-data", 415, "unsupported_media_type"),
        ("[" * 5000 + "]" * 5000, False, "", 400, "malformed_json"),
    ],
    ids=["truncated", "not-object", "empty", "not-utf8", "bad-gzip", "gzip-bomb", "multipart", "deep"],
)
def test_unreadable_bodies_have_a_status_and_code(
    body: str, is_base64: bool, media_type: str, status: int, code: str
) -> None:
    with pytest.raises(wire.BodyError) as caught:
        wire.decode(body, is_base64, media_type, LIMIT)
    assert (caught.value.status, caught.value.code) == (status, code)


def test_an_integer_too_long_for_int_is_a_refused_call_not_a_crash() -> None:
    body = wire.decode(
        '{"userId": "u", "event": "E", "properties": {"n": ' + "9" * 5000 + "}}", False, "", LIMIT
    )
    problem = validate_call(body, "track")
    assert isinstance(problem, CallProblem)
    assert "out of range" in problem.message


def test_each_call_type_and_refusals() -> None:
    assert validate_call({"userId": "u"}, "screen").type == "screen"  # type: ignore[union-attr]
    assert validate_call({"type": "nope", "userId": "u"}) == CallProblem(
        "unknown_type",
        "type: 'nope' is not a call type; use one of identify, track, page, screen, group, alias",
    )
    missing = validate_call({"type": "group", "userId": "u"})
    assert isinstance(missing, CallProblem)
    assert "groupId" in missing.message or "group_id" in missing.message
    assert isinstance(validate_call({"type": "alias", "previousId": "a"}), CallProblem)  # no userId
    big = validate_call({"type": "track", "userId": "u", "event": "E", "x": "y" * 100}, max_bytes=50)
    assert isinstance(big, CallProblem)
    assert big.code == "call_too_large"


def test_context_traits_count_as_traits_and_identify_traits_win() -> None:
    call = validate_call(
        {
            "type": "identify",
            "userId": "u",
            "context": {"traits": {"email": "A@B.co", "plan": "x"}},
            "traits": {"plan": "pro"},
        }
    )
    interaction = from_segment_call(call, "key:test", NOW)  # type: ignore[arg-type]
    assert interaction.profile["email"] == "a@b.co"
    assert interaction.extra_traits == {"plan": "pro"}


def test_group_puts_the_account_on_the_person() -> None:
    call = validate_call(
        {"type": "group", "userId": "u", "groupId": "g-1", "traits": {"name": "Acme", "employees": 5}}
    )
    interaction = from_segment_call(call, "key:test", NOW)  # type: ignore[arg-type]
    assert interaction.kind == "identify"
    assert interaction.profile["company"] == "Acme"
    assert interaction.extra_traits == {"group_id": "g-1", "company_employees": 5}


def test_alias_links_the_previous_id_like_an_anonymous_id() -> None:
    call = validate_call({"type": "alias", "previousId": "anon-1", "userId": "u-1"})
    assert isinstance(call, AliasCall)
    interaction = from_segment_call(call, "key:test", NOW)
    assert interaction.identifiers.aliases() == ["user:u-1", "anon:anon-1"]


def test_screen_is_a_page_view() -> None:
    call = validate_call({"type": "screen", "userId": "u", "name": "Basket"})
    interaction = from_segment_call(call, "key:test", NOW)  # type: ignore[arg-type]
    assert (interaction.kind, interaction.name) == ("page_view", "screen:Basket")
