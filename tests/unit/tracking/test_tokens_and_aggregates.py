from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.tracking import tokens
from shared.tracking.aggregates import StoredInteraction, delta_of
from shared.tracking.engagement import decay_factor, decay_weight

SECRET = "s3cret"


def test_token_round_trip() -> None:
    token = tokens.sign(SECRET, "confirm", "c_1", "email", ttl_seconds=60)
    assert tokens.verify(SECRET, token, "confirm") == ("c_1", "email")


def test_expired_forged_and_misused_tokens_are_refused() -> None:
    token = tokens.sign(SECRET, "confirm", "c_1", "email", ttl_seconds=60)
    with pytest.raises(tokens.InvalidTokenError, match="expired"):
        tokens.verify(SECRET, token, "confirm", now=10**12)
    with pytest.raises(tokens.InvalidTokenError, match="signature"):
        tokens.verify("other-secret", token, "confirm")
    with pytest.raises(tokens.InvalidTokenError, match="not a unsubscribe token"):
        tokens.verify(SECRET, token, "unsubscribe")
    with pytest.raises(tokens.InvalidTokenError, match="malformed"):
        tokens.verify(SECRET, "garbage", "confirm")


def test_delta_counts_purchases_days_and_engagement() -> None:
    day = datetime(2026, 1, 10, 9, tzinfo=UTC)
    items = [
        StoredInteraction("c", "e1", "purchase", day, 10.0),
        StoredInteraction("c", "e2", "purchase", day.replace(hour=18), 5.5),
        StoredInteraction("c", "e3", "page_view", day.replace(day=12)),
        StoredInteraction("c", "e4", "signup", day.replace(day=1)),
    ]
    delta = delta_of(items, half_life_days=30)
    assert delta.interactions == 4
    assert delta.purchases == 2
    assert delta.spent == 15.5
    assert delta.purchase_days == {"2026-01-10"}
    assert delta.first_seen == day.replace(day=1)
    assert delta.last_seen == day.replace(day=12)
    assert delta.engagement_counts == {"page_view": 1, "form_post": 1}


def test_decayed_weight_halves_every_half_life() -> None:
    event = datetime(2026, 1, 1, tzinfo=UTC)
    now = datetime(2026, 1, 31, tzinfo=UTC)
    assert decay_weight(event, 30) * decay_factor(now, 30) == pytest.approx(0.5)
    assert decay_weight(now, 30) * decay_factor(now, 30) == pytest.approx(1.0)
