"""Consent per channel as a state machine (pure: no I/O, no clock).

States and moves (each move is recorded as an interaction, with its source and wording version)::

    none ──sign-up (double opt-in)──> pending ──confirmation of *that* request──> granted
      │                                 │  ▲                                        │
      │                                 │  └──────── new sign-up ──────┐            │
      └──sign-up (single opt-in)────────┼──────────────> granted       │            │
                                        └──unsubscribe──> revoked <────┴─unsubscribe┘

- A confirmation moves only the pending request it was issued for (its token names the request). Once
  the person has unsubscribed, or a newer request replaced it, an old confirmation link does nothing.
- A sign-up never downgrades ``granted`` to ``pending``; after ``revoked`` it opens a new ``pending``.
- An unsubscribe is an explicit decision: it is recorded even where no consent was held.
- A merge carries consent over: the most recent explicit decision (granted/revoked) wins, revocation wins
  a tie; a pending request newer than a revocation stays open (as it would on one profile).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

ConfirmOutcome = Literal["confirm", "already_confirmed", "revoked_since", "superseded", "no_request"]
EXPLICIT = frozenset({"granted", "revoked"})


def confirm_outcome(record: Mapping[str, Any] | None, request_id: str | None) -> ConfirmOutcome:
    """What a confirmation link for ``request_id`` does to a channel's consent ``record``.

    ``request_id`` None: a link issued before links named their request; it confirms whatever request
    is pending.
    """
    if not record:
        return "no_request"
    status = record.get("status")
    if status == "pending":
        if request_id is None or record.get("event_id") == request_id:
            return "confirm"
        return "superseded"
    if status == "granted":
        return "already_confirmed"  # by this link or otherwise: nothing for this link to do
    if status == "revoked":
        return "revoked_since"
    return "no_request"


def _key(record: Mapping[str, Any]) -> tuple[str, int]:
    # Later wins; on the same instant a revocation (1) ranks above a grant (0).
    return str(record.get("at") or ""), 1 if record.get("status") == "revoked" else 0


def merge(survivor: Mapping[str, Any] | None, merged: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The survivor's consent record after a merge of two profiles' records for one channel."""
    records = [r for r in (survivor, merged) if r and r.get("status")]
    explicit = [r for r in records if r.get("status") in EXPLICIT]
    pending = [r for r in records if r.get("status") == "pending"]
    decision = max(explicit, key=_key) if explicit else None
    request = max(pending, key=_key) if pending else None
    if decision is None:
        return request
    if (
        request is not None
        and decision.get("status") == "revoked"
        and str(request.get("at") or "") > str(decision.get("at") or "")
    ):
        return request  # signed up again after unsubscribing: that request is still open
    return decision
