"""Forms as data: what each form asks for, how it asks for consent, its language and where it sends people.

A deployment's catalogue (``settings.forms_file``, YAML) is validated by :class:`FormCatalogue` when it is
loaded; the public form route, the readable pages and the embed snippet are all built from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal, NamedTuple, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.events import Channel

DEFAULT_FORMS_FILE = Path(__file__).with_name("forms.yaml")

FieldName = Literal["email", "first_name", "last_name", "phone", "company", "job_title", "message"]
FieldType = Literal["email", "text", "tel", "textarea"]
# The most a field may hold: a form may ask for less, never more (the limits of FormSubmission).
FIELD_LIMITS: dict[str, int] = {
    "email": 254,
    "first_name": 100,
    "last_name": 100,
    "phone": 40,
    "company": 200,
    "job_title": 200,
    "message": 5000,
}
# The input type a field gets when the catalogue names none.
DEFAULT_TYPES: dict[str, FieldType] = {"email": "email", "phone": "tel", "message": "textarea"}
# What an HTML form's fields are called for autofill (HTML's autocomplete tokens).
AUTOCOMPLETE: dict[str, str] = {
    "email": "email",
    "first_name": "given-name",
    "last_name": "family-name",
    "phone": "tel",
    "company": "organization",
    "job_title": "organization-title",
}


class FieldProblem(NamedTuple):
    field: str
    code: str  # missing_field, too_long
    message: str


class FormField(BaseModel):
    """One input of a form: which profile field it fills, its label, whether it is required."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on the first form post (cold start)

    name: FieldName
    label: str = Field(min_length=1, max_length=200)
    type: FieldType | None = None
    required: bool = False
    max_length: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _within_limits(self) -> Self:
        limit = FIELD_LIMITS[self.name]
        if self.max_length is None:
            self.max_length = limit
        elif self.max_length > limit:
            raise ValueError(f"{self.name}: max_length is at most {limit}")
        if self.type is None:
            self.type = DEFAULT_TYPES.get(self.name, "text")
        return self

    @property
    def limit(self) -> int:
        return self.max_length or FIELD_LIMITS[self.name]


class ConsentCheckbox(BaseModel):
    """A consent checkbox: the channel it grants, the exact words shown, and their version (stored with
    the consent, so what the person agreed to can be shown later). Never ticked in advance."""

    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on the first form post (cold start)

    channel: Channel
    wording: str = Field(min_length=1, max_length=1000)
    version: str = Field(min_length=1, max_length=100)


class FormDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on the first form post (cold start)

    kind: Literal["signup", "contact_request", "download"]
    double_opt_in: bool = True
    consent_wording_version: str
    consent_channels_default: list[Channel] = Field(default_factory=list)
    # Unset: every field of FormSubmission is taken (the catalogue's first format).
    fields: list[FormField] | None = None
    # Unset: any consent_<channel> box counts, with consent_wording_version.
    consent: list[ConsentCheckbox] | None = None
    language: str = Field(default="en", pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$")
    title: str | None = Field(default=None, max_length=200)
    submit_label: str | None = Field(default=None, max_length=100)
    # Where people go after a post: the thank-you page (a form's `redirect` field wins) and, for a refused
    # post, the page that shows the error (codes in its query). Hosts must be allow-listed.
    redirect: str | None = Field(default=None, max_length=2000)
    error_redirect: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.fields is not None:
            names = [f.name for f in self.fields]
            if len(set(names)) != len(names):
                raise ValueError("fields: each field appears once")
            email = next((f for f in self.fields if f.name == "email"), None)
            if email is None or not email.required:
                raise ValueError("fields: a form has a required email field")
        if self.consent is not None:
            channels = [c.channel for c in self.consent]
            if len(set(channels)) != len(channels):
                raise ValueError("consent: one checkbox per channel")
        return self

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields or () if f.name == name), None)

    def takes_field(self, name: str) -> bool:
        return self.fields is None or self.field(name) is not None

    def wording_version(self, channel: Channel) -> str:
        """The version of the words a person agreed to for ``channel`` on this form."""
        box = next((c for c in self.consent or () if c.channel == channel), None)
        return box.version if box else self.consent_wording_version

    def takes_consent(self, channel: Channel) -> bool:
        return self.consent is None or any(c.channel == channel for c in self.consent)

    def problems(self, values: Mapping[str, object]) -> list[FieldProblem]:
        """What breaks this form's rules in a post's ``values`` (a required field left empty, a value
        longer than the form allows), in the form's field order."""
        found: list[FieldProblem] = []
        for field in self.fields or ():
            value = values.get(field.name)
            text = value if isinstance(value, str) else ""
            if field.required and not text.strip():
                found.append(FieldProblem(field.name, "missing_field", f"{field.name}: required"))
            elif len(text) > field.limit:
                found.append(
                    FieldProblem(field.name, "too_long", f"{field.name}: at most {field.limit} characters")
                )
        return found

    @property
    def base_language(self) -> str:
        return self.language.split("-", 1)[0]


class FormCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # built on the first form post (cold start)

    version: str
    forms: dict[str, FormDefinition]


@lru_cache(maxsize=1)
def load_forms(path: str | None = None) -> FormCatalogue:
    """The forms catalogue at ``path`` (``settings.forms_file``), or the one shipped with the code."""
    import yaml  # here, not at module level: only a form post needs it (off the tracking cold start)

    source = Path(path or DEFAULT_FORMS_FILE)
    # libyaml's safe loader when the wheel has it (PyYAML's binary wheels do): what yaml.safe_load does,
    # several times faster, on the first form post of every cold start.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return FormCatalogue.model_validate(yaml.load(source.read_text(), Loader=loader))
