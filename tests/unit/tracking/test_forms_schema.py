"""Forms as data: the catalogue's schema, the rules a post must meet, the pages and the embed code."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from pydantic import ValidationError

from functions.track.forms import refusal
from shared.tracking.embed import embed_code
from shared.tracking.forms import FormCatalogue, FormDefinition, load_forms
from shared.tracking.normalise import from_form
from shared.tracking.pages import form_error_page, texts, thank_you_page
from shared.tracking.payloads import FormSubmission
from shared.tracking.web import FormRefusedError, origin_of, wants_html

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EMAIL = {"name": "email", "label": "Email", "required": True}


def _form(**overrides: Any) -> FormDefinition:
    return FormDefinition.model_validate(
        {"kind": "signup", "consent_wording_version": "v1", "fields": [EMAIL], **overrides}
    )


def test_the_shipped_catalogue_is_valid_and_every_form_has_a_required_email() -> None:
    catalogue = load_forms()
    assert {"newsletter", "signup", "contact", "whitepaper", "lettre"} <= set(catalogue.forms)
    for form in catalogue.forms.values():
        email = form.field("email")
        assert email is not None
        assert email.required
        assert email.type == "email"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"fields": [{"name": "first_name", "label": "Name"}]}, "required email"),
        ({"fields": [{**EMAIL, "required": False}]}, "required email"),
        ({"fields": [EMAIL, EMAIL]}, "once"),
        ({"fields": [EMAIL, {"name": "phone", "label": "Phone", "max_length": 41}]}, "at most 40"),
        ({"fields": [EMAIL, {"name": "shoe_size", "label": "Shoe"}]}, "name"),
        ({"fields": [EMAIL, {"name": "phone", "label": ""}]}, "label"),
        ({"consent": [{"channel": "email", "wording": "Yes", "version": "a"}] * 2}, "one checkbox"),
        ({"consent": [{"channel": "fax", "wording": "Yes", "version": "a"}]}, "channel"),
        ({"consent": [{"channel": "email", "wording": "", "version": "a"}]}, "wording"),
        ({"language": "english"}, "language"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_the_schema_refuses_a_broken_form(overrides: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        _form(**overrides)


def test_a_catalogue_of_the_first_format_still_loads_and_takes_every_field() -> None:
    catalogue = FormCatalogue.model_validate(
        {"version": "1", "forms": {"old": {"kind": "download", "consent_wording_version": "d1"}}}
    )
    form = catalogue.forms["old"]
    assert form.fields is None
    assert form.takes_field("company")
    assert form.takes_consent("post")
    assert form.problems({"email": ""}) == []  # FormSubmission's own rules apply


def test_fields_get_their_type_and_the_model_limit_by_default() -> None:
    form = _form(fields=[EMAIL, {"name": "message", "label": "Say"}, {"name": "phone", "label": "Tel"}])
    assert [(f.name, f.type, f.limit) for f in form.fields or ()] == [
        ("email", "email", 254),
        ("message", "textarea", 5000),
        ("phone", "tel", 40),
    ]


def test_problems_name_required_and_too_long_fields_in_form_order() -> None:
    form = _form(fields=[EMAIL, {"name": "first_name", "label": "Name", "required": True, "max_length": 5}])
    assert [(p.field, p.code) for p in form.problems({"email": " ", "first_name": "Annabelle"})] == [
        ("email", "missing_field"),
        ("first_name", "too_long"),
    ]
    assert form.problems({"email": "a@b.co", "first_name": "Ann"}) == []


def test_a_post_keeps_only_the_fields_and_consent_boxes_the_form_shows_with_their_versions() -> None:
    form = _form(
        fields=[EMAIL, {"name": "first_name", "label": "Name"}],
        consent=[
            {"channel": "email", "wording": "News by email", "version": "mail-v3"},
            {"channel": "sms", "wording": "Texts", "version": "sms-v2"},
        ],
        double_opt_in=True,
    )
    submission = FormSubmission.model_validate(
        {
            "email": "ann@example.com",
            "first_name": "Ann",
            "company": "Not asked",
            "consent_email": "on",
            "consent_sms": "on",
            "consent_post": "on",
        }
    )
    interaction = from_form("f", form, submission, NOW)
    assert interaction.profile == {"email": "ann@example.com", "first_name": "Ann"}
    assert [(c.channel, c.status, c.wording_version) for c in interaction.consent] == [
        ("email", "pending", "mail-v3"),
        ("sms", "granted", "sms-v2"),
    ]


def test_pages_speak_the_form_language_and_escape_what_they_show() -> None:
    page = form_error_page("fr", "missing_field", ["email"], "https://shop.example/a?b=<x>")
    assert "<html lang=fr>" in page
    assert "Retour au formulaire" in page
    assert "Un champ obligatoire" in page
    assert "<x>" not in page
    assert "&lt;x&gt;" in page
    assert texts("de").thanks == texts("en").thanks  # no German words: English
    assert "check your inbox" in thank_you_page("en", True, None).lower()
    assert "inbox" not in thank_you_page("en", False, None)
    assert "Back button" in form_error_page("en", "invalid_email", [], None)  # no known page: say how


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def test_the_embed_code_labels_every_input_and_hides_the_honeypot_from_people() -> None:
    form = load_forms().forms["contact"]
    code = embed_code("contact", form, "https://api.example/v1/forms/contact")
    parser = _Elements()
    parser.feed(code)
    inputs = [a for t, a in parser.found if t in {"input", "textarea"}]
    labels = {a.get("for") for t, a in parser.found if t == "label"}
    assert all(a["id"] in labels for a in inputs)  # every input has a <label for>
    names = [a["name"] for a in inputs]
    assert names[:7] == ["email", "first_name", "last_name", "phone", "company", "job_title", "message"]
    assert {"consent_email", "consent_sms", "consent_phone"} <= set(names)
    assert not any("checked" in a for a in inputs)  # consent is never ticked in advance
    [honeypot] = [a for a in inputs if a["name"] == "website"]
    assert honeypot["tabindex"] == "-1"
    assert honeypot["autocomplete"] == "off"
    [wrapper] = [a for t, a in parser.found if t == "div" and a.get("aria-hidden") == "true"]
    assert "left:-10000px" in (wrapper["style"] or "")
    assert "display:none" not in (wrapper["style"] or "")
    [form_tag] = [a for t, a in parser.found if t == "form"]
    assert form_tag["action"] == "https://api.example/v1/forms/contact"
    assert form_tag["method"] == "post"
    assert "<script" not in code  # works without JavaScript
    enhanced = embed_code("contact", form, "https://api.example/v1/forms/contact", script=True)
    assert "fetch(" in enhanced
    assert "</script>" in enhanced
    assert enhanced.count("</script>") == 1  # the words inside cannot close the script early


def test_navigations_get_pages_and_fetch_gets_json() -> None:
    chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
    assert wants_html({"accept": chromium})
    assert wants_html({"sec-fetch-mode": "navigate", "accept": "*/*"})
    assert not wants_html({"sec-fetch-mode": "cors", "accept": chromium})
    assert not wants_html({"accept": "*/*"})
    assert not wants_html({})
    assert not wants_html({"accept": "application/json, text/html;q=0.5"})


def test_the_origin_is_the_origin_header_else_the_referer() -> None:
    assert (
        origin_of({"origin": "https://shop.example", "referer": "https://x.example/"})
        == "https://shop.example"
    )
    assert origin_of({"referer": "https://Shop.example:8443/sign-up?a=1"}) == "https://shop.example:8443"
    assert origin_of({"referer": "not a url"}) == "null"
    assert origin_of({}) is None


def test_a_form_with_an_error_page_sends_navigations_there_with_the_codes() -> None:
    form = _form(error_redirect="https://localhost/form-error?src=ad")
    refused = FormRefusedError(422, "missing_field", "email: required", ("email",))
    navigation = {"sec-fetch-mode": "navigate", "origin": "http://localhost:8080"}
    answer = refusal(refused, "f", form, navigation)
    assert answer.status_code == 303
    assert answer.headers["Location"] == (
        "https://localhost/form-error?src=ad&error=missing_field&form=f&field=email"
    )
    json_answer = refusal(refused, "f", form, {"accept": "*/*"})
    assert json_answer.status_code == 422
    assert json_answer.body == {"code": "missing_field", "message": "email: required", "fields": ["email"]}
    # A refused origin never goes to the form's pages: the visitor sees why, here.
    foreign = refusal(FormRefusedError(403, "origin_not_allowed", "no"), "f", form, navigation)
    assert foreign.status_code == 403
