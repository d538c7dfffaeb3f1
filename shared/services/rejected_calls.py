"""Rejected calls: what the tracking API refused and why, kept a few days where a developer can read it
(Segment shows them only in its debugger). Stored on a best-effort basis: a failure to keep them is
logged and never fails the request, whose valid calls are already stored."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.dal import rejected_calls
from shared.dal.records import RejectedCallRecord
from shared.settings import get_settings

MAX_KEPT_CALL_CHARS = 32 * 1024


@dataclass(frozen=True)
class Rejection:
    index: int | None  # position in a batch; None for a single call
    code: str
    message: str
    call: Any  # as sent


def keep(rejections: list[Rejection], *, path: str, source: str, request_id: str, now: datetime) -> None:
    ttl = get_settings().rejected_call_ttl_days
    expires_at = int((now + timedelta(days=ttl)).timestamp())
    stamp = now.isoformat()
    rejected_calls.put_all(
        RejectedCallRecord(
            day=now.date().isoformat(),
            key=f"{stamp}#{request_id}#{r.index if r.index is not None else 0:04d}",
            received_at=stamp,
            path=path,
            source=source,
            index=r.index,
            code=r.code,
            message=r.message[:2000],
            call=json.dumps(r.call, default=str)[:MAX_KEPT_CALL_CHARS],
            expires_at=expires_at,
        )
        for r in rejections
    )


def recent(now: datetime, days: int, limit: int) -> list[dict[str, Any]]:
    """Rejected calls of the last ``days`` days (today included), newest first, at most ``limit``."""
    found: list[dict[str, Any]] = []
    for back in range(days):
        day = (now - timedelta(days=back)).date().isoformat()
        for item in rejected_calls.newest_of_day(day, limit - len(found)):
            found.append(
                {
                    "received_at": item.received_at,
                    "path": item.path,
                    "source": item.source,
                    "index": int(item.index) if item.index is not None else None,
                    "code": item.code,
                    "message": item.message,
                    "call": item.call,
                }
            )
        if len(found) >= limit:
            break
    return found
