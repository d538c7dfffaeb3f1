"""Email templates per campaign ``template`` id, rendered with :class:`string.Template` ($name fields).

Deliberately plain: a team swaps these for SES templates or its ESP's; the channel function only needs
a subject and a text body.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template
from typing import Final

from shared.messaging.mime import single_line


@dataclass(frozen=True)
class EmailTemplate:
    subject: str
    body: str


TEMPLATES: Final[dict[str, EmailTemplate]] = {
    "confirm-subscription": EmailTemplate(
        "Please confirm your subscription",
        "Hello $first_name,\n\nPlease confirm that you want to hear from us: $confirm_url\n\n"
        "If you did not sign up, ignore this email and nothing will happen.",
    ),
    "welcome": EmailTemplate(
        "Welcome aboard, $first_name", "Hello $first_name,\n\nThank you for subscribing."
    ),
    "nurture-lead": EmailTemplate(
        "$first_name, a guide picked for you", "Hello $first_name,\n\nHere is our guide."
    ),
    "nurture-signup": EmailTemplate("Getting started", "Hello $first_name,\n\nHere is how to get started."),
    "win-back": EmailTemplate(
        "We miss you, $first_name", "Hello $first_name,\n\nIt has been a while. Come back?"
    ),
    "cross-sell": EmailTemplate(
        "Picked for you, $first_name", "Hello $first_name,\n\nYou may also like: $recommended_products"
    ),
    "loyalty-reward": EmailTemplate(
        "A thank-you for you, $first_name", "Hello $first_name,\n\nA reward for you."
    ),
    "re-permission": EmailTemplate(
        "Do you still want to hear from us?",
        "Hello $first_name,\n\nWe have not heard from you in a year. Unsubscribe below if you prefer.",
    ),
    "anniversary": EmailTemplate(
        "Happy anniversary, $first_name", "Hello $first_name,\n\nOne year together!"
    ),
}
FALLBACK: Final = EmailTemplate("News for you, $first_name", "Hello $first_name,\n\nNews from us.")


def render(template_id: str, fields: dict[str, str]) -> tuple[str, str]:
    template = TEMPLATES.get(template_id, FALLBACK)
    # Field values are one line each (a name with CR/LF must not add lines, least of all to a subject).
    cleaned = {k: single_line(v) for k, v in fields.items()}
    values = {"first_name": "there", "recommended_products": "", **{k: v for k, v in cleaned.items() if v}}
    subject = single_line(Template(template.subject).safe_substitute(values))
    return subject, Template(template.body).safe_substitute(values)
