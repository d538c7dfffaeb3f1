"""The HTML pages of the public API, for people: consent links, form answers (thank-you, errors).

Pure functions from words to a page; every value is escaped (``html.escape``) where it is put in. The
words of the form pages exist per language (:data:`FORM_TEXTS`); a language without words falls back to
English.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlencode

_PAGE = (
    "<!doctype html><html lang={lang}><meta charset=utf-8>"
    "<meta name=viewport content='width=device-width,initial-scale=1'>"
    "<meta name=robots content=noindex><title>{title}</title>"
    "<body style='font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em'>"
    "<h1>{title}</h1>{paragraphs}{extra}</body></html>"
)
_BUTTON = (
    "<form method=post action='?{query}'>"
    "<button type=submit style='font-size:1.2em;padding:.5em 1.5em'>{label}</button></form>"
)

# Not cached anywhere (the page shows the consent as it is now); never framed (a framed page with one
# button could be clicked by a trick: clickjacking a confirmation would forge consent); the token in the
# URL is never sent on as a referrer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def page(title: str, paragraphs: Iterable[str], extra_html: str = "", lang: str = "en") -> str:
    """A plain page: a title and paragraphs of text (escaped here); ``extra_html`` is already HTML."""
    body = "".join(f"<p>{html.escape(text)}</p>" for text in paragraphs)
    return _PAGE.format(lang=html.escape(lang), title=html.escape(title), paragraphs=body, extra=extra_html)


def consent_page(title: str, text: str, button: tuple[str, str] | None = None) -> str:
    """A consent link's page; ``button`` = (label, token): one button that POSTs to this same URL."""
    form = ""
    if button is not None:
        label, token = button
        form = _BUTTON.format(query=html.escape(urlencode({"token": token})), label=html.escape(label))
    return page(title, [text], form)


# What a confirmation link's page says, per outcome: (status, title, text).
CONFIRM_PAGES: dict[str, tuple[int, str, str]] = {
    "confirmed": (200, "Subscription confirmed", "Thank you: your subscription is confirmed."),
    "already_confirmed": (200, "Already confirmed", "Your subscription was already confirmed."),
    "revoked_since": (
        409,
        "This link no longer works",
        "You unsubscribed after this confirmation email was sent, so this link does nothing and you stay "
        "unsubscribed. To subscribe again, please sign up again.",
    ),
    "superseded": (
        409,
        "This link no longer works",
        "A newer confirmation email was sent to you since: please use the link in that one.",
    ),
    "no_request": (
        409,
        "Nothing to confirm",
        "There is no subscription waiting for confirmation. Please sign up again.",
    ),
}


class FormTexts(NamedTuple):
    thanks_title: str
    thanks: str
    check_inbox: str
    error_title: str
    back: str
    to_site: str
    no_back: str
    errors: dict[str, str]  # error code -> what it means for the visitor
    unknown_error: str


