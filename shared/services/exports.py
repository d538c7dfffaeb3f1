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

This module runs exports; :mod:`shared.services.segments` shows them. The filter and the rows are pure
logic in :mod:`shared.exporting`; the streamed file is data access (:mod:`shared.dal.exports`). Kept free
of numpy (the API function imports this module).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.dal import blobs, runs
from shared.dal import exports as store
from shared.dal.records import RunRecord
from shared.exporting.filters import ExportRequest, FilterClause
from shared.exporting.rows import (
    CSV_COLUMNS,
    PROSPECTS,
    export_id_for_run,
    export_prefix,
    manifest_key,
    slug,
)
from shared.scoring.segment_names import SEGMENTS
from shared.services import ports
from shared.services.errors import ExportNotFoundError
from shared.services.runs import RunNotFoundError
from shared.services.segments import resolve_segment, run_summary, view

_PROGRESS_EVERY = 50_000


def new_export_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"export-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def _execute(export_id: str, run: RunRecord) -> dict[str, Any]:
    progress = dict(run.progress or {})
    segments: list[str] = list(progress["segments"])
    clauses = [FilterClause.model_validate(c) for c in progress.get("filter") or []]
    began = time.perf_counter()
    files = {name: store.CsvFile(f"{export_prefix(export_id)}/{slug(name)}.csv", name) for name in segments}
    seen = 0
    try:
        for record in store.scored_records(segments):
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
    blobs.put_json(manifest_key(export_id), manifest)
    revenue = {f.segment: round(f.revenue, 2) for f in files.values()}
    summary = {
        "scoring_run_id": progress.get("scoring_run_id"),
        "rows": manifest["rows"],
        "filtered": bool(clauses),
        "manifest_key": manifest_key(export_id),
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
        return {"export_id": export_id, "status": "succeeded", "rows": run_summary(run).get("rows")}
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
    summary = run_summary(run)
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
        return {"export_id": export_id, "status": "succeeded", "rows": run_summary(existing).get("rows")}
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
