"""Helpers for tests that drive the local stack."""

from __future__ import annotations

from datetime import UTC, datetime


def daytime_zone(now: datetime | None = None) -> str:
    """A fixed-offset time zone where it is around noon now, so quiet hours never defer a test's send."""
    hour = (now or datetime.now(UTC)).hour
    offset = 12 - hour  # hours to add to UTC to reach noon: -11..12
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")
