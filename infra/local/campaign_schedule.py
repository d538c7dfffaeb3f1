"""The local stand-in for the campaigns' two EventBridge schedules (``infra/constructs/campaigns.py``):
the due sweep every few minutes (deferred decisions now due, from the sparse due index) and the daily
sweep (its scan segments go through the bus and the campaigns queue, as in the cloud).

The services are called in-process, like the local scoring schedule: the dispatcher thread runs the
handlers, and a second caller of the same handler module would share its per-invocation state.
Each sweep runs inside ``activity()`` (the local stack passes its dispatcher's): the dispatcher polls
while it runs and is woken when it ends, as after an API request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

DUE_EVERY_MINUTES = 5.0
DAILY_EVERY_HOURS = 24.0


def run(
    stopped: threading.Event,
    due_every_minutes: float = DUE_EVERY_MINUTES,
    daily_every_hours: float = DAILY_EVERY_HOURS,
    say: Callable[[str], object] = print,
    activity: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> None:
    """Until ``stopped``: the due sweep every ``due_every_minutes``, the daily sweep's fan-out every
    ``daily_every_hours`` (the first one a day after start: ``make local`` is not a backfill)."""
    from shared.services import campaigns

    next_daily = time.monotonic() + daily_every_hours * 3600
    while not stopped.wait(due_every_minutes * 60):
        try:
            with activity():
                counts = campaigns.sweep_due()
            if counts:
                say(f"campaign due sweep: {counts}")
            if time.monotonic() >= next_daily:
                next_daily += daily_every_hours * 3600
                with activity():
                    segments = campaigns.start_sweep()
                say(f"daily campaign sweep: {segments} scan segments queued")
        except Exception as exc:  # the next tick tries again, as the schedule would
            say(f"campaign sweep failed: {exc!r}")


def start(
    stopped: threading.Event,
    due_every_minutes: float = DUE_EVERY_MINUTES,
    activity: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> threading.Thread:
    thread = threading.Thread(
        target=run, args=(stopped, due_every_minutes), kwargs={"activity": activity}, daemon=True
    )
    thread.start()
    return thread
