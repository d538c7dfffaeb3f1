"""SES feedback: what a bounce, a complaint, a delivery, an open or a click does to the people concerned.

- Permanent bounce: the address is suppressed (reason ``hard_bounce``) on every live profile holding it.
- Complaint: suppressed (``complaint``) and email consent revoked there, as an unsubscribe would.
- Transient (and undetermined) bounce: counted on the profile; the address stays mailable.
- Delivery, open, click: an interaction ``email_delivered`` / ``email_opened`` / ``email_clicked`` of the
  recipient, with the campaign id; opens and clicks feed engagement and the lead score, clicks may be a
  campaign's conversion (``shared.campaigns.report``).

Every event is also stored as an interaction keyed on its SES identity (message id, event type, and the
feedback id or the link), so a redelivered event is recognised: its interaction is not stored twice and a
soft bounce is not counted twice. Suppression and revocation are idempotent writes done first, so a retry
after a failure completes them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.dal import interactions, suppression
from shared.dal.bus import publish
from shared.messaging.ses_events import (
    CUSTOMER_TAG,
    BounceEvent,
    ClickEvent,
    ComplaintEvent,
    DeliveryEvent,
    Mail,
    OpenEvent,
    SesEvent,
)
from shared.services import consent
from shared.settings import get_settings
from shared.tracking.engagement import InteractionKind
from shared.tracking.identity import Identifiers
from shared.tracking.normalise import Interaction


@dataclass(frozen=True)
class FeedbackResult:
    event_type: str
    suppressed: int = 0  # profiles newly suppressed
    revoked: int = 0  # profiles whose email consent this revoked
    recorded: int = 0  # interactions stored (0 for a redelivered event)


def _profiles(address: str, mail: Mail) -> list[str]:
    """Live, unmerged profiles the feedback is about: those holding the address, and the tagged one."""
    ids = suppression.holders(address)
    tagged = mail.tag(CUSTOMER_TAG)
    if tagged:
        ids.add(tagged)
    found: list[str] = []
    for customer_id in sorted(ids):
        survivor = consent.survivor_of(customer_id)
        if survivor is not None and survivor not in found:
            found.append(survivor)
    return found


def _record(
    customer_id: str,
    event_id: str,
    kind: InteractionKind,
    mail: Mail,
    occurred_at: datetime,
    extra: dict[str, Any] | None = None,
) -> bool:
    properties: dict[str, Any] = {"message_id": mail.message_id, **(extra or {})}
    if mail.campaign_id:
        properties["campaign_id"] = mail.campaign_id
    now = datetime.now(UTC)
    interaction = Interaction(
        event_id=event_id,
        kind=kind,
        name=mail.campaign_id,
        occurred_at=min(occurred_at.astimezone(UTC), now),
        received_at=now,
        identifiers=Identifiers(),
        source="ses",
        properties=properties,
    )
    return interactions.put_new(
        interactions.to_model(customer_id, interaction, get_settings().interaction_ttl_days)
    )


def handle(event: SesEvent) -> FeedbackResult:
    mail = event.mail
    base_id = f"ses:{mail.message_id}:{event.event_type.lower()}"
    if isinstance(event, BounceEvent):
        bounce = event.bounce
        result = FeedbackResult(event.event_type)
        for recipient in bounce.bounced_recipients:
            address = recipient.email_address.lower()
            for customer_id in _profiles(address, mail):
                event_id = f"{base_id}:{bounce.feedback_id}"
                if bounce.bounce_type == "Permanent":
                    changed = suppression.suppress(
                        customer_id, address, "hard_bounce", bounce.timestamp, bounce.bounce_sub_type
                    )
                    _publish_suppression(
                        customer_id, address, "hard_bounce", bounce.timestamp, changed, event_id
                    )
                    result = _add(result, suppressed=int(changed))
                extra = {"bounce_type": bounce.bounce_type, "bounce_sub_type": bounce.bounce_sub_type}
                recorded = _record(customer_id, event_id, "email_bounced", mail, bounce.timestamp, extra)
                if recorded and bounce.bounce_type != "Permanent":
                    suppression.count_transient_bounce(customer_id)  # once per feedback event
                result = _add(result, recorded=int(recorded))
        return result
    if isinstance(event, ComplaintEvent):
        complaint = event.complaint
        result = FeedbackResult(event.event_type)
        for recipient in complaint.complained_recipients:
            address = recipient.email_address.lower()
            for customer_id in _profiles(address, mail):
                detail = complaint.complaint_feedback_type or "complaint"
                event_id = f"{base_id}:{complaint.feedback_id}"
                changed = suppression.suppress(customer_id, address, "complaint", complaint.timestamp, detail)
                _publish_suppression(
                    customer_id, address, "complaint", complaint.timestamp, changed, event_id
                )
                revoked = consent.revoke_for_complaint(
                    customer_id, complaint.feedback_id, complaint.timestamp, address
                )
                recorded = _record(
                    customer_id,
                    event_id,
                    "email_complained",
                    mail,
                    complaint.timestamp,
                    {"feedback_type": detail},
                )
                result = _add(result, suppressed=int(changed), revoked=int(revoked), recorded=int(recorded))
        return result
    engagement: tuple[InteractionKind, datetime, str, dict[str, Any]] | None = None
    if isinstance(event, DeliveryEvent):
        engagement = ("email_delivered", event.delivery.timestamp, base_id, {})
    elif isinstance(event, OpenEvent):
        engagement = ("email_opened", event.open.timestamp, base_id, {})
    elif isinstance(event, ClickEvent):
        link = event.click.link
        digest = hashlib.sha256(link.encode()).hexdigest()[:16]  # one click per link and message counts
        engagement = ("email_clicked", event.click.timestamp, f"{base_id}:{digest}", {"link": link[:512]})
    if engagement is None:
        return FeedbackResult(event.event_type)
    kind, at, event_id, extra = engagement
    count = 0
    for address in mail.destination[:1]:  # the engine sends one recipient per message
        for customer_id in _profiles(address.lower(), mail):
            count += int(_record(customer_id, event_id, kind, mail, at, extra))
    return FeedbackResult(event.event_type, recorded=count)


def _publish_suppression(
    customer_id: str, address: str, reason: str, at: datetime, changed: bool, event_id: str
) -> None:
    """``ConsentChanged`` (status ``suppressed``) once per suppression: when this event's write changed the
    profile, or when an earlier delivery of it did but failed before recording its interaction (the commit
    point; once that is stored a redelivery publishes nothing)."""
    if not changed:
        if interactions.exists(customer_id, event_id):
            return
        current = suppression.contact(customer_id)
        hit = current.suppressed(address) if current is not None else None
        if hit is None or hit.reason != reason or hit.at != at.isoformat():
            return  # suppressed by another event (or not at all): not this event's change
    publish([consent.changed_event(customer_id, "email", "suppressed", "ses", event_id, at, reason)])


def _add(result: FeedbackResult, suppressed: int = 0, revoked: int = 0, recorded: int = 0) -> FeedbackResult:
    return FeedbackResult(
        result.event_type,
        result.suppressed + suppressed,
        result.revoked + revoked,
        result.recorded + recorded,
    )
