"""What the campaign rules know about one customer: profile, consent, aggregates and scores.

:class:`CustomerView` is built by the caller from the Customers and Scores items (their attribute names
are used as-is, unknown keys are ignored), so ``CustomerView.model_validate({**customer, **scores})``
is enough. Timestamps may be ISO strings with or without an offset: naive ones are taken as UTC.
``purchase_days`` (the set of ``YYYY-MM-DD`` purchase days kept on the customer) gives
``first_purchase_at`` / ``last_purchase_at`` when those are not given.

Audience conditions in the catalogue address the fields listed in :data:`AUDIENCE_FIELDS` (plus
``traits.<key>`` for free-form profile traits); :meth:`CustomerView.field_value` resolves them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

ConsentStatus = Literal["granted", "pending", "revoked"]
FieldKind = Literal["number", "string", "bool"]

_SECONDS_PER_DAY: Final[float] = 86_400.0


def to_utc(value: Any) -> Any:
    """Parse an ISO timestamp or date (naive means UTC) into an aware UTC datetime; other values pass."""
    if isinstance(value, str):
        text = value.strip()
        value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(to_utc)]
"""A datetime that is always timezone-aware and in UTC after validation."""


class ConsentState(BaseModel):
    """Consent for one channel (extra keys such as ``source``, ``wording_version`` are ignored).

    ``at``: when the state was entered (for ``pending``: when the confirmation was requested).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: ConsentStatus
    at: UtcDatetime | None = None


class CustomerView(BaseModel):
    """A read-only snapshot of one customer for the campaign rules."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    customer_id: str
    # Profile
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    job_title: str | None = None
    timezone: str | None = None
    traits: dict[str, Any] = Field(default_factory=dict)
    consent: dict[str, ConsentState] = Field(default_factory=dict)
    # Email suppression (shared.dal.suppression): the address it names and why.
    email_suppressed_address: str | None = None
    email_suppressed_reason: str | None = None
    # Aggregates
    created_at: UtcDatetime | None = None
    first_seen_at: UtcDatetime | None = None
    last_seen_at: UtcDatetime | None = None
    first_purchase_at: UtcDatetime | None = None
    last_purchase_at: UtcDatetime | None = None
    purchase_count: int = 0
    total_spent: float = 0.0
    interaction_count: int = 0
    # Scores
    is_customer: bool | None = None
    segment: str | None = None
    recency_score: int | None = None
    frequency_score: int | None = None
    monetary_score: int | None = None
    lead_score: float | None = None
    stage: str | None = None
    clv: float | None = None
    p_alive: float | None = None
    churn_risk: float | None = None
    expected_purchases: float | None = None
    expected_order_value: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = {k: v for k, v in data.items() if v is not None}
        days = data.pop("purchase_days", None)
        if days:
            ordered = sorted(str(d)[:10] for d in _as_iterable(days))
            data.setdefault("first_purchase_at", ordered[0])
            data.setdefault("last_purchase_at", ordered[-1])
            data.setdefault("purchase_count", len(ordered))
        return data

    @property
    def has_purchased(self) -> bool:
        """True when the customer bought at least once (``is_customer`` from scoring wins when set)."""
        if self.is_customer is not None:
            return self.is_customer
        return self.purchase_count > 0 or self.last_purchase_at is not None

    def consent_status(self, channel: str) -> ConsentStatus | None:
        state = self.consent.get(channel)
        return state.status if state is not None else None

    def field_value(self, name: str, now: datetime) -> Any:
        """The value an audience condition sees for ``name`` (None when unknown or not set)."""
        if name.startswith("traits."):
            return self.traits.get(name.removeprefix("traits."))
        derived = _DERIVED_DAYS.get(name)
        if derived is not None:
            at: datetime | None = getattr(self, derived)
            if at is None:
                return None
            return (now - at).total_seconds() / _SECONDS_PER_DAY
        if name == "is_customer":
            return self.has_purchased
        if name in AUDIENCE_FIELDS:
            return getattr(self, name)
        return None


def _as_iterable(value: Any) -> Iterable[Any]:
    if isinstance(value, str):
        return [value]
    return list(value)


_DERIVED_DAYS: Final[dict[str, str]] = {
    "days_since_last_purchase": "last_purchase_at",
    "days_since_first_purchase": "first_purchase_at",
    "days_since_last_seen": "last_seen_at",
    "days_since_signup": "created_at",
}

AUDIENCE_FIELDS: Final[dict[str, FieldKind]] = {
    "email": "string",
    "phone": "string",
    "first_name": "string",
    "last_name": "string",
    "company": "string",
    "job_title": "string",
    "timezone": "string",
    "purchase_count": "number",
    "total_spent": "number",
    "interaction_count": "number",
    "is_customer": "bool",
    "segment": "string",
    "recency_score": "number",
    "frequency_score": "number",
    "monetary_score": "number",
    "lead_score": "number",
    "stage": "string",
    "clv": "number",
    "p_alive": "number",
    "churn_risk": "number",
    "expected_purchases": "number",
    "expected_order_value": "number",
    # Derived from timestamps at decision time (fractional days; None when the timestamp is unknown).
    "days_since_last_purchase": "number",
    "days_since_first_purchase": "number",
    "days_since_last_seen": "number",
    "days_since_signup": "number",
}
"""Fields an audience condition may address, with their kind; ``traits.<key>`` is also accepted."""
