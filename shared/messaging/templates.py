"""Email templates as data: ``email_templates/<template>/<language>/{subject.txt,body.txt,body.html}``.

Marketing edits copy in those files (no Python), per language; ``default`` is used for a template id that
has no folder, English for a language a template lacks. The language comes from the person's ``locale``
trait (``fr``, ``fr-CA``, ``fr_FR`` -> ``fr``).

Rendered with Jinja2's :class:`~jinja2.sandbox.SandboxedEnvironment`, autoescaping the ``.html`` files:
a field (a name typed into a public form) can neither reach Python internals through the template nor
inject markup; the subject and the text part are plain text, not escaped, and every field is made one
line first (no header injection through a subject). A missing field renders empty, and the templates say
what to write instead (``{{ first_name or 'there' }}``).

Why Jinja2 here rather than SES templates (``SendTemplatedEmail``): SES renders on its side, so the
bytes it sends could not be checked by our tests (List-Unsubscribe raw headers, strict MIME,
``shared.messaging.mime``), templates would live in each account and region instead of the repository
(reviewed, versioned, deployed with the code), and local mode (moto) does not render them. Jinja2 is
well kept, its sandbox is designed for untrusted templates and data, and it is imported only when the
first email is rendered (the email function's cold import does not pay for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from shared.messaging.mime import single_line

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

TEMPLATES_DIR: Final = Path(__file__).with_name("email_templates")
DEFAULT_TEMPLATE: Final = "default"
DEFAULT_LANGUAGE: Final = "en"
UNSUBSCRIBE_LABEL: Final[dict[str, str]] = {
    "en": "Unsubscribe",
    "fr": "Se désabonner",
    "pl": "Wypisz się",
    "uk": "Відписатися",
}
PARTS: Final = ("subject.txt", "body.txt", "body.html")
MAX_FIELD_CHARS: Final = 1000


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    template: str  # the template used (``default`` for an unknown id)
    language: str  # the language used


def template_ids() -> list[str]:
    return sorted(p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir() and not p.name.startswith("_"))


def languages(template_id: str) -> list[str]:
    return sorted(p.name for p in (TEMPLATES_DIR / template_id).iterdir() if p.is_dir())


def language_for(locale: str | None, available: list[str]) -> str:
    """``fr-CA`` -> ``fr`` when there is French; else English."""
    if locale:
        primary = locale.strip().replace("_", "-").split("-")[0].lower()
        if primary in available:
            return primary
    return DEFAULT_LANGUAGE


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    from jinja2 import FileSystemLoader, select_autoescape
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        auto_reload=False,
        trim_blocks=False,
    )


def render_email(template_id: str, fields: dict[str, str], locale: str | None = None) -> Rendered:
    """Subject, text and HTML of ``template_id`` in the person's language, with ``fields``."""
    if template_id not in template_ids():
        template_id = DEFAULT_TEMPLATE
    language = language_for(locale, languages(template_id))
    # Field values are one line each (a name with CR/LF must not add lines, least of all to a subject).
    values: dict[str, str] = {k: single_line(str(v))[:MAX_FIELD_CHARS] for k, v in fields.items()}
    env = environment()
    context = {
        **values,
        "language": language,
        "unsubscribe_label": UNSUBSCRIBE_LABEL.get(language, UNSUBSCRIBE_LABEL[DEFAULT_LANGUAGE]),
    }
    subject = single_line(env.get_template(f"{template_id}/{language}/subject.txt").render(context))
    context["subject"] = subject
    text = env.get_template(f"{template_id}/{language}/body.txt").render(context)
    html = env.get_template(f"{template_id}/{language}/body.html").render(context)
    return Rendered(subject, text, html, template_id, language)


def render(template_id: str, fields: dict[str, str], locale: str | None = None) -> tuple[str, str]:
    """(subject, text body): the text part of :func:`render_email`."""
    rendered = render_email(template_id, fields, locale)
    return rendered.subject, rendered.text
