"""Runs table: scoring runs and exports, with progress and summary."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from shared.dal.models import RunModel
from shared.dal.records import RunRecord, record_of


def create(run_id: str, kind: str, now: datetime, progress: Mapping[str, Any]) -> RunRecord:
    run = RunModel(run_id, kind=kind, status="running", started_at=now.isoformat(), progress=dict(progress))
    run.save(condition=RunModel.run_id.does_not_exist())
    return record_of(RunRecord, run)


def get(run_id: str) -> RunRecord | None:
    try:
        return record_of(RunRecord, RunModel.get(run_id, consistent_read=True))
    except DoesNotExist:
        return None


def set_progress(run_id: str, progress: Mapping[str, Any]) -> None:
    RunModel(run_id).update(actions=[RunModel.progress.set(dict(progress))])


def finish(
    run_id: str, status: str, now: datetime, summary: Mapping[str, Any] | None, error: str | None
) -> None:
    actions: list[Action] = [RunModel.status.set(status), RunModel.finished_at.set(now.isoformat())]
    if summary is not None:
        actions.append(RunModel.summary.set(dict(summary)))
    if error is not None:
        actions.append(RunModel.error.set(error[:2000]))
    RunModel(run_id).update(actions=actions)


def latest(kind: str, status: str = "succeeded", before: str | None = None) -> RunRecord | None:
    """The most recent run of a kind (a scan: the runs table holds one item per run)."""
    candidates = [
        run
        for run in RunModel.scan((RunModel.kind == kind) & (RunModel.status == status))
        if before is None or run.started_at < before
    ]
    found = max(candidates, key=lambda run: run.started_at, default=None)
    return record_of(RunRecord, found) if found is not None else None


def all_of_kind(kind: str, status: str = "succeeded", limit: int = 50) -> list[RunRecord]:
    """The most recent ``limit`` runs of a kind, oldest first (a scan, as :func:`latest`)."""
    found = RunModel.scan((RunModel.kind == kind) & (RunModel.status == status))
    return [record_of(RunRecord, run) for run in sorted(found, key=lambda run: run.started_at)[-limit:]]
