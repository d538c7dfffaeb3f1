"""Templates as data: every template in every language renders, with missing and hostile fields, into a
message that passes the strict wire check; HTML in a field is escaped in the HTML part, never in the text."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from shared.events import CampaignTriggered, ConsentConfirmationRequested
from shared.messaging import mime
from shared.messaging.compose import build_email, message_tags
from shared.messaging.templates import (
    DEFAULT_TEMPLATE,
    PARTS,
    TEMPLATES_DIR,
    language_for,
    languages,
    render_email,
    template_ids,
)
from tests.helpers import wire_headers

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
HOSTILE = {
    "first_name": '<script>alert("x")</script>\r\nBcc: evil@example.com {{ 7*7 }}',
    "recommended_products": "<img src=x onerror=alert(1)>, Widget & Co",
    "confirm_url": 'https://api.example.com/v1/consent/confirm?token=a"><script>x</script>',
    "unsubscribe_url": "https://api.example.com/v1/unsubscribe?token=abc&x=<b>",
}
CASES = [(t, lang) for t in template_ids() for lang in languages(t)]


def test_every_template_has_every_part_in_english_and_french_polish_ukrainian() -> None:
    ids = template_ids()
    assert {"confirm-subscription", "welcome", "win-back", "cross-sell", DEFAULT_TEMPLATE} <= set(ids)
    for template in ids:
        assert {"en", "fr", "pl", "uk"} <= set(languages(template)), template
        for language in languages(template):
            for part in PARTS:
                assert (TEMPLATES_DIR / template / language / part).is_file(), (template, language, part)


def _strict(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.strict).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


@pytest.mark.parametrize(("template", "language"), CASES)
def test_renders_with_no_fields(template: str, language: str) -> None:
    rendered = render_email(template, {}, language)
    assert rendered.language == language
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert "{{" not in rendered.subject + rendered.text + rendered.html
    assert "None" not in rendered.subject + rendered.text
    assert rendered.html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in rendered.html


@pytest.mark.parametrize(("template", "language"), CASES)
def test_hostile_fields_are_escaped_in_html_and_cannot_add_lines_or_run_code(
    template: str, language: str
) -> None:
    rendered = render_email(template, HOSTILE, language)
    assert "<script>" not in rendered.html
    assert "<img" not in rendered.html
    assert "49" not in rendered.subject + rendered.text + rendered.html  # field values are never templates
    if "first_name" in (TEMPLATES_DIR / template / language / "body.html").read_text():
        assert "&lt;script&gt;" in rendered.html
    assert "\r" not in rendered.subject + rendered.text
    assert "\n" not in rendered.subject
    assert not any(line.startswith("Bcc:") for line in rendered.text.splitlines())
    email = mime.Email(
        "m@example.com",
        "a@example.com",
        rendered.subject,
        rendered.text,
        "https://api.example.com/v1/unsubscribe?token=abc",
        {"X-Campaign-Id": template},
        html=rendered.html,
    )
    raw = mime.to_bytes(email, NOW)
    headers = wire_headers(raw)  # strict byte-level header check
    assert "bcc" not in headers
    message = _strict(raw)
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(preferencelist=("html",))
    assert html is not None
    assert html.get_content().replace("\r\n", "\n") == rendered.html + "\n"  # SMTP line endings


def test_the_sandbox_refuses_what_a_template_must_not_do(tmp_path: object) -> None:
    from jinja2.exceptions import SecurityError

    from shared.messaging.templates import environment

    with pytest.raises(SecurityError):
        environment().from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}").render()


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("fr_FR", "fr"),
        ("PL", "pl"),
        ("uk-UA", "uk"),
        ("de", "en"),
        (None, "en"),
    ],
)
def test_language_from_locale_with_fallback(locale: str | None, expected: str) -> None:
    assert language_for(locale, ["en", "fr", "pl", "uk"]) == expected


def test_an_unknown_template_uses_the_default_and_a_missing_language_english() -> None:
    rendered = render_email("no-such-template", {"first_name": "Ann"}, "de")
    assert (rendered.template, rendered.language) == (DEFAULT_TEMPLATE, "en")
    assert rendered.subject == "News for you, Ann"


def test_english_copy_is_unchanged_from_the_python_templates() -> None:
    """The text of the templates that were Python strings before issue 13 (tests and users rely on it)."""
    assert render_email("welcome", {"first_name": "Ann"}).subject == "Welcome aboard, Ann"
    assert render_email("welcome", {}).text == "Hello there,\n\nThank you for subscribing."
    confirm = render_email("confirm-subscription", {"confirm_url": "https://x/c"})
    assert confirm.subject == "Please confirm your subscription"
    assert confirm.text == (
        "Hello there,\n\nPlease confirm that you want to hear from us: https://x/c\n\n"
        "If you did not sign up, ignore this email and nothing will happen."
    )
    cross = render_email("cross-sell", {"recommended_products": "A, B", "unsubscribe_url": "https://x/u"})
    assert cross.text == "Hello there,\n\nYou may also like: A, B\n\nUnsubscribe: https://x/u"


def test_campaign_and_confirmation_emails_in_french_with_tags() -> None:
    campaign = CampaignTriggered(
        campaign_id="win-back",
        customer_id="c_0123",
        trigger_id="t1",
        channel="email",
        template="win-back",
        email="zoe@example.com",
        first_name="Zoé",
        unsubscribe_url="https://api.example.com/v1/unsubscribe?token=abc",
    )
    email = build_email(campaign, "m@example.com", locale="fr")
    assert email is not None
    assert email.subject == "Vous nous manquez, Zoé"
    assert email.headers == {"X-Campaign-Id": "win-back"}
    assert email.html is not None
    assert "Se désabonner" in email.html
    assert message_tags(campaign) == [
        {"Name": "campaign_id", "Value": "win-back"},
        {"Name": "message_type", "Value": "campaign"},
        {"Name": "customer_id", "Value": "c_0123"},
    ]
    confirmation = ConsentConfirmationRequested(
        customer_id="c x/1", channel="email", email="zoe@example.com", confirm_url="https://x/c"
    )
    email = build_email(confirmation, "m@example.com", locale="fr")
    assert email is not None
    assert email.subject == "Merci de confirmer votre inscription"
    assert {"Name": "customer_id", "Value": "c_x_1"} in message_tags(confirmation)  # SES tag characters
