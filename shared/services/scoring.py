"""Scoring runs: the phase functions the Step Functions state machine calls (and local mode runs in-process).

start -> summarise(segment) for every scan segment -> fit -> apply(segment) for every segment -> finish.
The run reads customer aggregates (never raw interactions); per-segment summaries and results go to S3, so
payloads between phases stay small; apply writes only the scores that changed and puts a SegmentChanged /
LeadQualified event on the bus for customers whose segment or stage changed.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from shared.dal import blobs, customers, runs, scores
from shared.dal.bus import publish
from shared.dal.records import CustomerAggregates, RunRecord, ScoreRecord
from shared.events import BusEvent, LeadQualified, SegmentChanged
from shared.invocations import DEFAULT_SEGMENTS
from shared.scoring.engine import (
    CustomerFrame,
    ModelFit,
    PartitionSummary,
    ScoringConfig,
    fit,
    json_safe,
    score,
    summarise,
)
from shared.scoring.leads import LEAD, MARKETING_QUALIFIED
from shared.services.runs import RunNotFoundError, new_scoring_run_id
from shared.settings import get_settings
from shared.tracking.engagement import ENGAGEMENT_KINDS

QUALIFIED_STAGES = frozenset({LEAD, MARKETING_QUALIFIED})
# Scores compared to decide whether a customer's stored scores changed (floats rounded first).
_COMPARED = {
    "recency_score": None,
    "frequency_score": None,
    "monetary_score": None,
    "segment": None,
    "stage": None,
    "lead_score": 1,
    "p_alive": 3,
    "churn_risk": 3,
    "expected_purchases": 3,
    "expected_order_value": 2,
    "clv": 2,
}


def _prefix(run_id: str) -> str:
    return f"runs/{run_id}"


def _config(run: RunRecord) -> ScoringConfig:
    return ScoringConfig(
        as_of=date.fromisoformat((run.progress or {})["as_of"]), now=datetime.fromisoformat(run.started_at)
    )


def start(
    as_of: date | None = None, total_segments: int = DEFAULT_SEGMENTS, run_id: str | None = None
) -> dict[str, Any]:
    now = datetime.now(UTC)
    run_id = run_id or new_scoring_run_id(now)
    as_of = as_of or now.date()
    runs.create(
        run_id,
        "scoring",
        now,
        {"phase": "summarise", "as_of": as_of.isoformat(), "total_segments": total_segments, "done": 0},
    )
    return {"run_id": run_id, "segments": list(range(total_segments)), "total_segments": total_segments}


def _frame(items: Iterable[CustomerAggregates]) -> CustomerFrame:
    ids: list[str] = []
    first: list[Any] = []
    last: list[Any] = []
    days: list[int] = []
    counts: list[int] = []
    spent: list[float] = []
    first_day_spent: list[float] = []
    engagement: dict[str, list[float]] = {kind: [] for kind in ENGAGEMENT_KINDS}
    company: list[bool] = []
    title: list[bool] = []
    phone: list[bool] = []
    for item in items:
        if item.merged_into:
            continue  # its history now belongs to another customer
        purchase_days = sorted(item.purchase_days or ())
        ids.append(item.customer_id)
        first.append(purchase_days[0] if purchase_days else "NaT")
        last.append(purchase_days[-1] if purchase_days else "NaT")
        days.append(len(purchase_days))
        counts.append(int(item.purchase_count or 0))
        spent.append(float(item.total_spent or 0))
        # Unknown (NaN) for purchases counted before the first day's spend was kept: the engine falls back.
        day_spent = item.first_day_spent
        known = day_spent is not None and purchase_days and item.first_purchase_day == purchase_days[0]
        first_day_spent.append(float(day_spent) if known and day_spent is not None else math.nan)
        for kind in ENGAGEMENT_KINDS:
            engagement[kind].append(float(getattr(item, f"eng_{kind}") or 0.0))
        company.append(bool(item.company))
        title.append(bool(item.job_title))
        phone.append(bool(item.phone))
    return CustomerFrame(
        customer_id=np.array(ids, dtype=object),
        first_purchase=np.array(first, dtype="datetime64[D]"),
        last_purchase=np.array(last, dtype="datetime64[D]"),
        purchase_days=np.array(days, dtype=np.int64),
        purchase_count=np.array(counts, dtype=np.int64),
        total_spent=np.array(spent, dtype=np.float64),
        first_day_spent=np.array(first_day_spent, dtype=np.float64),
        engagement={k: np.array(v, dtype=np.float64) for k, v in engagement.items()},
        has_company=np.array(company, dtype=bool),
        has_job_title=np.array(title, dtype=bool),
        has_phone=np.array(phone, dtype=bool),
    )


def _run(run_id: str) -> RunRecord:
    run = runs.get(run_id)
    if run is None:
        raise RunNotFoundError(run_id)
    return run


def summarise_segment(run_id: str, segment: int, total_segments: int) -> dict[str, Any]:
    run = _run(run_id)
    frame = _frame(customers.scan_segment(segment, total_segments))
    summary = summarise(frame, _config(run).as_of)
    blobs.put_json(f"{_prefix(run_id)}/summaries/{segment:05d}.json", summary.to_dict())
    return {"run_id": run_id, "segment": segment, "customers": len(frame)}


def fit_models(run_id: str) -> dict[str, Any]:
    run = _run(run_id)
    keys = blobs.list_keys(f"{_prefix(run_id)}/summaries/")
    merged = PartitionSummary.merge_all(PartitionSummary.from_dict(blobs.get_json(k)) for k in keys)
    model = fit(merged, _config(run))
    blobs.put_json(f"{_prefix(run_id)}/fit.json", model.to_dict())
    runs.set_progress(run_id, {**(run.progress or {}), "phase": "apply", "customers": model.n_customers})
    return {"run_id": run_id, "customers": model.n_customers, "segments_summarised": len(keys)}


def _rounded(name: str, value: Any) -> Any:
    digits = _COMPARED[name]
    if value is None or digits is None:
        return value
    return round(float(value), digits)


def _changed(record: dict[str, Any], stored: ScoreRecord | None) -> bool:
    if stored is None or stored.segment_key is None:
        return True  # new, or stored before the by-segment index (rewritten once to join it)
    return any(
        _rounded(name, record.get(name)) != _rounded(name, getattr(stored, name)) for name in _COMPARED
    )


def apply_segment(run_id: str, segment: int, total_segments: int) -> dict[str, Any]:
    """Score one scan segment; write the changed scores; publish segment and stage changes."""
    run = _run(run_id)
    config = _config(run)
    model = ModelFit.from_dict(blobs.get_json(f"{_prefix(run_id)}/fit.json"))
    frame = _frame(customers.scan_segment(segment, total_segments))
    result = score(frame, model, config)
    stamp = datetime.now(UTC)
    now = stamp.isoformat()
    segments: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    grid: Counter[str] = Counter()
    written = 0
    events: list[BusEvent] = []
    records = list(result.records())
    for start_index in range(0, len(records), 100):
        chunk = records[start_index : start_index + 100]
        stored = scores.batch_get([r["customer_id"] for r in chunk])
        to_write: list[dict[str, Any]] = []
        for record in chunk:
            previous = stored.get(record["customer_id"])
            if record["segment"]:
                segments[record["segment"]] += 1
                grid[f"{record['recency_score']}{record['frequency_score']}"] += 1
            stages[record["stage"]] += 1
            if not _changed(record, previous):
                continue
            prev_segment = previous.segment if previous else None
            prev_stage = previous.stage if previous else None
            segment_changed = record["segment"] is not None and record["segment"] != prev_segment
            stage_changed = record["stage"] != prev_stage
            attributes: dict[str, Any] = {name: record.get(name) for name in _COMPARED}
            attributes |= {
                "customer_id": record["customer_id"],
                "run_id": run_id,
                "scored_at": now,
                "is_customer": bool(record["is_customer"]),
                "previous_segment": prev_segment
                if segment_changed
                else getattr(previous, "previous_segment", None),
                "segment_since": now if segment_changed else getattr(previous, "segment_since", None),
                "previous_stage": prev_stage if stage_changed else getattr(previous, "previous_stage", None),
            }
            to_write.append(attributes)
            if segment_changed:
                events.append(
                    SegmentChanged(
                        customer_id=record["customer_id"],
                        run_id=run_id,
                        previous_segment=prev_segment,
                        segment=record["segment"],
                        recency_score=record["recency_score"],
                        frequency_score=record["frequency_score"],
                        monetary_score=record["monetary_score"],
                        clv=record["clv"],
                        p_alive=record["p_alive"],
                    )
                )
            if stage_changed and record["stage"] in QUALIFIED_STAGES:
                events.append(
                    LeadQualified(
                        customer_id=record["customer_id"],
                        run_id=run_id,
                        previous_stage=prev_stage,
                        stage=record["stage"],
                        lead_score=float(record["lead_score"] or 0.0),
                    )
                )
        scores.save_all(to_write, stamp, get_settings().score_history_ttl_days)
        written += len(to_write)
    if events:
        publish(events)
    revenue = np.sort(frame.total_spent)[::-1]
    outcome = {
        "segment": segment,
        "customers": len(records),
        "scores_written": written,
        "events": len(events),
        "segments": dict(segments),
        "stages": dict(stages),
        "rfm_grid": dict(grid),
        "revenue": float(revenue.sum()),
    }
    blobs.put_json(f"{_prefix(run_id)}/applied/{segment:05d}.json", outcome)
    return {"run_id": run_id, **{k: outcome[k] for k in ("segment", "customers", "scores_written", "events")}}


def finish(run_id: str) -> dict[str, Any]:
    run = _run(run_id)
    model = ModelFit.from_dict(blobs.get_json(f"{_prefix(run_id)}/fit.json"))
    applied = [blobs.get_json(k) for k in blobs.list_keys(f"{_prefix(run_id)}/applied/")]
    totals: dict[str, Counter[str]] = {"segments": Counter(), "stages": Counter(), "rfm_grid": Counter()}
    for part in applied:
        for name, counter in totals.items():
            counter.update(part[name])
    now = datetime.now(UTC)
    duration = (now - datetime.fromisoformat(run.started_at)).total_seconds()
    fitted = model.to_dict()
    summary = {
        "as_of": (run.progress or {})["as_of"],
        "customers_scored": sum(p["customers"] for p in applied),
        "scores_written": sum(p["scores_written"] for p in applied),
        "events_published": sum(p["events"] for p in applied),
        "segment_counts": dict(totals["segments"]),
        "stage_counts": dict(totals["stages"]),
        "rfm_grid": dict(totals["rfm_grid"]),
        "pareto_top20_revenue_share": model.pareto_share,
        "purchase_model": model.purchase_model,
        "purchase": fitted.get("purchase"),
        "gamma_gamma": fitted.get("gamma_gamma"),
        "fit_notes": list(model.notes),
        "duration_seconds": round(duration, 3),
    }
    summary = json_safe(summary)
    runs.finish(run_id, "succeeded", now, summary, None)
    runs.set_progress(run_id, {**(run.progress or {}), "phase": "done", "done": len(applied)})
    return {"run_id": run_id, "status": "succeeded", "customers_scored": summary["customers_scored"]}


def fail(run_id: str, error: str) -> dict[str, Any]:
    runs.finish(run_id, "failed", datetime.now(UTC), None, error)
    return {"run_id": run_id, "status": "failed"}


def run_in_process(
    as_of: date | None = None,
    total_segments: int = DEFAULT_SEGMENTS,
    progress: Callable[[str], None] | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Every phase in this process, in order (local mode; what the state machine does in the cloud)."""
    say = progress or (lambda _line: None)
    began = time.perf_counter()
    started = start(as_of, total_segments, run_id)
    run_id = started["run_id"]
    try:
        for segment in started["segments"]:
            done = summarise_segment(run_id, segment, total_segments)
            say(f"  [summarise {segment + 1}/{total_segments}] {done['customers']} customers")
        fitted = fit_models(run_id)
        say(f"  [fit] {fitted['customers']} customers")
        for segment in started["segments"]:
            done = apply_segment(run_id, segment, total_segments)
            say(
                f"  [apply {segment + 1}/{total_segments}] "
                f"{done['scores_written']} scores written, {done['events']} events"
            )
        return finish(run_id) | {"seconds": round(time.perf_counter() - began, 2)}
    except Exception as exc:
        fail(run_id, repr(exc))
        raise
