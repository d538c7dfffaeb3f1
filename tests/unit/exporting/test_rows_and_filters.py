"""The pure half of exports: CSV cells and the filter language (no AWS, no sockets)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.exporting.filters import ExportRequest, FilterClause
from shared.exporting.rows import CSV_COLUMNS, csv_cells, export_id_for_run, manifest_key, slug

RECORD: dict[str, Any] = {
    "customer_id": "c-1",
    "email": '=HYPERLINK("http://x")',
    "first_name": "+Ann",
    "last_name": None,
    "consent_email": "granted",
    "consent_sms": None,
    "reachable_email": True,
    "segment": "Champions",
    "lead_score": 12.345,
    "p_alive": 0.123456,
    "clv": 1000,
    "stage": "customer",
}


def test_cells_guard_formulas_round_decimals_and_name_missing_consent() -> None:
    cells = dict(zip(CSV_COLUMNS, csv_cells(RECORD), strict=True))
    assert cells["email"] == '\'=HYPERLINK("http://x")'
    assert cells["first_name"] == "'+Ann"
    assert cells["last_name"] == ""
    assert cells["consent_email"] == "granted"
    assert cells["consent_sms"] == "none"
    assert cells["reachable_email"] == "yes"
    assert (cells["lead_score"], cells["p_alive"], cells["clv"]) == ("12.35", "0.1235", "1000.00")


def test_slugs_and_keys() -> None:
    assert slug("Can't lose them") == "cant-lose-them"
    assert export_id_for_run("score-20260101T000000-abc") == "export-20260101T000000-abc"
    assert manifest_key("export-1") == "exports/export-1/manifest.json"


@pytest.mark.parametrize(
    ("clause", "matching", "not_matching"),
    [
        ({"field": "clv", "op": "gte", "value": 100}, {"clv": 100.0}, {"clv": 99.9}),
        (
            {"field": "stage", "op": "in", "value": ["lead", "customer"]},
            {"stage": "lead"},
            {"stage": "subscriber"},
        ),
        ({"field": "email", "op": "exists", "value": False}, {}, {"email": "a@example.com"}),
        ({"field": "consent_email", "op": "ne", "value": "granted"}, {}, {"consent_email": "granted"}),
        ({"field": "reachable_email", "value": True}, {"reachable_email": True}, {"reachable_email": False}),
    ],
)
def test_clauses_match(
    clause: dict[str, Any], matching: dict[str, Any], not_matching: dict[str, Any]
) -> None:
    parsed = FilterClause.model_validate(clause)
    assert parsed.matches(matching)
    assert not parsed.matches(not_matching)


@pytest.mark.parametrize(
    "clause",
    [
        {"field": "password", "value": "x"},
        {"field": "clv", "op": "gt", "value": "a lot"},
        {"field": "reachable_email", "op": "gt", "value": True},
        {"field": "stage", "op": "in", "value": []},
        {"field": "email", "op": "exists", "value": "yes"},
    ],
)
def test_malformed_clauses_are_refused(clause: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        FilterClause.model_validate(clause)


def test_a_request_holds_at_most_twenty_clauses() -> None:
    with pytest.raises(ValidationError):
        ExportRequest.model_validate({"filter": [{"field": "clv", "op": "gt", "value": 1}] * 21})
