"""The email channel's checks at send time, and the message to send (the handler only wires).

The decision to send was taken earlier, on what the profile said then. At send time the profile is read
again: nothing goes to a person who was erased meanwhile (or is being erased), nothing to a suppressed
address (a permanent bounce or a complaint, :mod:`shared.dal.suppression`; confirmations included), and
a campaign email goes only while email consent is still granted, to the address on the profile now.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.dal import suppression
from shared.dal.suppression import EmailContact
from shared.events import BusEvent, CampaignTriggered, ConsentConfirmationRequested
from shared.messaging.compose import build_email, message_tags
from shared.messaging.mime import Email


@dataclass(frozen=True)
class Outgoing:
    """An email to send (``email``), or why none is sent (``skipped``)."""

    email: Email | None = None
    tags: tuple[dict[str, str], ...] = ()
    skipped: str | None = None


def recipient(event: BusEvent) -> tuple[EmailContact | None, str | None, str | None]:
    """(profile, address to send to, None) or (profile, None, why the send is skipped)."""
    if not isinstance(event, ConsentConfirmationRequested | CampaignTriggered):
        return None, None, "not_an_email"
    contact = suppression.contact(event.customer_id)
    if contact is None:
        return None, None, "customer_gone"  # erased (or being erased) since the event was published
    if isinstance(event, ConsentConfirmationRequested):
        address = event.email  # the address being confirmed
        mine = {event.customer_id: contact}  # just read: not read again
        if suppression.suppressed(address, frozenset(mine), known=mine) is not None:
            return contact, None, "suppressed"
        return contact, address, None
    if contact.merged_into:
        return contact, None, "customer_merged"
    if contact.consent_status != "granted":
        return contact, None, "no_consent"  # withdrawn since the decision
    if not contact.email:
        return contact, None, "no_address"
    mine = {contact.customer_id: contact}
    if contact.suppressed(contact.email) or suppression.suppressed(contact.email, known=mine) is not None:
        return contact, None, "suppressed"
    return contact, contact.email, None


def outgoing(event: BusEvent, sender: str) -> Outgoing:
    contact, address, skipped = recipient(event)
    if address is None:
        return Outgoing(skipped=skipped)
    email = build_email(event, sender, to=address, locale=contact.locale if contact else None)
    if email is None:
        return Outgoing(skipped="not_an_email")
    return Outgoing(email=email, tags=tuple(message_tags(event)))
