"""Segment exports: one CSV per segment (plus prospects) streamed to S3, a manifest, presigned links, and
the segment overview the dashboard reads.

An export is a record in the Runs table (``kind="export"``) and, once it succeeded, these objects::

    exports/{export_id}/{segment-slug}.csv    UTF-8, header row, one row per customer (CSV_COLUMNS)
    exports/{export_id}/manifest.json         run id, export id, filter, created_at, and per file:
                                              segment, key, rows, bytes, sha256 of the CSV bytes

Exports start after every scoring run (the export function gets ``{"trigger": "scoring_run", "run_id"}``:
every segment present in the run, plus prospects, in one scan of the Scores table) or on demand from the
private API (one segment, with an optional filter). Scores are joined with their customers; customers
that are gone (erased) or merged into another profile never appear. The CSV is streamed through a
multipart upload, so memory stays bounded (one part per open file) whatever the segment size. The
manifest is written last: when it exists the files are complete.

Kept free of numpy (the API function imports this module).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import operator
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import unquote

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from shared.dal import blobs, runs
from shared.dal import exports as store
from shared.dal.models import CustomerModel, RunModel, ScoreModel
from shared.scoring.segment_names import SEGMENTS
from shared.services import ports
from shared.services.errors import NotFoundError
from shared.services.runs import RunNotFoundError
from shared.settings import get_settings

logger = logging.getLogger(__name__)

PROSPECTS: Final[str] = "prospects"
"""Scored contacts without an RFM segment (no purchase yet): exported as their own file."""
EXPORT_SEGMENTS: Final[tuple[str, ...]] = (*SEGMENTS, PROSPECTS)
EXPORTS_PREFIX: Final[str] = "exports/"
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
_FORMULA_START: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")
_TEXT_COLUMNS: Final[frozenset[str]] = frozenset({"customer_id", "email", "first_name", "last_name"})
_ROWS_PER_CHUNK = 1000
_PROGRESS_EVERY = 50_000


class SegmentNotFoundError(NotFoundError):
    kind = "segment"


class ExportNotFoundError(NotFoundError):
    kind = "export"


def slug(segment: str) -> str:
    """``"Can't lose them"`` -> ``"cant-lose-them"``: the file name and the URL form of a segment."""
    return re.sub(r"[^a-z0-9]+", "-", segment.lower().replace("'", "")).strip("-")


_BY_SLUG: Final[dict[str, str]] = {slug(name): name for name in EXPORT_SEGMENTS}


def resolve_segment(value: str) -> str:
    """A segment name from its name or slug, any case, URL-encoded or not."""
    text = unquote(value).strip()
    name = _BY_SLUG.get(slug(text))
    if name is None:
        raise SegmentNotFoundError(text)
    return name


# --- the filter --------------------------------------------------------------------------------------

FilterOperator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "exists"]
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
NUMBER_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "recency_score",
        "frequency_score",
        "monetary_score",
        "lead_score",
        "p_alive",
        "churn_risk",
        "expected_purchases",
        "expected_order_value",
        "clv",
        "total_spent",
    }
)
TEXT_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "company",
        "job_title",
        "timezone",
        "stage",
        "last_purchase_date",
        *(f"consent_{channel}" for channel in CONSENT_CHANNELS),
    }
)
BOOLEAN_FIELDS: Final[frozenset[str]] = frozenset({"reachable_email"})
FILTER_FIELDS: Final[frozenset[str]] = NUMBER_FIELDS | TEXT_FIELDS | BOOLEAN_FIELDS


def _kind(field: str) -> str:
    return "number" if field in NUMBER_FIELDS else "boolean" if field in BOOLEAN_FIELDS else "text"


def _fits(kind: str, value: Any) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


class FilterClause(BaseModel):
    """``field op value`` on a customer's scores and profile; every clause of a filter must hold.

    Ordering operators (``gt``, ``gte``, ``lt``, ``lte``) compare numbers, or text (ISO dates such as
    ``last_purchase_date`` compare as text). ``in`` takes a non-empty list, ``exists`` true/false (default
    true). Consent fields hold the status (``granted``, ``pending``, ``revoked``). A field that is not set
    fails every operator except ``ne`` and ``exists: false``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(description="A score or profile field, e.g. clv, stage, consent_email")
    op: FilterOperator = "eq"
    value: Scalar | list[Scalar] | None = None

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value not in FILTER_FIELDS:
            raise ValueError(f"unknown field {value!r}; expected one of {', '.join(sorted(FILTER_FIELDS))}")
        return value

    @model_validator(mode="after")
    def _value_fits(self) -> FilterClause:
        kind = _kind(self.field)
        if self.op == "exists":
            if self.value is not None and not isinstance(self.value, bool):
                raise ValueError(f"{self.field}: operator 'exists' takes true, false or no value")
        elif self.op == "in":
            if not isinstance(self.value, list) or not 0 < len(self.value) <= 100:
                raise ValueError(f"{self.field}: operator 'in' needs a list of 1 to 100 values")
            if not all(_fits(kind, v) for v in self.value):
                raise ValueError(f"{self.field}: every value of 'in' must be a {kind}")
        elif self.op in ("gt", "gte", "lt", "lte") and kind == "boolean":
            raise ValueError(f"{self.field}: operator {self.op!r} does not apply to a boolean field")
        elif not _fits(kind, self.value):
            raise ValueError(f"{self.field}: operator {self.op!r} needs a {kind} value")
        return self

    def matches(self, record: Mapping[str, Any]) -> bool:
        actual: Any = record.get(self.field)
        if self.op == "exists":
            return (actual is not None) == (self.value is None or self.value is True)
        if actual is None:
            return self.op == "ne"
        value: Any = self.value
        if self.op == "in":
            return bool(actual in value)
        if self.op in ("eq", "ne"):
            return bool(_COMPARE[self.op](actual, value))
        if _kind(self.field) == "number":
            return bool(_COMPARE[self.op](float(actual), float(value)))
        return bool(_COMPARE[self.op](str(actual), str(value)))


