"""Publishing events on the EventBridge bus: batches of 10, failed entries retried with back-off."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

    from shared.events import BusEvent

PUT_EVENTS_BATCH = 10


class PublishError(RuntimeError):
    """Some entries were still refused after every retry (the caller's batch is retried or dead-lettered)."""


@lru_cache(maxsize=1)
def _client() -> EventBridgeClient:
    # A botocore client (what boto3.client builds): importing boto3 would load s3transfer too, a cold-start
    # cost the tracking function does not need. In the session the tables' clients use.
    from shared.dal.session import create_client

    return cast("EventBridgeClient", create_client("events", get_settings().region))


def publish(events: Sequence[BusEvent], attempts: int = 4, base_delay: float = 0.1) -> int:
    """Put ``events`` on the bus; returns how many were put. Raises PublishError if some never were."""
    bus = get_settings().event_bus_name
    pending: list[dict[str, Any]] = [event.to_entry(bus) for event in events]
    put = 0
    for attempt in range(attempts):
        failed: list[dict[str, Any]] = []
        for start in range(0, len(pending), PUT_EVENTS_BATCH):
            chunk = pending[start : start + PUT_EVENTS_BATCH]
            response = _client().put_events(Entries=chunk)  # type: ignore[arg-type]
            if response.get("FailedEntryCount", 0):
                # Entries in the response are in the order of the request.
                failed.extend(
                    entry
                    for entry, result in zip(chunk, response["Entries"], strict=True)
                    if result.get("ErrorCode")
                )
            put += len(chunk) - sum(1 for r in response["Entries"] if r.get("ErrorCode"))
        if not failed:
            return put
        pending = failed
        if attempt < attempts - 1:
            time.sleep(base_delay * 2**attempt)
    raise PublishError(f"{len(pending)} events were refused by EventBridge after {attempts} attempts")
