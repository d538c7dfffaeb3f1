"""The export filter language: ``field op value`` clauses on a customer's scores and profile."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from shared.exporting.rows import CONSENT_CHANNELS

FilterOperator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "exists"]
Scalar = StrictBool | StrictInt | StrictFloat | StrictStr
NUMBER_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "recency_score",
        "frequency_score",
        "monetary_score",
        "lead_score",
        "p_alive",
        "churn_risk",
        "expected_purchases",
        "expected_order_value",
        "clv",
        "total_spent",
    }
)
TEXT_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "company",
        "job_title",
        "timezone",
        "stage",
        "last_purchase_date",
        *(f"consent_{channel}" for channel in CONSENT_CHANNELS),
    }
)
BOOLEAN_FIELDS: Final[frozenset[str]] = frozenset({"reachable_email"})
FILTER_FIELDS: Final[frozenset[str]] = NUMBER_FIELDS | TEXT_FIELDS | BOOLEAN_FIELDS


def _kind(field: str) -> str:
    return "number" if field in NUMBER_FIELDS else "boolean" if field in BOOLEAN_FIELDS else "text"


def _fits(kind: str, value: Any) -> bool:
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)


class FilterClause(BaseModel):
    """``field op value`` on a customer's scores and profile; every clause of a filter must hold.

    Ordering operators (``gt``, ``gte``, ``lt``, ``lte``) compare numbers, or text (ISO dates such as
    ``last_purchase_date`` compare as text). ``in`` takes a non-empty list, ``exists`` true/false (default
    true). Consent fields hold the status (``granted``, ``pending``, ``revoked``). A field that is not set
    fails every operator except ``ne`` and ``exists: false``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(description="A score or profile field, e.g. clv, stage, consent_email")
    op: FilterOperator = "eq"
    value: Scalar | list[Scalar] | None = None

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        if value not in FILTER_FIELDS:
            raise ValueError(f"unknown field {value!r}; expected one of {', '.join(sorted(FILTER_FIELDS))}")
        return value

    @model_validator(mode="after")
    def _value_fits(self) -> FilterClause:
        kind = _kind(self.field)
        if self.op == "exists":
            if self.value is not None and not isinstance(self.value, bool):
                raise ValueError(f"{self.field}: operator 'exists' takes true, false or no value")
        elif self.op == "in":
            if not isinstance(self.value, list) or not 0 < len(self.value) <= 100:
                raise ValueError(f"{self.field}: operator 'in' needs a list of 1 to 100 values")
            if not all(_fits(kind, v) for v in self.value):
                raise ValueError(f"{self.field}: every value of 'in' must be a {kind}")
        elif self.op in ("gt", "gte", "lt", "lte") and kind == "boolean":
            raise ValueError(f"{self.field}: operator {self.op!r} does not apply to a boolean field")
        elif not _fits(kind, self.value):
            raise ValueError(f"{self.field}: operator {self.op!r} needs a {kind} value")
        return self

    def matches(self, record: Mapping[str, Any]) -> bool:
        actual: Any = record.get(self.field)
        if self.op == "exists":
            return (actual is not None) == (self.value is None or self.value is True)
        if actual is None:
            return self.op == "ne"
        value: Any = self.value
        if self.op == "in":
            return bool(actual in value)
        if self.op in ("eq", "ne"):
            return bool(_COMPARE[self.op](actual, value))
        if _kind(self.field) == "number":
            return bool(_COMPARE[self.op](float(actual), float(value)))
        return bool(_COMPARE[self.op](str(actual), str(value)))


_COMPARE: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


class ExportRequest(BaseModel):
    """Body of ``POST /v1/segments/{segment}/exports`` (optional)."""

    model_config = ConfigDict(extra="forbid")

    filter: list[FilterClause] = Field(
        default_factory=list, max_length=20, description="Clauses that must all hold (at most 20)"
    )
