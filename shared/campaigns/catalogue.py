"""The campaign catalogue: campaigns are data (a versioned YAML file), validated by these models.

A campaign says *when* it fires (``trigger``), *who* may receive it (``audience`` conditions on profile
and score fields, and ``consent_required``), *how* (``channel``, ``template``) and the guard rails
(``cooldown_days``, ``holdout_percent``, ``quiet_hours``). The catalogue adds the global
``frequency_cap`` and the default quiet hours. :func:`load_catalogue` reads the packaged
``catalogue.yaml`` by default; any validation problem raises :class:`CatalogueError`, whose message
names the campaign (by id) and the field, e.g. ``campaigns[win-back].holdout_percent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.campaigns.customer import AUDIENCE_FIELDS
from shared.events import Channel
from shared.scoring.segment_names import SEGMENTS

CampaignChannel = Literal["email", "sms", "webhook"]
Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "exists"]

"""The RFM segment names produced by scoring; segment triggers are validated against them."""

DEFAULT_CATALOGUE: Final[str] = "catalogue.yaml"
_ID_PATTERN: Final[str] = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- triggers ---------------------------------------------------------------------------------------


class InteractionTrigger(_Model):
    """An ``InteractionTracked`` event of ``kind`` (and ``name`` when set), acted on ``delay_days`` later."""

    type: Literal["interaction"]
    kind: str = Field(min_length=1)
    name: str | None = None
    delay_days: int = Field(default=0, ge=0, le=365)


class SegmentEntryTrigger(_Model):
    """A ``SegmentChanged`` event into one of ``segments`` (from one of ``from_segments`` when set)."""

    type: Literal["segment_entry"]
    segments: list[str] = Field(min_length=1)
    from_segments: list[str] | None = None

    @field_validator("segments", "from_segments")
    @classmethod
    def _known_segments(cls, value: list[str] | None) -> list[str] | None:
        unknown = [s for s in value or [] if s not in SEGMENTS]
        if unknown:
            raise ValueError(f"unknown segment(s) {unknown}; expected one of {list(SEGMENTS)}")
        return value


class ScoreThresholdTrigger(_Model):
    """A ``LeadQualified`` event into one of ``stages`` (optionally with a minimum lead score)."""

    type: Literal["score_threshold"]
    event: Literal["LeadQualified"] = "LeadQualified"
    stages: list[str] = Field(min_length=1)
    min_lead_score: float | None = None


class InactivityTrigger(_Model):
    """Found by the scheduled sweep: no purchase and/or no interaction for that many days.

    When both thresholds are set, both must be exceeded. A customer who never bought is measured from
    sign-up (``created_at``, else ``first_seen_at``), unless ``only_customers`` excludes them.
    """

    type: Literal["inactivity"]
    days_without_purchase: int | None = Field(default=None, ge=1)
    days_without_interaction: int | None = Field(default=None, ge=1)
    only_customers: bool = False

    @model_validator(mode="after")
    def _one_threshold(self) -> InactivityTrigger:
        if self.days_without_purchase is None and self.days_without_interaction is None:
            raise ValueError("set days_without_purchase and/or days_without_interaction")
        return self


class DateTrigger(_Model):
    """Found by the scheduled sweep: the yearly anniversary of the first purchase or of the sign-up.

    ``grace_days`` lets a sweep that missed a day (outage) still catch the anniversary; the trigger id
    carries the year, so it fires at most once a year.
    """

    type: Literal["date"]
    anniversary_of: Literal["first_purchase", "signup"]
    grace_days: int = Field(default=3, ge=0, le=31)


Trigger = Annotated[
    InteractionTrigger | SegmentEntryTrigger | ScoreThresholdTrigger | InactivityTrigger | DateTrigger,
    Field(discriminator="type"),
]


# --- audience, timing -------------------------------------------------------------------------------


class Condition(_Model):
    """One audience condition: ``field op value``. All conditions of a campaign must hold.

    ``exists`` takes an optional boolean value (default true: the field is set). ``in`` takes a list.
    Ordering operators need a number field and a number value. A field that is not set fails every
    operator except ``ne``, ``exists: false`` and ``eq: null``.
    """

    field: str
    op: Operator
    value: Any = None

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value.startswith("traits.") and len(value) > len("traits."):
            return value
        if value not in AUDIENCE_FIELDS:
            known = ", ".join(sorted(AUDIENCE_FIELDS))
            raise ValueError(f"unknown field {value!r}; expected one of {known} or traits.<key>")
        return value

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        kind = AUDIENCE_FIELDS.get(self.field)
        if self.op in ("gt", "gte", "lt", "lte"):
            if kind not in (None, "number"):
                raise ValueError(f"operator {self.op!r} needs a number field, {self.field!r} is a {kind}")
            if isinstance(self.value, bool) or not isinstance(self.value, int | float):
                raise ValueError(f"operator {self.op!r} needs a number value")
        elif self.op == "in":
            if not isinstance(self.value, list) or not self.value:
                raise ValueError("operator 'in' needs a non-empty list value")
        elif self.op == "exists" and self.value is not None and not isinstance(self.value, bool):
            raise ValueError("operator 'exists' takes true, false or no value")
        return self


# Quiet hours longer than this leave too little of the day to send in (a daylight-saving change can close it).
MAX_QUIET_HOURS: Final = 20


class QuietHours(_Model):
    """No customer-facing message between ``start`` and ``end`` in the customer's local time.

    The window may wrap over midnight (21:00-08:00). ``enabled: false`` turns quiet hours off (e.g. for
    a webhook to a CRM); ``start == end`` is rejected as ambiguous.
    """

    enabled: bool = True
    start: time = time(21, 0)
    end: time = time(8, 0)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        # Unquoted 21:00 is a base-60 integer in YAML 1.1; pydantic would read it as seconds.
        if not isinstance(value, str | time):
            raise ValueError('expected a quoted "HH:MM" time')
        return value

    @field_validator("start", "end")
    @classmethod
    def _wall_clock(cls, value: time) -> time:
        return value.replace(fold=0)  # a time on the wall clock: the zone decides, on each day, what it is

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if not self.enabled:
            return self
        if self.start == self.end:
            raise ValueError("start and end must differ (use enabled: false to turn quiet hours off)")
        minutes = (self.end.hour * 60 + self.end.minute - self.start.hour * 60 - self.start.minute) % 1440
        if minutes > MAX_QUIET_HOURS * 60:
            # Longer windows leave a gap that a daylight-saving change can close: no time left to send.
            raise ValueError(f"quiet hours may last at most {MAX_QUIET_HOURS} hours a day")
        return self


def _customer_facing() -> list[CampaignChannel]:
    return ["email", "sms"]


class FrequencyCap(_Model):
    """At most ``max_messages`` sent in any ``per_days`` window, across campaigns on ``channels``."""

    max_messages: int = Field(default=3, ge=1)
    per_days: int = Field(default=7, ge=1)
    channels: list[CampaignChannel] = Field(default_factory=_customer_facing)


# --- campaign, catalogue ----------------------------------------------------------------------------


class Campaign(_Model):
    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1)
    description: str = ""
    enabled: bool = True
    trigger: Trigger
    audience: list[Condition] = Field(default_factory=list)
    channel: CampaignChannel
    template: str = Field(min_length=1)
    consent_required: Channel | None
    cooldown_days: int = Field(default=0, ge=0)
    holdout_percent: float = Field(default=0.0, ge=0.0, le=50.0)
    attribution_window_days: int = Field(default=30, ge=1, le=365)
    recommend_products: bool = False
    # What converts a decision in the campaign report: a purchase, or a click in the campaign's email.
    conversion: Literal["purchase", "email_click"] = "purchase"
    quiet_hours: QuietHours | None = None
    # Interaction triggers older than this when they arrive are recorded as skipped/stale (None: the
    # catalogue default).
    max_trigger_age_days: int | None = Field(default=None, ge=1, le=3650)

    @model_validator(mode="after")
    def _marketing_needs_consent(self) -> Campaign:
        if self.channel in ("email", "sms") and self.consent_required is None:
            raise ValueError(f"a {self.channel} campaign must set consent_required (e.g. {self.channel!r})")
        return self


# --- journeys (multi-step nurture) -------------------------------------------------------------------


class EventSignal(_Model):
    """Something the person did since entering the journey: a purchase, or a click in a journey email."""

    type: Literal["event"]
    event: Literal["purchase", "email_click"]


class SegmentSignal(_Model):
    """The person's RFM segment (from scoring) is now one of ``segments``."""

    type: Literal["segment"]
    segments: list[str] = Field(min_length=1)

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in SEGMENTS]
        if unknown:
            raise ValueError(f"unknown segment(s) {unknown}; expected one of {list(SEGMENTS)}")
        return value


