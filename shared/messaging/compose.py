"""The email for a bus event (pure): which template, which fields, which headers and SES message tags."""

from __future__ import annotations

import re
from typing import Final

from shared.events import BusEvent, CampaignTriggered, ConsentConfirmationRequested
from shared.messaging.mime import Email
from shared.messaging.ses_events import CAMPAIGN_HEADER, CAMPAIGN_TAG, CUSTOMER_TAG
from shared.messaging.templates import render_email as render

# SES message tag values: ASCII letters, digits, "_" and "-" only, at most 256 characters
# (https://docs.aws.amazon.com/ses/latest/APIReference/API_MessageTag.html).
_TAG_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")


def tag_value(value: str) -> str:
    return _TAG_UNSAFE.sub("_", value)[:256]


def message_tags(event: BusEvent) -> list[dict[str, str]]:
    """The SES message tags of the email (SES copies them into every feedback event's ``mail.tags``)."""
    tags: list[dict[str, str]] = []
    if isinstance(event, CampaignTriggered):
        tags.append({"Name": CAMPAIGN_TAG, "Value": tag_value(event.campaign_id)})
        tags.append({"Name": "message_type", "Value": "campaign"})
    elif isinstance(event, ConsentConfirmationRequested):
        tags.append({"Name": "message_type", "Value": "confirmation"})
    customer_id = getattr(event, "customer_id", None)
    if isinstance(customer_id, str) and customer_id:
        tags.append({"Name": CUSTOMER_TAG, "Value": tag_value(customer_id)})
    return tags


def build_email(
    event: BusEvent, sender: str, to: str | None = None, locale: str | None = None
) -> Email | None:
    """The email for a bus event (``to`` overrides the address the event carries)."""
    if isinstance(event, ConsentConfirmationRequested):
        rendered = render(
            "confirm-subscription",
            {"first_name": event.first_name or "", "confirm_url": event.confirm_url},
            locale,
        )
        return Email(sender, to or event.email, rendered.subject, rendered.text, html=rendered.html)
    if isinstance(event, CampaignTriggered) and (to or event.email):
        rendered = render(
            event.template,
            {
                "first_name": event.first_name or "",
                "recommended_products": ", ".join(event.recommended_products),
                "unsubscribe_url": event.unsubscribe_url or "",
            },
            locale,
        )
        return Email(
            sender,
            to or event.email or "",
            rendered.subject,
            rendered.text,
            unsubscribe_url=event.unsubscribe_url,
            headers={CAMPAIGN_HEADER: event.campaign_id},
            html=rendered.html,
        )
    return None
