"""Form definitions (which kind of interaction a form records and how it asks for consent)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import Channel

DEFAULT_FORMS_FILE = Path(__file__).with_name("forms.yaml")


class FormDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["signup", "contact_request", "download"]
    double_opt_in: bool = True
    consent_wording_version: str
    consent_channels_default: list[Channel] = Field(default_factory=list)


class FormCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    forms: dict[str, FormDefinition]


@lru_cache(maxsize=1)
def load_forms(path: str | None = None) -> FormCatalogue:
    """The forms catalogue at ``path`` (``settings.forms_file``), or the one shipped with the code."""
    import yaml  # here, not at module level: only a form post needs it (off the tracking cold start)

    source = Path(path or DEFAULT_FORMS_FILE)
    return FormCatalogue.model_validate(yaml.safe_load(source.read_text()))
