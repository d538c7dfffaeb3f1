"""The rows of a segment export: columns, cell formatting (CSV injection guarded) and segment slugs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from shared.scoring.segment_names import SEGMENTS

PROSPECTS: Final[str] = "prospects"
"""Scored contacts without an RFM segment (no purchase yet): exported as their own file."""
EXPORT_SEGMENTS: Final[tuple[str, ...]] = (*SEGMENTS, PROSPECTS)
CSV_COLUMNS: Final[tuple[str, ...]] = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "consent_email",
    "consent_sms",
    "consent_phone",
    "consent_post",
    "reachable_email",
    # Do-not-contact on the address (SES feedback): "hard_bounce" or "complaint", empty if none.
    "email_suppressed",
    "segment",
    "recency_score",
    "frequency_score",
    "monetary_score",
    "lead_score",
    "stage",
    "p_alive",
    "clv",
    "last_purchase_date",
)
CONSENT_CHANNELS: Final[tuple[str, ...]] = ("email", "sms", "phone", "post")
# Decimal places of the float columns in the CSV.
DECIMALS: Final[dict[str, int]] = {"lead_score": 2, "p_alive": 4, "clv": 2}
# Text a spreadsheet would run as a formula is prefixed with a quote (CSV injection).
FORMULA_START: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS: Final[frozenset[str]] = frozenset({"customer_id", "email", "first_name", "last_name"})


def slug(segment: str) -> str:
    """``"Can't lose them"`` -> ``"cant-lose-them"``: the file name and the URL form of a segment."""
    return re.sub(r"[^a-z0-9]+", "-", segment.lower().replace("'", "")).strip("-")


EXPORTS_PREFIX: Final[str] = "exports/"


def export_id_for_run(run_id: str) -> str:
    """The export of a scoring run has a fixed id: a retried invocation finds (or redoes) the same export."""
    return f"export-{run_id.removeprefix('score-')}"


def export_prefix(export_id: str) -> str:
    return f"{EXPORTS_PREFIX}{export_id}"


def manifest_key(export_id: str) -> str:
    """The manifest is written last: when it exists the files are complete."""
    return f"{export_prefix(export_id)}/manifest.json"


BY_SLUG: Final[dict[str, str]] = {slug(name): name for name in EXPORT_SEGMENTS}


def csv_cells(record: Mapping[str, Any]) -> list[str]:
    """One CSV row: empty cells for missing values, ``none`` for a channel without consent, yes/no."""
    cells: list[str] = []
    for column in CSV_COLUMNS:
        value = record.get(column)
        if column.startswith("consent_"):
            cells.append(value or "none")
        elif column == "reachable_email":
            cells.append("yes" if value else "no")
        elif value is None:
            cells.append("")
        elif column in DECIMALS:
            cells.append(f"{float(value):.{DECIMALS[column]}f}")
        elif column in TEXT_COLUMNS and str(value).startswith(FORMULA_START):
            cells.append(f"'{value}")
        else:
            cells.append(str(value))
    return cells
