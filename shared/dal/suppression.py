"""Email suppression (do-not-contact) on the customer profile, and the view of a profile the email
channel needs at send time. Returns view models, never PynamoDB items.

A suppression names one address: the person's profile keeps it with the reason and time (shown in the
profile and in exports). Nothing is sent to that address while it is suppressed, confirmations included;
a new address given later is not suppressed (SES feedback about it would suppress it in turn).
Only live profiles are written (never one being erased: that would bring a profile back).

After erasure the address stays suppressed through the do-not-contact list (:mod:`shared.dal.do_not_contact`,
a keyed hash only): :func:`suppressed` consults it, and a profile that takes a listed address gets the
suppression again (:func:`apply_do_not_contact`), so campaigns see it on the profile as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pynamodb.exceptions import UpdateError

from shared.dal import do_not_contact, identities
from shared.dal.customers import ERASING_AT, live_item
from shared.dal.errors import is_conditional_failure
from shared.dal.models import CustomerModel

SuppressionReason = Literal["hard_bounce", "complaint"]
_LIVE = CustomerModel.customer_id.exists() & ERASING_AT.does_not_exist()


class Suppression(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    reason: str
    at: str
    detail: str | None = None


class EmailContact(BaseModel):
    """What the email channel reads from a live profile at send time."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    email: str | None = None
    first_name: str | None = None
    merged_into: str | None = None
    consent_status: str | None = None
    locale: str | None = None
    suppression: Suppression | None = None

    def suppressed(self, address: str) -> Suppression | None:
        """The suppression of ``address`` on this profile, if any."""
        if self.suppression is not None and self.suppression.address == address.lower():
            return self.suppression
        return None


def _suppression(customer: CustomerModel) -> Suppression | None:
    if not customer.email_suppressed_address:
        return None
    return Suppression(
        address=customer.email_suppressed_address,
        reason=customer.email_suppressed_reason or "unknown",
        at=customer.email_suppressed_at or "",
        detail=customer.email_suppressed_detail,
    )


def contact(customer_id: str) -> EmailContact | None:
    """The live profile as the email channel sees it (None: gone or being erased)."""
    customer = live_item(customer_id)
    if customer is None:
        return None
    consent: dict[str, Any] = customer.consent_email.as_dict() if customer.consent_email else {}
    traits: dict[str, Any] = customer.traits.as_dict() if customer.traits else {}
    locale = traits.get("locale")
    return EmailContact(
        customer_id=customer.customer_id,
        email=customer.email,
        first_name=customer.first_name,
        merged_into=customer.merged_into,
        consent_status=str(consent["status"]) if consent.get("status") else None,
        locale=str(locale) if isinstance(locale, str) else None,
        suppression=_suppression(customer),
    )


def holders(address: str) -> set[str]:
    """The profile ids the address (already normalised) is an alias of."""
    return set(identities.resolve([f"email:{address.lower()}"]).values())


def suppressed(
    address: str, customer_ids: frozenset[str] = frozenset(), known: Mapping[str, EmailContact] | None = None
) -> Suppression | None:
    """The suppression of ``address`` on any live profile holding it (or among ``customer_ids``), else
    its entry in the do-not-contact list (the address of an erased profile). ``known``: profiles the
    caller has just read (not read again)."""
    known = known or {}
    for customer_id in sorted(holders(address) | set(customer_ids)):
        found = known[customer_id] if customer_id in known else contact(customer_id)
        if found is not None and (hit := found.suppressed(address)) is not None:
            return hit
    listed = do_not_contact.listed(address)
    if listed is not None:
        return Suppression(
            address=address.lower(), reason=listed.reason, at=listed.since, detail=DO_NOT_CONTACT_DETAIL
        )
    return None


DO_NOT_CONTACT_DETAIL = "do-not-contact list"


def apply_do_not_contact(customer_id: str, address: str) -> Suppression | None:
    """If ``address`` is on the do-not-contact list, suppress it on the profile (one that carries no
    suppression yet: a profile suppressed for another address keeps it, and the send-time check of
    :func:`suppressed` still reads the list). Returns the suppression if this wrote it."""
    listed = do_not_contact.listed(address)
    if listed is None:
        return None
    address = address.lower()
    try:
        CustomerModel(customer_id).update(
            actions=[
                CustomerModel.email_suppressed_address.set(address),
                CustomerModel.email_suppressed_reason.set(listed.reason),
                CustomerModel.email_suppressed_at.set(listed.since),
                CustomerModel.email_suppressed_detail.set(DO_NOT_CONTACT_DETAIL),
            ],
            condition=_LIVE & CustomerModel.email_suppressed_address.does_not_exist(),
        )
    except UpdateError as exc:
        if not is_conditional_failure(exc):
            raise
        return None
    return Suppression(address=address, reason=listed.reason, at=listed.since, detail=DO_NOT_CONTACT_DETAIL)


def suppress(
    customer_id: str, address: str, reason: SuppressionReason, at: datetime, detail: str | None
) -> bool:
    """Suppress ``address`` on a live profile; True if this changed it. A complaint replaces a bounce
    (it also revoked consent: the stronger reason is shown); otherwise the first suppression stays."""
    address = address.lower()
    not_yet = CustomerModel.email_suppressed_address.does_not_exist() | (
        CustomerModel.email_suppressed_address != address
    )
    if reason == "complaint":
        not_yet = not_yet | (CustomerModel.email_suppressed_reason != "complaint")
    try:
        CustomerModel(customer_id).update(
            actions=[
                CustomerModel.email_suppressed_address.set(address),
                CustomerModel.email_suppressed_reason.set(reason),
                CustomerModel.email_suppressed_at.set(at.isoformat()),
                CustomerModel.email_suppressed_detail.set(detail or reason),
            ],
            condition=_LIVE & not_yet,
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def count_transient_bounce(customer_id: str) -> None:
    """One more soft bounce on a live profile (never suppresses: the mailbox may be full today)."""
    try:
        CustomerModel(customer_id).update(
            actions=[CustomerModel.email_transient_bounces.add(1)], condition=_LIVE
        )
    except UpdateError as exc:
        if not is_conditional_failure(exc):
            raise
