"""Inbound payloads: the Segment HTTP API call shapes, and HTML form submissions.

Validation rules (each failure is a 422 naming the field, nothing is stored):
- a call needs ``userId`` or ``anonymousId`` (as the Segment API does); ids are at most 200 characters;
- ``traits`` and ``properties`` are JSON objects of at most :data:`MAX_TRAITS_KEYS` keys and
  :data:`MAX_OBJECT_BYTES` bytes once serialised; ``context`` is kept to what we use (ip, userAgent, page);
  what they hold must fit DynamoDB, where they are stored: no empty keys, at most :data:`MAX_NESTING`
  levels of nesting, Unicode text, finite numbers within DynamoDB's range (at most 38 significant
  digits, magnitude from 1e-130 to below 1e126, or 0); trait names (each one is a document path) hold
  no ``[`` or ``]``;
- ``timestamp`` and ``sentAt`` must be after :data:`EARLIEST_TIMESTAMP` and before :data:`LATEST_TIMESTAMP`
  (a sentAt centuries ahead is no clock skew, and would move the event out of the calendar); a timestamp
  in the future is corrected for the client's clock skew with ``sentAt`` (as Segment does) and then
  clamped to the time of receipt;
- purchases (``Order Completed``) need ``properties.order_id``; ``revenue``/``total`` and product prices
  must be >= 0 and at most :data:`MAX_AMOUNT`, and the currency an ISO 4217 code.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from shared.tracking.currencies import ISO_4217

MAX_TRAITS_KEYS: Final = 100
MAX_OBJECT_BYTES: Final = 16 * 1024
MAX_BATCH_CALLS: Final = 100
# RudderStack's Python SDK sends up to 4 MiB per batch (its BATCH_SIZE_LIMIT); Segment's up to 500 KB.
MAX_BATCH_BYTES: Final = 4 * 1024 * 1024 + 64 * 1024
MAX_CALL_BYTES: Final = 32 * 1024
EARLIEST_TIMESTAMP: Final = datetime(1990, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP: Final = datetime(2100, 1, 1, tzinfo=UTC)
MAX_NESTING: Final = 16
MAX_AMOUNT: Final = 1e15
# DynamoDB's number type (stored as the decimal text of the JSON value).
_LARGEST_NUMBER: Final = Decimal("9.9999999999999999999999999999999999999E+125")
_SMALLEST_NUMBER: Final = Decimal("1E-130")
_MAX_DIGITS: Final = 38

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _number_problem(value: float | Decimal) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    # copy_abs, not abs(): that would round to the decimal context's 28 digits. A Decimal is an integer
    # literal too long for int() (see shared.tracking.wire).
    number = (Decimal(value) if isinstance(value, int | Decimal) else Decimal(repr(value))).copy_abs()
    if number and not _SMALLEST_NUMBER <= number <= _LARGEST_NUMBER:
        return "is out of range: a number is 0 or between 1e-130 and 1e126 in magnitude"
    if len("".join(map(str, number.as_tuple().digits)).strip("0")) > _MAX_DIGITS:
        return f"has more than {_MAX_DIGITS} significant digits"
    return None


def _is_text(value: str) -> bool:
    """False for a lone UTF-16 surrogate (JSON's ``"\\ud800"``): not text, and no store takes it."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _check_contents(value: dict[str, Any], field: str) -> None:
    """No empty keys, at most MAX_NESTING levels, text that is Unicode, numbers DynamoDB can store
    (walked without recursion: the nesting is what is being checked)."""
    pending: list[tuple[Any, str, int]] = [(value, field, 0)]
    while pending:
        item, where, depth = pending.pop()
        if isinstance(item, dict | list) and depth > MAX_NESTING:
            raise ValueError(f"{where}: nested deeper than {MAX_NESTING} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                if not key:
                    raise ValueError(f"{where}: keys must not be empty")
                if not _is_text(key):
                    raise ValueError(f"{where}: a key is not valid Unicode text")
                pending.append((child, f"{where}.{key}", depth + 1))
        elif isinstance(item, list):
            pending.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str):
            if not _is_text(item):
                raise ValueError(f"{where}: not valid Unicode text")
        elif isinstance(item, int | float | Decimal) and not isinstance(item, bool):
            problem = _number_problem(item)
            if problem:
                raise ValueError(f"{where}: {problem}")


def _check_trait_names(traits: dict[str, Any], field: str) -> None:
    """Each trait is updated on its own document path (``traits.<name>``), which brackets would break."""
    for name in traits:
        if "[" in name or "]" in name:
            raise ValueError(f"{field}.{name}: trait names must not contain [ or ]")


def _check_object(value: dict[str, Any] | None, field: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if len(value) > MAX_TRAITS_KEYS:
        raise ValueError(f"{field} has {len(value)} keys; at most {MAX_TRAITS_KEYS} are accepted")
    _check_contents(value, field)
    size = len(json.dumps(value, default=str))
    if size > MAX_OBJECT_BYTES:
        raise ValueError(f"{field} is {size} bytes once serialised; at most {MAX_OBJECT_BYTES} are accepted")
    return value


class _Call(BaseModel):
    # defer_build: a base, never validated itself; its rare kinds (screen, group, alias) are built when a
    # first call of theirs comes. The kinds a site sends on every page (identify, track, page) are built
    # at import (defer_build=False), not on the first request.
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True
    )

    message_id: Id | None = None
    user_id: Id | None = None
    anonymous_id: Id | None = None
    timestamp: datetime | None = None
    sent_at: datetime | None = None
    context: dict[str, Any] | None = None

    @field_validator("timestamp", "sent_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value < EARLIEST_TIMESTAMP:
            raise ValueError(f"must be after {EARLIEST_TIMESTAMP.date().isoformat()}")
        if value >= LATEST_TIMESTAMP:
            raise ValueError(f"must be before {LATEST_TIMESTAMP.date().isoformat()}")
        return value.astimezone(UTC)

    @field_validator("context")
    @classmethod
    def _context_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and isinstance(value.get("traits"), dict):
            _check_trait_names(value["traits"], "context.traits")
        return _check_object(value, "context")

    @model_validator(mode="after")
    def _needs_an_id(self) -> _Call:
        if not self.user_id and not self.anonymous_id:
            raise ValueError("userId or anonymousId is required")
        return self


class IdentifyCall(_Call):
    model_config = ConfigDict(
        defer_build=False,
        json_schema_extra={
            "examples": [{"userId": "u-1001", "traits": {"email": "ann@example.com", "first_name": "Ann"}}]
        },
    )

    type: Literal["identify"] = "identify"
    traits: dict[str, Any] | None = None

    @field_validator("traits")
    @classmethod
    def _traits_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _check_trait_names(value, "traits")
        return _check_object(value, "traits")


class TrackCall(_Call):
    model_config = ConfigDict(
        defer_build=False,
        json_schema_extra={
            "examples": [
                {
                    "userId": "u-1001",
                    "event": "Order Completed",
                    "properties": {"order_id": "o-5001", "total": 42.5, "currency": "EUR"},
                }
            ]
        },
    )

    type: Literal["track"] = "track"
    event: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    properties: dict[str, Any] | None = None

    @field_validator("properties")
    @classmethod
    def _properties_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_object(value, "properties")

    @model_validator(mode="after")
    def _purchase_rules(self) -> TrackCall:
        if self.event == ORDER_COMPLETED:
            try:
                OrderProperties.model_validate(self.properties or {})
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in ("properties", *first["loc"]))
                raise ValueError(f"{where}: {first['msg']}") from None
        return self

    @property
    def order(self) -> OrderProperties:
        return OrderProperties.model_validate(self.properties or {})


class PageCall(_Call):
    model_config = ConfigDict(
        defer_build=False,
        json_schema_extra={"examples": [{"anonymousId": "a-2002", "name": "Pricing", "properties": {}}]},
    )

    type: Literal["page"] = "page"
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    properties: dict[str, Any] | None = None

    @field_validator("properties")
    @classmethod
    def _properties_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_object(value, "properties")


class ScreenCall(_Call):
    """A screen view in a mobile app: stored as a page view."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"userId": "u-1001", "name": "Basket", "properties": {}}]}
    )

    type: Literal["screen"] = "screen"
    name: Annotated[str, StringConstraints(max_length=200)] | None = None
    properties: dict[str, Any] | None = None

    @field_validator("properties")
    @classmethod
    def _properties_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _check_object(value, "properties")


class GroupCall(_Call):
    """The person's account or company: ``traits.name`` is the profile's company, the other traits are
    kept on the person as ``company_<trait>`` (usable in audience filters as ``traits.company_<trait>``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"userId": "u-1001", "groupId": "acme", "traits": {"name": "Acme", "employees": 120}}
            ]
        }
    )

    type: Literal["group"] = "group"
    group_id: Id
    traits: dict[str, Any] | None = None

    @field_validator("traits")
    @classmethod
    def _traits_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            _check_trait_names(value, "traits")
        return _check_object(value, "traits")