FORM_TEXTS: dict[str, FormTexts] = {
    "en": FormTexts(
        thanks_title="Thank you",
        thanks="We have received your details.",
        check_inbox=(
            "Please check your inbox: we have sent you an email with a link to confirm your subscription. "
            "Nothing is sent to you until you confirm."
        ),
        error_title="Your form was not sent",
        back="Back to the form",
        to_site="Back to the web site",
        no_back="Use your browser's Back button to return to the form.",
        errors={
            "origin_not_allowed": "This form cannot be sent from this web site.",
            "unknown_form": "This form does not exist (any more). Please tell the web site's owner.",
            "invalid_email": "The email address is not valid. Please check it and try again.",
            "missing_field": "A required field is empty: {fields}. Please fill it in.",
            "too_long": "A field is too long: {fields}. Please shorten it.",
            "validation_error": "Some fields are not filled in correctly: {fields}.",
            "redirect_not_allowed": "This form is set up to go to a page it may not go to. "
            "Please tell the web site's owner.",
            "unsupported_media_type": "The form was sent in a way this service does not accept "
            "(files cannot be uploaded).",
            "files_not_accepted": "Files cannot be uploaded with this form.",
            "malformed_body": "The form could not be read. Please try again.",
            "body_too_large": "The form is too large to be sent. Please shorten your message.",
            "service_busy": "The service is busy. Please try again in a moment.",
        },
        unknown_error="Something went wrong. Please try again.",
    ),
    "fr": FormTexts(
        thanks_title="Merci",
        thanks="Nous avons bien reçu vos informations.",
        check_inbox=(
            "Consultez votre boîte de réception : nous vous avons envoyé un e-mail avec un lien pour "
            "confirmer votre inscription. Rien ne vous sera envoyé avant votre confirmation."
        ),
        error_title="Votre formulaire n'a pas été envoyé",
        back="Retour au formulaire",
        to_site="Retour au site",
        no_back="Utilisez le bouton Retour de votre navigateur pour revenir au formulaire.",
        errors={
            "origin_not_allowed": "Ce formulaire ne peut pas être envoyé depuis ce site.",
            "unknown_form": "Ce formulaire n'existe pas (ou plus). "
            "Merci de prévenir le propriétaire du site.",
            "invalid_email": "L'adresse e-mail n'est pas valide. Vérifiez-la et réessayez.",
            "missing_field": "Un champ obligatoire est vide : {fields}. Merci de le remplir.",
            "too_long": "Un champ est trop long : {fields}. Merci de le raccourcir.",
            "validation_error": "Certains champs ne sont pas remplis correctement : {fields}.",
            "redirect_not_allowed": "Ce formulaire est configuré pour aller vers une page non autorisée. "
            "Merci de prévenir le propriétaire du site.",
            "unsupported_media_type": "Le formulaire a été envoyé sous une forme non acceptée "
            "(l'envoi de fichiers n'est pas possible).",
            "files_not_accepted": "L'envoi de fichiers n'est pas possible avec ce formulaire.",
            "malformed_body": "Le formulaire n'a pas pu être lu. Merci de réessayer.",
            "body_too_large": "Le formulaire est trop volumineux. Merci de raccourcir votre message.",
            "service_busy": "Le service est occupé. Merci de réessayer dans un instant.",
        },
        unknown_error="Une erreur est survenue. Merci de réessayer.",
    ),
}


def texts(language: str | None) -> FormTexts:
    """The words of the form pages in ``language`` (``fr``, ``fr-CA``, ...), English when unknown."""
    return FORM_TEXTS.get((language or "en").split("-", 1)[0].lower(), FORM_TEXTS["en"])


def error_text(language: str | None, code: str, fields: Iterable[str] = ()) -> str:
    words = texts(language)
    template = words.errors.get(code, words.unknown_error)
    return template.format(fields=", ".join(fields) or "?")


# "Back to the form" goes back in the browser's history when it can: the form comes back as the visitor
# filled it in (browsers send only the origin as Referer across sites, so the link's own target is the
# site). The one script is allowed by its hash (FORM_PAGE_CSP), nothing else runs.
BACK_SCRIPT = (
    "document.getElementById('back').addEventListener('click',function(e){"
    "if(history.length>1){e.preventDefault();history.back();}});"
)
_BACK_HASH = base64.b64encode(hashlib.sha256(BACK_SCRIPT.encode()).digest()).decode()
FORM_PAGE_CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{_BACK_HASH}'; " + (
    "frame-ancestors 'none'"
)


def _back_link(words: FormTexts, back_url: str | None) -> str:
    if not back_url:
        return f"<p>{html.escape(words.no_back)}</p>"
    return (
        f"<p><a id=back href='{html.escape(back_url, quote=True)}'>{html.escape(words.back)}</a></p>"
        f"<script>{BACK_SCRIPT}</script>"
    )


def form_error_page(language: str | None, code: str, fields: Iterable[str], back_url: str | None) -> str:
    """What a visitor whose form post was refused sees: what is wrong, and the way back to the form."""
    words = texts(language)
    return page(
        words.error_title,
        [error_text(language, code, fields)],
        _back_link(words, back_url),
        lang=(language or "en"),
    )


def thank_you_page(language: str | None, check_inbox: bool, back_url: str | None) -> str:
    """The default thank-you page (no redirect configured); ``check_inbox`` for a double opt-in."""
    words = texts(language)
    paragraphs = [words.thanks, *([words.check_inbox] if check_inbox else [])]
    link = (
        f"<p><a href='{html.escape(back_url, quote=True)}'>{html.escape(words.to_site)}</a></p>"
        if back_url
        else ""
    )
    return page(words.thanks_title, paragraphs, link, lang=(language or "en"))