class StageSignal(_Model):
    """The person's lead stage (from scoring) is now one of ``stages`` (e.g. qualified for sales)."""

    type: Literal["stage"]
    stages: list[str] = Field(min_length=1)


class AudienceSignal(_Model):
    """Every audience condition holds on the profile now."""

    type: Literal["audience"]
    conditions: list[Condition] = Field(min_length=1)


Signal = Annotated[EventSignal | SegmentSignal | StageSignal | AudienceSignal, Field(discriminator="type")]

# Where a branch goes: a later step's id, "next" (the following step) or "exit" (leave the journey).
_TARGET_PATTERN: Final[str] = r"^(next|exit|[a-z0-9][a-z0-9_-]{0,47})$"
_STEP_ID_PATTERN: Final[str] = r"^[a-z0-9][a-z0-9_-]{0,47}$"


class SendStep(_Model):
    """Send one message, judged like a single campaign at the moment of sending (audience, consent,
    suppression, frequency cap, quiet hours). ``channel``/``consent_required`` default to the journey's."""

    type: Literal["send"]
    id: str = Field(pattern=_STEP_ID_PATTERN)
    template: str = Field(min_length=1)
    channel: CampaignChannel | None = None
    consent_required: Channel | None = None
    quiet_hours: QuietHours | None = None
    recommend_products: bool = False
    # An operational message (the hand-over to sales) that the hold-out gets too: not what is measured.
    also_held_out: bool = False


