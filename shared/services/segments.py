"""Views of segments and exports: an export's status with download links, the segments overview."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from shared.dal import blobs, customers, runs, scores
from shared.dal import exports as store
from shared.dal.records import RunRecord
from shared.exporting.rows import BY_SLUG, EXPORT_SEGMENTS, PROSPECTS, export_id_for_run, manifest_key, slug
from shared.services.errors import ExportNotFoundError, SegmentNotFoundError
from shared.services.views import SegmentDetail, SegmentMember, SegmentRun
from shared.settings import get_settings


def run_summary(run: RunRecord) -> dict[str, Any]:
    return dict(run.summary or {})


def resolve_segment(value: str) -> str:
    """A segment name from its name or slug, any case, URL-encoded or not."""
    text = unquote(value).strip()
    name = BY_SLUG.get(slug(text))
    if name is None:
        raise SegmentNotFoundError(text)
    return name


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
    progress = dict(run.progress or {})
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
        manifest = blobs.get_json(manifest_key(export_id))
        out["manifest"] = manifest
        out["link_ttl_seconds"] = ttl
        out["files"] = [{**f, **_link(f, export_id, ttl, now)} for f in manifest["files"]]
    return out


def _counts(summary: Mapping[str, Any]) -> dict[str, int]:
    counts = {str(k): int(v) for k, v in (summary.get("segment_counts") or {}).items()}
    counts[PROSPECTS] = int(summary.get("customers_scored") or 0) - sum(counts.values())
    return counts


def _latest_full_exports() -> dict[str, tuple[str, RunRecord, dict[str, Any]]]:
    """Per segment, the newest succeeded export of the whole segment (filtered exports left out)."""
    latest: dict[str, tuple[str, RunRecord, dict[str, Any]]] = {}
    for run in store.export_runs("succeeded"):
        summary = run_summary(run)
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
    summary = run_summary(latest)
    previous = runs.latest("scoring", before=latest.started_at)
    previous_counts = _counts(run_summary(previous)) if previous is not None else None
    counts = _counts(summary)
    revenue: dict[str, float] | None = None
    run_export_record = runs.get(export_id_for_run(latest.run_id))
    if run_export_record is not None and run_export_record.status == "succeeded":
        files = run_summary(run_export_record).get("files") or []
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


def detail(value: str, sample_size: int = 20, max_runs: int = 30) -> SegmentDetail:
    """A segment's size over the latest scoring runs (oldest first) and a sample of its members (from the
    Scores table's by-segment index: the latest run's segment of each customer; prospects are the scored
    non-customers)."""
    name = resolve_segment(value)
    history: list[SegmentRun] = []
    for run in runs.all_of_kind("scoring", limit=max_runs):
        summary = run_summary(run)
        history.append(
            SegmentRun(
                run_id=run.run_id,
                as_of=summary.get("as_of"),
                finished_at=run.finished_at,
                count=_counts(summary).get(name, 0),
            )
        )
    sample: list[SegmentMember] = []
    # A Query on the by-segment index (one page per shard until the sample is full), never a scan.
    for item in scores.segment_members(name, limit=sample_size):
        profile = customers.record(item.customer_id)
        if profile is None or profile.merged_into:
            continue
        sample.append(
            SegmentMember(
                customer_id=item.customer_id,
                email=profile.email,
                monetary_value=float(profile.total_spent) if profile.total_spent is not None else None,
                frequency=float(profile.purchase_count) if profile.purchase_count is not None else None,
                clv=float(item.clv) if item.clv is not None else None,
            )
        )
        if len(sample) >= sample_size:
            break
    return SegmentDetail(segment=name, slug=slug(name), runs=history, sample=sample)
