"""The catalogue: the packaged playbook loads, and invalid catalogues are rejected naming the field."""

from __future__ import annotations

import copy
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.campaigns.catalogue import (
    SEGMENTS,
    Catalogue,
    CatalogueError,
    DateTrigger,
    InactivityTrigger,
    InteractionTrigger,
    ScoreThresholdTrigger,
    SegmentEntryTrigger,
    SendStep,
    load_catalogue,
    parse_catalogue,
)

PLAYBOOK = {
    "welcome",
    "win-back",
    "cross-sell",
    "loyalty-reward",
    "re-permission",
    "first-purchase-anniversary",
}


def _valid() -> dict[str, Any]:
    return {
        "version": "test-1",
        "campaigns": [
            {
                "id": "win-back",
                "name": "Win-back",
                "trigger": {"type": "segment_entry", "segments": ["At risk"]},
                "channel": "email",
                "template": "win-back",
                "consent_required": "email",
                "holdout_percent": 10,
            }
        ],
    }


def _problems(data: dict[str, Any]) -> str:
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(data)
    return str(info.value)


def test_default_catalogue_covers_the_playbook(catalogue: Catalogue) -> None:
    assert catalogue.version
    assert {c.id for c in catalogue.campaigns} == PLAYBOOK
    # signup-nurture, prospect-nurture and sales-handover became one journey (issue 18 item 4).
    assert [j.id for j in catalogue.journeys] == ["prospect-journey"]
    assert catalogue.frequency_cap.max_messages == 3
    assert catalogue.frequency_cap.per_days == 7
    assert catalogue.quiet_hours.start == time(21, 0)
    assert catalogue.quiet_hours.end == time(8, 0)
    kinds = {type(c.trigger) for c in catalogue.campaigns}
    assert kinds == {
        InteractionTrigger,
        SegmentEntryTrigger,
        InactivityTrigger,
        DateTrigger,
    }
    assert {type(t) for j in catalogue.journeys for t in j.entry} == {
        InteractionTrigger,
        ScoreThresholdTrigger,
    }


def test_default_catalogue_campaign_details(catalogue: Catalogue) -> None:
    welcome = catalogue.get("welcome")
    assert welcome is not None
    assert isinstance(welcome.trigger, InteractionTrigger)
    assert welcome.trigger.kind == "consent_granted"

    journey = catalogue.journey("prospect-journey")
    assert journey is not None
    [handover] = [s for s in journey.steps if s.id == "hand-over"]
    assert isinstance(handover, SendStep)
    assert handover.channel == "webhook"
    assert handover.consent_required is None
    assert handover.quiet_hours is not None
    assert not handover.quiet_hours.enabled

    win_back = catalogue.get("win-back")
    assert win_back is not None
    assert isinstance(win_back.trigger, SegmentEntryTrigger)
    assert set(win_back.trigger.segments) == {"At risk", "Can't lose them"}

    cross_sell = catalogue.get("cross-sell")
    assert cross_sell is not None
    assert isinstance(cross_sell.trigger, InteractionTrigger)
    assert (cross_sell.trigger.kind, cross_sell.trigger.delay_days) == ("purchase", 14)
    assert cross_sell.recommend_products

    loyalty = catalogue.get("loyalty-reward")
    assert loyalty is not None
    assert isinstance(loyalty.trigger, SegmentEntryTrigger)
    assert loyalty.trigger.segments == ["Champions"]

    repermission = catalogue.get("re-permission")
    assert repermission is not None
    assert isinstance(repermission.trigger, InactivityTrigger)
    assert repermission.trigger.days_without_interaction == 365

    anniversary = catalogue.get("first-purchase-anniversary")
    assert anniversary is not None
    assert isinstance(anniversary.trigger, DateTrigger)
    assert anniversary.trigger.anniversary_of == "first_purchase"

    assert catalogue.get("nope") is None
    # Customer-facing campaigns always require consent on their own channel.
    for campaign in catalogue.campaigns:
        if campaign.channel in ("email", "sms"):
            assert campaign.consent_required == campaign.channel
    assert catalogue.lookback_days >= max(c.cooldown_days for c in catalogue.campaigns)


def test_segments_are_the_rfm_segments() -> None:
    assert len(SEGMENTS) == 11
    assert "Can't lose them" in SEGMENTS


def test_load_from_file_round_trips(tmp_path: Path, catalogue: Catalogue) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(catalogue.model_dump(mode="json")), encoding="utf-8")
    assert load_catalogue(path) == catalogue
    assert load_catalogue(str(path)) == catalogue


