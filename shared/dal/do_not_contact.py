"""The do-not-contact list: addresses that must not be mailed, kept after their profiles are erased.

A hard-bounced or complained address is suppressed on its profile (:mod:`shared.dal.suppression`). When
the profile is erased, the address must stay unmailable, yet nothing may keep it in plaintext: the list
holds only ``HMAC-SHA256(pepper, normalised address)`` (the pepper is ``Settings.dnc_pepper``,
``RM_DNC_PEPPER``), the reason and the date, as an item ``dnc:<hex digest>`` of the Identities table (next to
the erased-id tombstones; never an alias: no customer id, nothing resolves to it).

Consistency with erasure: the entries are written *before* the erasure marks and deletes anything
(:func:`keep_suppressed`, idempotent puts), so there is no moment when the profile is gone and the entry
missing, and a retried erasure writes them again. A new sign-up with the address can only create a new
profile once the erased person's ``email:`` alias is deleted, which comes after the entry: the sign-up
then finds the entry and the new profile is suppressed before any confirmation is requested
(:func:`shared.dal.suppression.apply_do_not_contact`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError

from shared.dal.errors import is_conditional_failure
from shared.dal.models import IdentityModel
from shared.dal.records import CustomerRecord
from shared.settings import get_settings

PREFIX = "dnc:"


class Listed(BaseModel):
    """An entry of the list (it names nobody: no address, no customer id)."""

    model_config = ConfigDict(frozen=True)

    reason: str  # hard_bounce | complaint
    since: str


def key(address: str) -> str:
    """The entry's key: a keyed hash of the normalised (trimmed, lower-case) address."""
    digest = hmac.new(
        get_settings().dnc_pepper.encode(), address.strip().lower().encode(), hashlib.sha256
    ).hexdigest()
    return PREFIX + digest


def keep(address: str, reason: str, at: datetime) -> None:
    """List ``address`` (idempotent: the first entry stays, except that a complaint replaces a bounce)."""
    condition = IdentityModel.alias.does_not_exist()
    if reason == "complaint":
        condition = condition | (IdentityModel.dnc_reason != "complaint")
    entry_key = key(address)
    entry = IdentityModel(entry_key, customer_id=entry_key, created_at=at.isoformat(), dnc_reason=reason)
    try:
        entry.save(condition=condition)
    except PutError as exc:
        if not is_conditional_failure(exc):
            raise


def keep_suppressed(profiles: Iterable[CustomerRecord | None], at: datetime) -> int:
    """List the suppressed address of each profile (erasure calls this before deleting anything)."""
    kept = 0
    for profile in profiles:
        if profile is not None and profile.email_suppressed_address:
            keep(profile.email_suppressed_address, profile.email_suppressed_reason or "hard_bounce", at)
            kept += 1
    return kept


def listed(address: str) -> Listed | None:
    """The entry of ``address``, if it is listed (a strongly consistent read)."""
    try:
        item = IdentityModel.get(key(address), consistent_read=True)
    except DoesNotExist:
        return None
    return Listed(reason=item.dnc_reason or "hard_bounce", since=item.created_at)


def lift(address: str) -> bool:
    """Take ``address`` off the list (an administrator's decision); True if it was listed."""
    try:
        IdentityModel(key(address)).delete(condition=IdentityModel.alias.exists())
    except DeleteError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True