_COMPARE: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class ExportRequest(BaseModel):
    """Body of ``POST /v1/segments/{segment}/exports`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    filter: list[FilterClause] = Field(
        default_factory=list, max_length=20, description="Clauses that must all hold (at most 20)"
    )


# --- rows --------------------------------------------------------------------------------------------


def joined_record(score: ScoreModel, customer: CustomerModel) -> dict[str, Any]:
    """Scores and profile of one customer, with typed values (what filters see)."""
    consent: dict[str, str | None] = {}
    for channel in CONSENT_CHANNELS:
        record = getattr(customer, f"consent_{channel}")
        status = record.as_dict().get("status") if record is not None else None
        consent[f"consent_{channel}"] = str(status) if status else None
    purchase_days = customer.purchase_days
    return {
        "customer_id": customer.customer_id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "company": customer.company,
        "job_title": customer.job_title,
        "timezone": customer.timezone,
        **consent,
        "reachable_email": bool(customer.email) and consent["consent_email"] == "granted",
        "segment": score.segment,
        "recency_score": _int(score.recency_score),
        "frequency_score": _int(score.frequency_score),
        "monetary_score": _int(score.monetary_score),
        "lead_score": _float(score.lead_score),
        "stage": score.stage,
        "p_alive": _float(score.p_alive),
        "churn_risk": _float(score.churn_risk),
        "expected_purchases": _float(score.expected_purchases),
        "expected_order_value": _float(score.expected_order_value),
        "clv": _float(score.clv),
        "last_purchase_date": max(purchase_days) if purchase_days else None,
        "total_spent": float(customer.total_spent or 0),
    }


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


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
        elif column in _TEXT_COLUMNS and str(value).startswith(_FORMULA_START):
            cells.append(f"'{value}")
        else:
            cells.append(str(value))
    return cells


class CsvFile:
    """A CSV object in S3 written row by row: encoded in chunks, hashed, streamed in parts."""

    def __init__(self, key: str, segment: str, part_size: int = store.MIN_PART_SIZE) -> None:
        self.key = key
        self.segment = segment
        self.rows = 0
        self.revenue = 0.0
        self._upload = store.StreamingUpload(key, "text/csv; charset=utf-8", part_size)
        self._hash = hashlib.sha256()
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self._writer.writerow(CSV_COLUMNS)

    def write(self, record: Mapping[str, Any]) -> None:
        self._writer.writerow(csv_cells(record))
        self.rows += 1
        self.revenue += float(record.get("total_spent") or 0.0)
        if self.rows % _ROWS_PER_CHUNK == 0:
            self._flush()

    def _flush(self) -> None:
        data = self._text.getvalue().encode("utf-8")
        self._text.seek(0)
        self._text.truncate()
        if data:
            self._hash.update(data)
            self._upload.write(data)

    def close(self) -> dict[str, Any]:
        self._flush()
        self._upload.close()
        return {
            "segment": self.segment,
            "slug": slug(self.segment),
            "key": self.key,
            "rows": self.rows,
            "bytes": self._upload.bytes_written,
            "sha256": self._hash.hexdigest(),
            "parts": self._upload.parts,
        }

    def abort(self) -> None:
        """Abort the upload; never raises (it runs while another error is being raised)."""
        try:
            self._upload.abort()
        except Exception:  # the lifecycle rule aborts incomplete uploads after a day anyway
            logger.warning("could not abort the upload of %s", self.key, exc_info=True)


def write_csv(
    key: str, records: Iterable[Mapping[str, Any]], segment: str = "", part_size: int = store.MIN_PART_SIZE
) -> dict[str, Any]:
    """Stream ``records`` (dicts with the CSV columns) to one CSV object; returns its file entry."""
    target = CsvFile(key, segment, part_size)
    try:
        for record in records:
            target.write(record)
        return target.close()
    except BaseException:
        target.abort()
        raise


# --- running exports ---------------------------------------------------------------------------------


def new_export_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"export-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def export_id_for_run(run_id: str) -> str:
    """The export of a scoring run has a fixed id: a retried invocation finds (or redoes) the same export."""
    return f"export-{run_id.removeprefix('score-')}"


def _summary(run: RunModel) -> dict[str, Any]:
    return run.summary.as_dict() if run.summary else {}


def _prefix(export_id: str) -> str:
    return f"{EXPORTS_PREFIX}{export_id}"


def _manifest_key(export_id: str) -> str:
    return f"{_prefix(export_id)}/manifest.json"


def _records(segments: list[str]) -> Iterator[dict[str, Any]]:
    """Joined records of the wanted segments (one scan; narrowed by DynamoDB when a single segment)."""
    if segments == [PROSPECTS]:
        source = store.scored_customers(prospects_only=True)
    elif len(segments) == 1:
        source = store.scored_customers(segment=segments[0])
    else:
        source = store.scored_customers()
    for score, customer in source:
        if customer.merged_into:
            continue  # its history belongs to the surviving profile
        yield joined_record(score, customer)


def _execute(export_id: str, run: RunModel) -> dict[str, Any]:
    progress = run.progress.as_dict() if run.progress else {}
    segments: list[str] = list(progress["segments"])
    clauses = [FilterClause.model_validate(c) for c in progress.get("filter") or []]
    began = time.perf_counter()
    files = {name: CsvFile(f"{_prefix(export_id)}/{slug(name)}.csv", name) for name in segments}
    seen = 0
    try:
        for record in _records(segments):
            target = files.get(record["segment"] or PROSPECTS)
            if target is None or not all(c.matches(record) for c in clauses):
                continue
            target.write(record)
            seen += 1
            if seen % _PROGRESS_EVERY == 0:
                runs.set_progress(export_id, {**progress, "phase": "writing", "rows": seen})
        written = [f.close() for f in files.values()]
    except BaseException:
        for target in files.values():
            target.abort()
        raise
    created_at = datetime.now(UTC)
    manifest = {
        "export_id": export_id,
        "run_id": progress.get("scoring_run_id"),
        "trigger": progress.get("trigger"),
        "segments": segments,
        "filter": progress.get("filter") or [],
        "created_at": created_at.isoformat(),
        "rows": sum(f["rows"] for f in written),
        "encoding": "utf-8",
        "columns": list(CSV_COLUMNS),
        "files": written,
    }
    blobs.put_json(_manifest_key(export_id), manifest)
    revenue = {f.segment: round(f.revenue, 2) for f in files.values()}
    summary = {
        "scoring_run_id": progress.get("scoring_run_id"),
        "rows": manifest["rows"],
        "filtered": bool(clauses),
        "manifest_key": _manifest_key(export_id),
        "files": [{**f, "revenue": revenue[f["segment"]]} for f in written],
        "duration_seconds": round(time.perf_counter() - began, 3),
    }
    runs.finish(export_id, "succeeded", created_at, summary, None)
    runs.set_progress(export_id, {**progress, "phase": "done", "rows": manifest["rows"]})
    return {"export_id": export_id, "status": "succeeded", "rows": manifest["rows"], "files": len(written)}


def run_export(export_id: str) -> dict[str, Any]:
    """Carry out a recorded export (the export function's work; local mode calls it in-process)."""
    run = runs.get(export_id)
    if run is None or run.kind != "export":
        raise ExportNotFoundError(export_id)
    if run.status == "succeeded":
        return {"export_id": export_id, "status": "succeeded", "rows": _summary(run).get("rows")}
    try:
        return _execute(export_id, run)
    except Exception as exc:
        runs.finish(export_id, "failed", datetime.now(UTC), None, repr(exc))
        raise


def export_scoring_run(run_id: str) -> dict[str, Any]:
    """After a scoring run: one CSV per segment present in the run, plus prospects."""
    run = runs.get(run_id)
    if run is None or run.kind != "scoring":
        raise RunNotFoundError(run_id)
    summary = _summary(run)
    counts: dict[str, Any] = summary.get("segment_counts") or {}
    present = [s for s in SEGMENTS if counts.get(s)] + sorted(s for s in counts if s not in SEGMENTS)
    export_id = export_id_for_run(run_id)
    now = datetime.now(UTC)
    progress = {
        "trigger": "scoring_run",
        "scoring_run_id": run_id,
        "segments": [*present, PROSPECTS],
        "filter": [],
        "phase": "queued",
    }
    existing = runs.get(export_id)
    if existing is not None and existing.status == "succeeded":
        return {"export_id": export_id, "status": "succeeded", "rows": _summary(existing).get("rows")}
    if existing is None:
        runs.create(export_id, "export", now, progress)
    else:
        store.restart_run(export_id, now, progress)  # a retry after a failure: start over
    return run_export(export_id)


def start_export(segment: str, request: ExportRequest | None = None) -> dict[str, Any]:
    """On demand: record the export, then start it through the launch port (the export function in the
    cloud, this process in local mode)."""
    name = resolve_segment(segment)
    request = request or ExportRequest()
    now = datetime.now(UTC)
    export_id = new_export_id(now)
    latest = runs.latest("scoring")
    runs.create(
        export_id,
        "export",
        now,
        {
            "trigger": "api",
            "scoring_run_id": latest.run_id if latest else None,
            "segments": [name],
            "filter": [c.model_dump(mode="json") for c in request.filter],
            "phase": "queued",
        },
    )
    ports.current().exports.start(export_id)
    return view(export_id)


# --- views -------------------------------------------------------------------------------------------


def _link(file: Mapping[str, Any], export_id: str, ttl: int, now: datetime) -> dict[str, Any]:
    name = f"{file.get('slug') or slug(str(file['segment']))}-{export_id}.csv"
    return {
        "download_url": blobs.presigned_get(str(file["key"]), ttl, filename=name),
        "expires_at": (now + timedelta(seconds=ttl)).isoformat(),
    }


def view(export_id: str, ttl_seconds: int | None = None) -> dict[str, Any]:
    """Status of an export; once it succeeded, its manifest and a download link per file.

    ``ttl_seconds`` overrides the links' lifetime (``settings.export_link_ttl_seconds``); tests use it.
    """
    run = runs.get(export_id)
    if run is None or run.kind != "export":
        raise ExportNotFoundError(export_id)
    progress = run.progress.as_dict() if run.progress else {}
    out: dict[str, Any] = {
        "export_id": export_id,
        "status": run.status,
        "trigger": progress.get("trigger"),
        "segments": progress.get("segments") or [],
        "filter": progress.get("filter") or [],
        "scoring_run_id": progress.get("scoring_run_id"),
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "rows": progress.get("rows"),
        "error": run.error,
        "manifest": None,
        "files": [],
    }
    if run.status == "succeeded":
        ttl = ttl_seconds if ttl_seconds is not None else get_settings().export_link_ttl_seconds
        now = datetime.now(UTC)
        manifest = blobs.get_json(_manifest_key(export_id))
        out["manifest"] = manifest
        out["link_ttl_seconds"] = ttl
        out["files"] = [{**f, **_link(f, export_id, ttl, now)} for f in manifest["files"]]
    return out


def _counts(summary: Mapping[str, Any]) -> dict[str, int]:
    counts = {str(k): int(v) for k, v in (summary.get("segment_counts") or {}).items()}
    counts[PROSPECTS] = int(summary.get("customers_scored") or 0) - sum(counts.values())
    return counts


def _latest_full_exports() -> dict[str, tuple[str, RunModel, dict[str, Any]]]:
    """Per segment, the newest succeeded export of the whole segment (filtered exports left out)."""
    latest: dict[str, tuple[str, RunModel, dict[str, Any]]] = {}
    for run in store.export_runs("succeeded"):
        summary = _summary(run)
        if summary.get("filtered"):
            continue
        finished = run.finished_at or run.started_at
        for file in summary.get("files") or []:
            current = latest.get(file["segment"])
            if current is None or finished > current[0]:
                latest[file["segment"]] = (finished, run, file)
    return latest


def segments_overview(ttl_seconds: int | None = None) -> dict[str, Any]:
    """Segments of the latest succeeded scoring run: counts, change since the previous run, revenue share
    (from that run's export), the RFM grid, the funnel, and the latest export of each segment."""
    latest = runs.latest("scoring")
    if latest is None:
        return {"run_id": None, "segments": [], "rfm_grid": {}, "stage_counts": {}}
    summary = _summary(latest)
    previous = runs.latest("scoring", before=latest.started_at)
    previous_counts = _counts(_summary(previous)) if previous is not None else None
    counts = _counts(summary)
    revenue: dict[str, float] | None = None
    run_export_record = runs.get(export_id_for_run(latest.run_id))
    if run_export_record is not None and run_export_record.status == "succeeded":
        files = _summary(run_export_record).get("files") or []
        revenue = {f["segment"]: float(f.get("revenue") or 0.0) for f in files}
    total_revenue = sum(revenue.values()) if revenue else 0.0
    exports = _latest_full_exports()
    ttl = ttl_seconds if ttl_seconds is not None else get_settings().export_link_ttl_seconds
    now = datetime.now(UTC)
    names = [s for s in EXPORT_SEGMENTS if s == PROSPECTS or counts.get(s) or (previous_counts or {}).get(s)]
    names += sorted(s for s in counts if s not in EXPORT_SEGMENTS)
    rows: list[dict[str, Any]] = []
    for name in names:
        count = counts.get(name, 0)
        before = previous_counts.get(name, 0) if previous_counts is not None else None
        seg_revenue = revenue.get(name, 0.0) if revenue is not None else None
        found = exports.get(name)
        rows.append(
            {
                "segment": name,
                "slug": slug(name),
                "count": count,
                "previous_count": before,
                "change": count - before if before is not None else None,
                "revenue": round(seg_revenue, 2) if seg_revenue is not None else None,
                "revenue_share": round(seg_revenue / total_revenue, 4)
                if seg_revenue is not None and total_revenue > 0
                else None,
                "latest_export": {
                    "export_id": found[1].run_id,
                    "created_at": found[0],
                    "rows": found[2]["rows"],
                    "sha256": found[2]["sha256"],
                    **_link(found[2], found[1].run_id, ttl, now),
                }
                if found
                else None,
            }
        )
    return {
        "run_id": latest.run_id,
        "as_of": summary.get("as_of"),
        "finished_at": latest.finished_at,
        "previous_run_id": previous.run_id if previous else None,
        "customers_scored": summary.get("customers_scored"),
        "pareto_top20_revenue_share": summary.get("pareto_top20_revenue_share"),
        "rfm_grid": summary.get("rfm_grid") or {},
        "stage_counts": summary.get("stage_counts") or {},
        "revenue_share_basis": "lifetime total spent of the customers in the run's export"
        if revenue is not None
        else None,
        "segments": rows,
    }
