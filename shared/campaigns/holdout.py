"""Deterministic hold-out (control group) assignment.

``bucket = int(sha256(f"{campaign_id}:{customer_id}").hexdigest()[:8], 16) % 10000`` and a customer is
held out of a campaign iff ``bucket < holdout_percent * 100`` (so the resolution is 0.01 point).

The assignment depends only on the campaign and the customer: it is the same on every trigger, every
retry and every machine (no state, no random seed), and a customer stays in the same arm of a campaign
for as long as its ``holdout_percent`` does not change. Including the campaign id makes the control
groups of different campaigns independent of each other.
"""

from __future__ import annotations

import hashlib
from typing import Final

BUCKETS: Final[int] = 10_000


def holdout_bucket(campaign_id: str, customer_id: str) -> int:
    """The customer's bucket for this campaign, in ``[0, 10000)``."""
    digest = hashlib.sha256(f"{campaign_id}:{customer_id}".encode()).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def is_held_out(campaign_id: str, customer_id: str, holdout_percent: float) -> bool:
    """True when the customer belongs to the campaign's control group."""
    if not 0.0 <= holdout_percent <= 100.0:
        raise ValueError(f"holdout_percent must be within [0, 100], got {holdout_percent}")
    return holdout_bucket(campaign_id, customer_id) < holdout_percent * 100
