"""What data access hands to services and handlers: pydantic records, never PynamoDB items.

Each record mirrors one PynamoDB model of :mod:`shared.dal.models` (the single source of the table schemas; a
unit test asserts the fields match) with plain Python values: maps are dicts, sets stay sets, numbers are
floats. Items read from DynamoDB are trusted (our own writes), so :func:`record_of` builds records with
``model_construct`` (no per-item validation: the scoring scan converts every customer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from pynamodb.models import Model

R = TypeVar("R", bound=BaseModel)


class _Record(BaseModel):
    # Built from items by model_construct, which needs no validator: a record's validator and serialiser
    # are built the first time one is validated or dumped, not at every cold start of every function.
    model_config = ConfigDict(frozen=True, defer_build=True)


def plain_values(item: Model, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """An item's attributes as plain values (maps as dicts)."""
    values: dict[str, Any] = {}
    for name, value in item.attribute_values.items():
        if name in drop:
            continue
        if hasattr(value, "as_dict"):
            value = value.as_dict()
        values[name] = value
    return values


def record_of(record: type[R], item: Model) -> R:
    """A record of a stored item (trusted: no validation)."""
    return record.model_construct(**plain_values(item))


class CustomerRecord(_Record):
    """A profile as stored (see :class:`shared.dal.models.CustomerModel` for the meaning of each field)."""

    customer_id: str
    email: str | None = None
    user_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    timezone: str | None = None
    company: str | None = None
    job_title: str | None = None
    traits: dict[str, Any] | None = None
    consent_email: dict[str, Any] | None = None
    consent_sms: dict[str, Any] | None = None
    consent_phone: dict[str, Any] | None = None
    consent_post: dict[str, Any] | None = None
    created_at: str | None = None
    merged_into: str | None = None
    first_seen_at: str | None = None
    last_seen_at: str | None = None
    purchase_days: set[str] | None = None
    purchase_count: float | None = None
    total_spent: float | None = None
    first_purchase_day: str | None = None
    first_day_spent: float | None = None
    interaction_count: float | None = None
    cnt_page_view: float | None = None
    cnt_form_post: float | None = None
    cnt_email_click: float | None = None
    cnt_download: float | None = None
    cnt_contact_request: float | None = None
    cnt_other: float | None = None
    eng_page_view: float | None = None
    eng_form_post: float | None = None
    eng_email_click: float | None = None
    eng_download: float | None = None
    eng_contact_request: float | None = None
    eng_other: float | None = None
    aliases: set[str] | None = None
    merged_ids: set[str] | None = None
    last_stream_seq: str | None = None
    email_suppressed_address: str | None = None
    email_suppressed_reason: str | None = None
    email_suppressed_at: str | None = None
    email_suppressed_detail: str | None = None
    email_transient_bounces: float | None = None


class CustomerAggregates(_Record):
    """What a scoring run reads of a customer (a projection of the Customers table)."""

    customer_id: str
    merged_into: str | None = None
    purchase_days: set[str] | None = None
    purchase_count: float | None = None
    total_spent: float | None = None
    first_purchase_day: str | None = None
    first_day_spent: float | None = None
    eng_page_view: float | None = None
    eng_form_post: float | None = None
    eng_email_click: float | None = None
    eng_download: float | None = None
    eng_contact_request: float | None = None
    eng_other: float | None = None
    company: str | None = None
    job_title: str | None = None
    phone: str | None = None


class _ScoreValues(_Record):
    """What a scoring run says of a customer: kept as the latest scores and, per run, in the history."""

    customer_id: str
    run_id: str
    scored_at: str
    segment: str | None = None
    recency_score: float | None = None
    frequency_score: float | None = None
    monetary_score: float | None = None
    lead_score: float | None = None
    stage: str | None = None
    p_alive: float | None = None
    churn_risk: float | None = None
    expected_purchases: float | None = None
    clv: float | None = None


class ScoreRecord(_ScoreValues):
    """A customer's latest scores (see :class:`shared.dal.models.ScoreModel`)."""

    is_customer: bool = False
    previous_segment: str | None = None
    segment_since: str | None = None
    previous_stage: str | None = None
    expected_order_value: float | None = None
    segment_key: str | None = None


class ScoreHistoryRecord(_ScoreValues):
    """A customer's scores as one scoring run left them (see :class:`shared.dal.models.ScoreHistoryModel`)."""

    expires_at: float | None = None


class RunRecord(_Record):
    """A scoring run or an export (see :class:`shared.dal.models.RunModel`)."""

    run_id: str
    kind: str
    status: str
    started_at: str
    finished_at: str | None = None
    progress: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None


class InteractionRecord(_Record):
    """One stored interaction (see :class:`shared.dal.models.InteractionModel`; attributes added there
    later come through as extra fields: the GDPR access export shows everything)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    customer_id: str
    event_key: str
    event_id: str
    kind: str
    name: str | None = None
    occurred_at: str
    received_at: str
    source: str | None = None
    amount: float | None = None
    currency: str | None = None
    order_id: str | None = None
    properties: dict[str, Any] | None = None
    expires_at: float | None = None
    merged_from: str | None = None


class DecisionRecord(_Record):
    """One campaign decision (see :class:`shared.dal.models.DecisionModel`; attributes added there later
    come through as extra fields)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    customer_id: str
    decision_key: str
    campaign_id: str
    trigger_id: str
    decided_at: str
    outcome: str
    catalogue_version: str | None = None
    trigger_occurred_at: str | None = None
    reason: str | None = None
    channel: str | None = None
    send_after: str | None = None
    due_shard: str | None = None


class RejectedCallRecord(_Record):
    """A call the tracking API refused (see :class:`shared.dal.models.RejectedCallModel`)."""

    day: str
    key: str
    received_at: str
    path: str
    source: str
    index: int | None = None
    code: str
    message: str
    call: str
    expires_at: int