class AliasCall(_Call):
    """``previousId`` (an anonymous id or an earlier user id) is the same person as ``userId``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"previousId": "a-2002", "userId": "u-1001"}]})

    type: Literal["alias"] = "alias"
    previous_id: Id
    user_id: Id


SegmentCall = Annotated[
    IdentifyCall | TrackCall | PageCall | ScreenCall | GroupCall | AliasCall, Field(discriminator="type")
]
AnyCall = IdentifyCall | TrackCall | PageCall | ScreenCall | GroupCall | AliasCall
CALL_MODELS: Final[dict[str, type[_Call]]] = {
    "identify": IdentifyCall,
    "track": TrackCall,
    "page": PageCall,
    "screen": ScreenCall,
    "group": GroupCall,
    "alias": AliasCall,
}


class BatchRequest(BaseModel):
    """The batch envelope, for the API document: each call is validated on its own (see
    :func:`validate_call`), and the envelope's ``context`` applies to calls without one. No request
    is validated with it (each call is, on its own): built on first use."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    batch: list[SegmentCall] = Field(min_length=1, max_length=MAX_BATCH_CALLS)
    context: dict[str, Any] | None = None
    write_key: str | None = Field(default=None, alias="writeKey")
    sent_at: datetime | None = Field(default=None, alias="sentAt")


