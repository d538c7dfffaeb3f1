"""Hold-out assignment: the documented hash, its share, and its determinism."""

from __future__ import annotations

import hashlib

import pytest

from shared.campaigns.holdout import holdout_bucket, is_held_out

CUSTOMERS = [f"customer-{n:05d}" for n in range(10_000)]


def test_bucket_is_the_documented_hash() -> None:
    expected = int(hashlib.sha256(b"win-back:customer-00042").hexdigest()[:8], 16) % 10_000
    assert holdout_bucket("win-back", "customer-00042") == expected
    assert is_held_out("win-back", "customer-00042", 10) == (expected < 1000)


def test_ten_percent_share_over_ten_thousand_customers() -> None:
    held = [c for c in CUSTOMERS if is_held_out("win-back", c, 10)]
    assert abs(len(held) / len(CUSTOMERS) - 0.10) <= 0.02
    # Deterministic: the same customers every time.
    assert held == [c for c in CUSTOMERS if is_held_out("win-back", c, 10)]


@pytest.mark.parametrize("percent", [5, 25, 50])
def test_other_shares(percent: float) -> None:
    share = sum(is_held_out("loyalty-reward", c, percent) for c in CUSTOMERS) / len(CUSTOMERS)
    assert abs(share - percent / 100) <= 0.02


def test_zero_percent_and_nesting() -> None:
    assert not any(is_held_out("win-back", c, 0) for c in CUSTOMERS)
    # Raising the percentage only adds customers to the control group.
    small = {c for c in CUSTOMERS if is_held_out("win-back", c, 5)}
    large = {c for c in CUSTOMERS if is_held_out("win-back", c, 10)}
    assert small < large


def test_campaigns_draw_independent_groups() -> None:
    a = {c for c in CUSTOMERS if is_held_out("win-back", c, 10)}
    b = {c for c in CUSTOMERS if is_held_out("cross-sell", c, 10)}
    # Independent draws overlap on about 10 % x 10 % = 1 % of customers, not 10 %.
    assert abs(len(a & b) / len(CUSTOMERS) - 0.01) <= 0.005


def test_invalid_percent_is_rejected() -> None:
    with pytest.raises(ValueError, match="holdout_percent"):
        is_held_out("win-back", "c-1", 101)