@pytest.mark.parametrize(
    ("mutate", "location", "fragment"),
    [
        (lambda d: d["campaigns"][0].update(holdout_percent=60), "campaigns[win-back].holdout_percent", "50"),
        (
            lambda d: d["campaigns"][0].update(trigger={"type": "birthday"}),
            "campaigns[win-back].trigger",
            "birthday",
        ),
        (
            lambda d: d["campaigns"][0]["trigger"].update(segments=["At Risk"]),
            "campaigns[win-back].trigger.segment_entry.segments",
            "unknown segment",
        ),
        (
            lambda d: d["campaigns"][0].update(audience=[{"field": "sgment", "op": "eq", "value": "x"}]),
            "campaigns[win-back].audience[0].field",
            "unknown field 'sgment'",
        ),
        (
            lambda d: d["campaigns"][0].update(audience=[{"field": "segment", "op": "gt", "value": 3}]),
            "campaigns[win-back].audience[0]",
            "needs a number field",
        ),
        (
            lambda d: d["campaigns"][0].update(audience=[{"field": "lead_score", "op": "in", "value": 3}]),
            "campaigns[win-back].audience[0]",
            "non-empty list",
        ),
        (
            lambda d: d["campaigns"][0].update(audience=[{"field": "clv", "op": "between", "value": 3}]),
            "campaigns[win-back].audience[0].op",
            "'exists'",
        ),
        (lambda d: d["campaigns"][0].update(channel="fax"), "campaigns[win-back].channel", "'webhook'"),
        (
            lambda d: d["campaigns"][0].update(consent_required=None),
            "campaigns[win-back]",
            "must set consent_required",
        ),
        (lambda d: d["campaigns"][0].update(cooldown_day=3), "campaigns[win-back].cooldown_day", "Extra"),
        (lambda d: d["campaigns"][0].update(id="Win Back"), "campaigns[Win Back].id", "pattern"),
        (lambda d: d["campaigns"][0].pop("template"), "campaigns[win-back].template", "required"),
        (lambda d: d.pop("version"), "version", "required"),
        (lambda d: d.update(frequency_cap={"max_messages": 0}), "frequency_cap.max_messages", "1"),
        (lambda d: d["campaigns"].append(copy.deepcopy(d["campaigns"][0])), "campaigns", "duplicate"),
        (
            lambda d: d["campaigns"][0].update(trigger={"type": "inactivity"}),
            "campaigns[win-back].trigger.inactivity",
            "days_without_purchase",
        ),
        (
            lambda d: d["campaigns"][0].update(
                trigger={"type": "interaction", "kind": "purchase", "delay_days": -1}
            ),
            "campaigns[win-back].trigger.interaction.delay_days",
            "0",
        ),
    ],
)
def test_invalid_catalogue_names_the_field(mutate: Any, location: str, fragment: str) -> None:
    data = _valid()
    parse_catalogue(copy.deepcopy(data))  # the base is valid
    mutate(data)
    message = _problems(data)
    assert f"  {location}:" in message
    assert fragment in message


def test_unquoted_yaml_time_is_rejected(tmp_path: Path) -> None:
    # YAML 1.1 reads 21:00 as the integer 1260; it must not silently become 00:21.
    path = tmp_path / "bad.yaml"
    text = "version: v1\nquiet_hours: {start: 21:00, end: '08:00'}\ncampaigns: []\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert "quiet_hours.start" in str(info.value)
    assert str(path) in str(info.value)


def test_equal_quiet_hours_are_rejected() -> None:
    data = _valid()
    data["quiet_hours"] = {"start": "08:00", "end": "08:00"}
    assert "  quiet_hours:" in _problems(data)


@pytest.mark.parametrize(("end", "refused"), [("17:01", True), ("17:00", False)])
def test_quiet_hours_leave_time_to_send(end: str, refused: bool) -> None:
    """20 hours at most: a longer window (21:00 to 17:01) leaves a gap a daylight-saving change can close."""
    data = _valid()
    data["quiet_hours"] = {"start": "21:00", "end": end}
    if refused:
        assert "at most 20 hours" in _problems(data)
    else:
        assert parse_catalogue(data).quiet_hours.end.hour == 17


def test_yaml_syntax_error_and_non_mapping(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="<file>"):
        load_catalogue(path)
    with pytest.raises(CatalogueError, match="expected a mapping"):
        parse_catalogue(["not", "a", "mapping"])


def test_catalogue_error_lists_problems() -> None:
    data = _valid()
    data["campaigns"][0]["holdout_percent"] = 99
    data["campaigns"][0]["cooldown_days"] = -1
    with pytest.raises(CatalogueError) as info:
        parse_catalogue(data, source="inline")
    locations = {loc for loc, _ in info.value.problems}
    assert locations == {"campaigns[win-back].holdout_percent", "campaigns[win-back].cooldown_days"}
    assert info.value.source == "inline"
    assert isinstance(info.value, ValueError)
