from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.tracking.forms import load_forms
from shared.tracking.identity import InvalidEmailError, customer_id_for, normalise_email
from shared.tracking.normalise import effective_time, from_form, from_segment_call
from shared.tracking.payloads import BatchRequest, FormSubmission, SegmentCall

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
calls: TypeAdapter[object] = TypeAdapter(SegmentCall)


def test_email_is_trimmed_and_lower_cased() -> None:
    assert normalise_email("  Ann.Example@Example.COM ") == "ann.example@example.com"
    with pytest.raises(InvalidEmailError):
        normalise_email("not-an-email")


def test_customer_ids_are_deterministic_per_alias() -> None:
    assert customer_id_for("email:a@b.co") == customer_id_for("email:a@b.co")
    assert customer_id_for("email:a@b.co") != customer_id_for("user:a@b.co")


def test_purchase_is_keyed_by_order_id_not_message_id() -> None:
    first = calls.validate_python(
        {
            "type": "track",
            "userId": "u",
            "event": "Order Completed",
            "messageId": "m1",
            "properties": {"order_id": "o-9", "revenue": 20, "products": [{"product_id": "p1", "price": 10}]},
        }
    )
    again = calls.validate_python(
        {
            "type": "track",
            "userId": "u",
            "event": "Order Completed",
            "messageId": "m2",
            "properties": {"order_id": "o-9", "revenue": 20},
        }
    )
    a = from_segment_call(first, "src", NOW)  # type: ignore[arg-type]
    b = from_segment_call(again, "src", NOW)  # type: ignore[arg-type]
    assert a.event_id == b.event_id == "order:o-9"
    assert a.kind == "purchase"
    assert a.amount == 20
    assert a.product_ids == ("p1",)


@pytest.mark.parametrize(
    ("properties", "field"),
    [
        ({"order_id": "o", "total": -1}, "properties.total"),
        ({"order_id": "o", "total": 5, "currency": "XXX"}, "properties.currency"),
        ({"total": 5}, "properties.order_id"),
        ({"order_id": "o", "products": [{"price": -3}]}, "properties.products.0.price"),
    ],
)
def test_bad_purchases_are_rejected_naming_the_field(properties: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        calls.validate_python(
            {"type": "track", "userId": "u", "event": "Order Completed", "properties": properties}
        )
    assert field in str(caught.value)


def test_a_call_needs_an_identity() -> None:
    with pytest.raises(ValidationError, match="userId or anonymousId"):
        calls.validate_python({"type": "page", "name": "Home"})


def test_oversized_traits_are_rejected() -> None:
    with pytest.raises(ValidationError, match="traits has 101 keys"):
        calls.validate_python({"type": "identify", "userId": "u", "traits": {f"k{i}": i for i in range(101)}})


def test_batch_is_limited_to_100_calls() -> None:
    with pytest.raises(ValidationError):
        BatchRequest.model_validate({"batch": [{"type": "page", "userId": "u"}] * 101})


def test_future_timestamps_are_skew_corrected_then_clamped() -> None:
    # Client clock 1 h ahead, with sentAt: the skew is removed.
    ts, sent = NOW + timedelta(hours=1) - timedelta(minutes=2), NOW + timedelta(hours=1)
    assert effective_time(ts, sent, NOW) == NOW - timedelta(minutes=2)
    # No sentAt: a timestamp more than 5 minutes ahead is clamped to the time of receipt.
    assert effective_time(NOW + timedelta(days=3), None, NOW) == NOW
    # Small skew is tolerated; past times are kept.
    assert effective_time(NOW + timedelta(minutes=1), None, NOW) == NOW + timedelta(minutes=1)
    assert effective_time(NOW - timedelta(days=400), None, NOW) == NOW - timedelta(days=400)


def test_timestamps_before_1990_are_rejected() -> None:
    with pytest.raises(ValidationError, match="must be after 1990-01-01"):
        calls.validate_python({"type": "page", "userId": "u", "timestamp": "1989-12-31T00:00:00Z"})


def test_newsletter_form_asks_for_double_opt_in() -> None:
    form = load_forms().forms["newsletter"]
    submission = FormSubmission.model_validate({"email": "Ann@Example.com", "first_name": "Ann"})
    interaction = from_form("newsletter", form, submission, NOW)
    assert interaction.kind == "signup"
    assert interaction.profile == {"email": "ann@example.com", "first_name": "Ann"}
    assert [(c.channel, c.status, c.wording_version) for c in interaction.consent] == [
        ("email", "pending", "newsletter-v1")
    ]


def test_contact_form_checkboxes_map_to_channels() -> None:
    form = load_forms().forms["contact"]
    submission = FormSubmission.model_validate(
        {"email": "b@c.de", "consent_sms": "on", "consent_email": "no"}
    )
    interaction = from_form("contact", form, submission, NOW)
    assert [(c.channel, c.status) for c in interaction.consent] == [("sms", "granted")]
    assert interaction.kind == "contact_request"


def test_a_returning_identifier_gets_a_new_id_per_generation() -> None:
    first = customer_id_for("user:u-1")
    assert customer_id_for("user:u-1", 0) == first  # generation 0 keeps the ids already given out
    generations = {customer_id_for("user:u-1", g) for g in range(5)}
    assert len(generations) == 5