@dataclass(frozen=True)
class CallProblem:
    """Why a call was refused: a stable machine-readable ``code`` and a message naming the field."""

    code: str
    message: str


def _problem_of(exc: ValidationError) -> CallProblem:
    problems = exc.errors(include_url=False)
    message = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'call'}: {e['msg'].removeprefix('Value error, ')}"
        for e in problems
    )
    return CallProblem("invalid_call", message)


def validate_call(
    raw: Any, call_type: str | None = None, max_bytes: int | None = None
) -> AnyCall | CallProblem:
    """One Segment call, or why it is refused. ``call_type`` is the route's type (``/v1/track``); in a
    batch each call names its own ``type`` and may be at most ``max_bytes`` of JSON."""
    if not isinstance(raw, dict):
        return CallProblem("invalid_call", "a call must be a JSON object")
    if max_bytes is not None:
        size = len(json.dumps(raw, separators=(",", ":"), default=str).encode())
        if size > max_bytes:
            return CallProblem(
                "call_too_large", f"the call is {size} bytes; at most {max_bytes} are accepted"
            )
    kind = call_type or raw.get("type")
    model = CALL_MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        return CallProblem(
            "unknown_type", f"type: {kind!r} is not a call type; use one of {', '.join(CALL_MODELS)}"
        )
    try:
        call = model.model_validate(raw if call_type is None else {**raw, "type": call_type})
    except ValidationError as exc:
        return _problem_of(exc)
    return call  # type: ignore[return-value]


ORDER_COMPLETED: Final = "Order Completed"
NonNegative = Annotated[float, Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)]


class Product(BaseModel):
    model_config = ConfigDict(extra="ignore")

    product_id: Id | None = None
    sku: Id | None = None
    name: Annotated[str, StringConstraints(max_length=300)] | None = None
    category: Annotated[str, StringConstraints(max_length=200)] | None = None
    price: NonNegative | None = None
    quantity: Annotated[int, Field(ge=0, le=100_000)] = 1

    @property
    def key(self) -> str | None:
        return self.product_id or self.sku


class OrderProperties(BaseModel):
    """Segment e-commerce spec, ``Order Completed``."""

    model_config = ConfigDict(extra="ignore")

    order_id: Id
    total: NonNegative | None = None
    revenue: NonNegative | None = None
    currency: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True)] = "USD"
    products: Annotated[list[Product], Field(max_length=500)] = Field(default_factory=list)

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if value not in ISO_4217:
            raise ValueError(f"unknown currency {value!r}: use an ISO 4217 code such as USD or EUR")
        return value

    @property
    def amount(self) -> float:
        """What the order brought: ``total`` if given, else ``revenue``, else the sum of the products."""
        if self.total is not None:
            return self.total
        if self.revenue is not None:
            return self.revenue
        return sum((p.price or 0.0) * p.quantity for p in self.products)


class FormSubmission(BaseModel):
    """An HTML form post (``application/x-www-form-urlencoded``, ``multipart/form-data`` without files) or
    its JSON equivalent. A form's own rules (fields, lengths, consent boxes) are in its definition.

    Checkbox values "on", "yes", "true" and "1" count as ticked. ``website`` is the honeypot: a field
    hidden from people; bots fill it in.
    """

    model_config = ConfigDict(
        extra="ignore",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"email": "ann@example.com", "first_name": "Ann", "consent_email": True}]
        },
    )

    email: Annotated[str, StringConstraints(min_length=3, max_length=254)]
    first_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    last_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = None
    company: Annotated[str, StringConstraints(max_length=200)] | None = None
    job_title: Annotated[str, StringConstraints(max_length=200)] | None = None
    message: Annotated[str, StringConstraints(max_length=5000)] | None = None
    consent_email: bool = False
    consent_sms: bool = False
    consent_phone: bool = False
    consent_post: bool = False
    anonymous_id: Id | None = None
    redirect: Annotated[str, StringConstraints(max_length=2000)] | None = None
    website: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @field_validator("consent_email", "consent_sms", "consent_phone", "consent_post", mode="before")
    @classmethod
    def _checkbox(cls, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"on", "yes", "true", "1"}

    @field_validator(
        "first_name", "last_name", "phone", "company", "job_title", "message", "redirect", "website"
    )
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None