class WaitStep(_Model):
    """Wait ``days`` (and/or ``hours``); or, with ``until``, until that signal holds, at most
    ``timeout_days`` (the journey then goes on: a branch after the wait says what happened)."""

    type: Literal["wait"]
    id: str = Field(pattern=_STEP_ID_PATTERN)
    days: int = Field(default=0, ge=0, le=365)
    hours: int = Field(default=0, ge=0, le=24 * 365)
    until: Signal | None = None
    timeout_days: int | None = Field(default=None, ge=1, le=365)

    @model_validator(mode="after")
    def _duration_or_until(self) -> WaitStep:
        if self.until is None and self.timeout_days is not None:
            raise ValueError("timeout_days needs until (a wait for a signal)")
        if self.until is not None and (self.timeout_days is None or self.days or self.hours):
            raise ValueError("a wait until a signal takes timeout_days (and no days/hours)")
        if self.until is None and not (self.days or self.hours):
            raise ValueError("set days and/or hours, or until with timeout_days")
        return self

    @property
    def duration(self) -> timedelta:
        """How long the wait lasts at most."""
        if self.timeout_days is not None:
            return timedelta(days=self.timeout_days)
        return timedelta(days=self.days, hours=self.hours)


class BranchStep(_Model):
    """Go to ``then`` when the signal holds now, else to ``otherwise`` (a step id, ``next`` or ``exit``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: Literal["branch"]
    id: str = Field(pattern=_STEP_ID_PATTERN)
    if_: Signal = Field(alias="if")
    then: str = Field(default="next", pattern=_TARGET_PATTERN)
    otherwise: str = Field(default="next", pattern=_TARGET_PATTERN)


Step = Annotated[SendStep | WaitStep | BranchStep, Field(discriminator="type")]


class Journey(_Model):
    """A multi-step nurture: entered on ``entry`` (like a campaign's trigger, with an ``audience``), the
    hold-out drawn once at entry, then ``steps`` in order (branches jump forward), and left as soon as the
    ``goal`` is reached (a conversion ends the journey wherever the person is)."""

    id: str = Field(pattern=_ID_PATTERN)
    name: str = Field(min_length=1)
    description: str = ""
    enabled: bool = True
    entry: list[Trigger] = Field(min_length=1)
    audience: list[Condition] = Field(default_factory=list)
    channel: CampaignChannel = "email"
    consent_required: Channel | None = "email"
    holdout_percent: float = Field(default=0.0, ge=0.0, le=50.0)
    goal: EventSignal
    attribution_window_days: int = Field(default=30, ge=1, le=365)
    max_trigger_age_days: int | None = Field(default=None, ge=1, le=3650)
    steps: list[Step] = Field(min_length=1)

    @field_validator("entry")
    @classmethod
    def _entered_now(cls, value: list[Any]) -> list[Any]:
        for trigger in value:
            if getattr(trigger, "delay_days", 0):
                raise ValueError("an entry trigger takes no delay_days (use a wait step)")
            if isinstance(trigger, InactivityTrigger | DateTrigger):
                raise ValueError(
                    "journeys are entered on events (interaction, segment_entry, score_threshold)"
                )
        return value

    @model_validator(mode="after")
    def _well_formed(self) -> Journey:
        ids = [step.id for step in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate step id(s) in {ids}")
        for index, step in enumerate(self.steps):
            if isinstance(step, BranchStep):
                for target in (step.then, step.otherwise):
                    if target in ("next", "exit"):
                        continue
                    if target not in ids:
                        raise ValueError(f"step {step.id!r} goes to unknown step {target!r}")
                    if ids.index(target) <= index:
                        raise ValueError(f"step {step.id!r} may only go forward, not to {target!r}")
            if isinstance(step, SendStep):
                channel = step.channel or self.channel
                consent = step.consent_required if step.channel else self.consent_required
                if channel in ("email", "sms") and consent is None:
                    raise ValueError(f"step {step.id!r}: a {channel} message must set consent_required")
        return self

    def step_index(self, step_id: str) -> int:
        return next(i for i, step in enumerate(self.steps) if step.id == step_id)


class Catalogue(_Model):
    version: str = Field(min_length=1)
    frequency_cap: FrequencyCap = Field(default_factory=FrequencyCap)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    # Default maximum age on arrival of an interaction trigger (a campaign may override it).
    max_trigger_age_days: int = Field(default=7, ge=1, le=3650)
    campaigns: list[Campaign] = Field(default_factory=list)
    journeys: list[Journey] = Field(default_factory=list)

    @model_validator(mode="after")
    def _ids_unique_across_kinds(self) -> Catalogue:
        # Journeys and campaigns share the Campaigns table (switches) and the decisions' campaign id.
        shared = {c.id for c in self.campaigns} & {j.id for j in self.journeys}
        if shared:
            raise ValueError(f"id(s) used by both a campaign and a journey: {sorted(shared)}")
        return self

    @field_validator("journeys")
    @classmethod
    def _unique_journey_ids(cls, value: list[Journey]) -> list[Journey]:
        ids = [j.id for j in value]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate journey id(s) in {ids}")
        return value

    def journey(self, journey_id: str) -> Journey | None:
        return next((j for j in self.journeys if j.id == journey_id), None)

    @field_validator("campaigns")
    @classmethod
    def _unique_ids(cls, value: list[Campaign]) -> list[Campaign]:
        seen: set[str] = set()
        duplicates: set[str] = set()
        for campaign in value:
            (duplicates if campaign.id in seen else seen).add(campaign.id)
        if duplicates:
            raise ValueError(f"duplicate campaign id(s) {sorted(duplicates)}")
        return value

    def get(self, campaign_id: str) -> Campaign | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)

    def quiet_hours_for(self, campaign: Campaign) -> QuietHours:
        """The campaign's override, else the catalogue default."""
        return campaign.quiet_hours if campaign.quiet_hours is not None else self.quiet_hours

    def max_trigger_age(self, campaign: Campaign) -> timedelta:
        """The campaign's maximum trigger age on arrival, else the catalogue default."""
        days = campaign.max_trigger_age_days
        return timedelta(days=days if days is not None else self.max_trigger_age_days)

    @property
    def lookback_days(self) -> int:
        """How far back a customer's decisions must be loaded for cooldowns and the frequency cap."""
        cooldowns = [c.cooldown_days for c in self.campaigns]
        return max([self.frequency_cap.per_days, *cooldowns])


class CatalogueError(ValueError):
    """The catalogue file is unreadable or invalid; ``problems`` lists ``(location, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {loc}: {msg}" for loc, msg in problems)
        super().__init__(f"invalid campaign catalogue {source}:\n{lines}")


def _location(loc: tuple[int | str, ...], data: Mapping[str, Any]) -> str:
    """``('campaigns', 2, 'trigger', 'segment_entry', 'segments')`` -> ``campaigns[win-back].trigger...``."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = str(item)
            if isinstance(node, list) and 0 <= item < len(node):
                node = node[item]
                if isinstance(node, Mapping) and isinstance(node.get("id"), str):
                    label = node["id"]
            else:
                node = None
            parts.append(f"[{label}]")
        else:
            node = node.get(item) if isinstance(node, Mapping) else None
            parts.append(f".{item}" if parts else item)
    return "".join(parts) or "<root>"


def parse_catalogue(data: Any, source: str = "<data>") -> Catalogue:
    """Validate already-parsed catalogue data (e.g. a dict from YAML or JSON)."""
    if not isinstance(data, Mapping):
        raise CatalogueError(source, [("<root>", "expected a mapping with version and campaigns")])
    try:
        return Catalogue.model_validate(data)
    except ValidationError as exc:
        problems = [(_location(tuple(e["loc"]), data), e["msg"]) for e in exc.errors()]
        raise CatalogueError(source, problems) from exc


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate a catalogue file (YAML or JSON); None: the packaged default catalogue."""
    if path is None:
        return _packaged_catalogue()
    return _parse_file(Path(path).read_text(encoding="utf-8"), str(path))


@cache
def _packaged_catalogue() -> Catalogue:
    """Parsed once per process: the file is part of the code (the models are frozen, so it is shared).
    The campaigns function reads it for every event; parsing its YAML each time was most of its CPU."""
    text = resources.files("shared.campaigns").joinpath(DEFAULT_CATALOGUE).read_text(encoding="utf-8")
    return _parse_file(text, f"shared/campaigns/{DEFAULT_CATALOGUE}")


def _parse_file(text: str, source: str) -> Catalogue:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(source, [("<file>", str(exc))]) from exc
    return parse_catalogue(data, source)
