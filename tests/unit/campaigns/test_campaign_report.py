"""The campaign report: counts, attribution, lift and its Newcombe interval on data with known answers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from shared.campaigns.report import (
    Purchase,
    build_report,
    newcombe_interval,
    two_proportion_p_value,
    wilson_interval,
)
from shared.campaigns.rules import DecisionRecord, Outcome

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
Z95 = 1.959963984540054


def _decision(
    customer: str, outcome: Outcome, at: datetime = T0, reason: str | None = None
) -> DecisionRecord:
    return DecisionRecord(
        campaign_id="win-back", customer_id=customer, outcome=outcome, decided_at=at, reason=reason
    )


def _buy(customer: str, days_after: float, amount: float = 50.0) -> Purchase:
    return Purchase(customer_id=customer, occurred_at=T0 + timedelta(days=days_after), amount=amount)


def _seeded() -> tuple[list[DecisionRecord], list[Purchase]]:
    """Treatment converts 30/100, control 10/100 within the 30-day window; plus noise that must not count."""
    decisions = [_decision(f"t-{i}", "sent") for i in range(100)]
    decisions += [_decision(f"h-{i}", "held_out") for i in range(100)]
    decisions += [_decision(f"s-{i}", "skipped", reason="no_consent") for i in range(7)]
    decisions += [_decision(f"f-{i}", "skipped", reason="frequency_cap") for i in range(3)]
    decisions += [_decision("d-1", "deferred")]
    decisions += [
        DecisionRecord(campaign_id="cross-sell", customer_id=f"t-{i}", outcome="sent", decided_at=T0)
        for i in range(50)
    ]
    purchases = [_buy(f"t-{i}", 5) for i in range(30)]
    purchases += [_buy(f"h-{i}", 7) for i in range(10)]
    purchases += [_buy(f"t-{i}", 40) for i in range(30, 40)]  # after the window
    purchases += [_buy(f"h-{i}", -1) for i in range(10, 20)]  # before the decision
    purchases += [_buy("stranger", 3)]
    return decisions, purchases


def _hand_wilson(x: int, n: int) -> tuple[float, float]:
    p = x / n
    centre = p + Z95**2 / (2 * n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    return (centre - half) / (1 + Z95**2 / n), (centre + half) / (1 + Z95**2 / n)


def test_lift_on_seeded_data() -> None:
    decisions, purchases = _seeded()
    report = build_report("win-back", decisions, purchases, attribution_window_days=30)

    assert report.decisions == 211
    assert (report.sent, report.held_out, report.deferred) == (100, 100, 1)
    assert report.skipped == {"frequency_cap": 3, "no_consent": 7}
    assert report.treatment.contacts == 100
    assert report.treatment.conversions == 30
    assert report.treatment.conversion_rate == pytest.approx(0.30)
    assert report.treatment.revenue == pytest.approx(1500.0)
    assert report.treatment.revenue_per_contact == pytest.approx(15.0)
    assert report.control.conversions == 10
    assert report.control.conversion_rate == pytest.approx(0.10)
    assert report.control.revenue_per_contact == pytest.approx(5.0)

    assert report.absolute_lift == pytest.approx(0.20)
    assert report.relative_lift == pytest.approx(2.0)
    assert report.revenue_per_contact_lift == pytest.approx(10.0)
    assert report.incremental_conversions == pytest.approx(20.0)
    assert report.incremental_revenue == pytest.approx(1000.0)

    # Newcombe's hybrid score interval, computed by hand from the two Wilson intervals.
    l1, u1 = _hand_wilson(30, 100)
    l2, u2 = _hand_wilson(10, 100)
    low = 0.2 - math.sqrt((0.3 - l1) ** 2 + (u2 - 0.1) ** 2)
    high = 0.2 + math.sqrt((u1 - 0.3) ** 2 + (0.1 - l2) ** 2)
    assert report.lift_ci_low is not None
    assert report.lift_ci_high is not None
    assert report.lift_ci_low == pytest.approx(low, abs=1e-12)
    assert report.lift_ci_high == pytest.approx(high, abs=1e-12)
    assert (round(report.lift_ci_low, 4), round(report.lift_ci_high, 4)) == (0.0900, 0.3058)
    assert report.lift_ci_low < 0.20 < report.lift_ci_high
    assert report.significant
    # Pooled z-test: p = 0.2, se = sqrt(0.2 * 0.8 * 2 / 100), z = 0.2 / se = 3.5355...
    assert report.p_value == pytest.approx(math.erfc(0.2 / math.sqrt(0.0032) / math.sqrt(2)))
    assert report.p_value == pytest.approx(4.07e-4, rel=1e-2)
    assert report.ci_method == "newcombe-hybrid-score"
    assert report.confidence == 0.95


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2", "expected"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10.
        (56, 70, 48, 80, (0.0524, 0.3339)),
        (9, 10, 3, 10, (0.1705, 0.8090)),
        (5, 56, 0, 29, (-0.0381, 0.1926)),
        (0, 10, 0, 10, (-0.2775, 0.2775)),
    ],
)
def test_newcombe_matches_published_values(
    x1: int, n1: int, x2: int, n2: int, expected: tuple[float, float]
) -> None:
    low, high = newcombe_interval(x1, n1, x2, n2)
    assert (round(low, 4), round(high, 4)) == expected


def test_wilson_interval_and_validation() -> None:
    assert wilson_interval(30, 100) == pytest.approx(_hand_wilson(30, 100))
    low, high = wilson_interval(0, 20)
    assert low == 0.0
    assert 0.0 < high < 0.2
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(3, 0)
    with pytest.raises(ValueError, match="confidence"):
        build_report("win-back", [], [], 30, confidence=1.5)
    assert two_proportion_p_value(0, 10, 0, 10) is None


def test_attribution_goes_to_the_latest_decision_once() -> None:
    decisions = [_decision("c", "sent", T0), _decision("c", "sent", T0 + timedelta(days=10))]
    # Day 12 is inside both windows: it goes to the latest decision only.
    report = build_report("win-back", decisions, [_buy("c", 12, 80.0)], attribution_window_days=30)
    assert report.treatment.contacts == 2
    assert report.treatment.conversions == 1
    assert report.treatment.revenue == pytest.approx(80.0)
    # A purchase at the very instant of the second decision precedes it: it belongs to the first one.
    both = build_report("win-back", decisions, [_buy("c", 12, 80.0), _buy("c", 10, 999.0)], 30)
    assert both.treatment.conversions == 2
    assert both.treatment.revenue == pytest.approx(1079.0)
    assert report.control.contacts == 0
    assert report.absolute_lift is None
    assert report.lift_ci_low is None
    assert not report.significant


def test_window_edges() -> None:
    decisions = [_decision("a", "sent"), _decision("b", "sent"), _decision("c", "held_out")]
    purchases = [_buy("a", 30), _buy("b", 30.001), _buy("c", 0)]
    report = build_report("win-back", decisions, purchases, attribution_window_days=30)
    assert report.treatment.conversions == 1  # exactly at the end of the window counts
    assert report.control.conversions == 0  # at the decision instant does not
    assert report.control.conversion_rate == 0.0
    assert report.relative_lift is None  # control rate 0
    assert report.absolute_lift == pytest.approx(0.5)


def test_as_of_leaves_open_windows_out() -> None:
    decisions = [_decision("old", "sent"), _decision("new", "sent", T0 + timedelta(days=20))]
    decisions.append(_decision("ctl", "held_out"))
    purchases = [_buy("old", 2), _buy("new", 21)]
    report = build_report("win-back", decisions, purchases, 30, as_of=T0 + timedelta(days=35))
    assert report.maturing == 1
    assert report.treatment.contacts == 1
    assert report.treatment.conversions == 1
    assert report.sent == 2
    everything = build_report("win-back", decisions, purchases, 30)
    assert everything.maturing == 0
    assert everything.treatment.contacts == 2


def test_empty_report() -> None:
    report = build_report("win-back", [], [], 30)
    assert report.decisions == 0
    assert report.treatment.conversion_rate is None
    assert report.treatment.revenue_per_contact is None
    assert report.absolute_lift is None
    assert report.model_dump(mode="json")["ci_method"] == "newcombe-hybrid-score"
