"""PynamoDB models: the key schema of every table lives here.

The CDK stack (``infra/``) and the local stack build their tables from these classes through
:func:`table_specs`, and an infra test asserts that the synthesised tables match them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.connection import TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from shared.dal.session import share_session
from shared.settings import get_settings

_settings = get_settings()


class _Base(Model):
    class Meta:
        abstract = True
        region = _settings.region

    @classmethod
    def _get_connection(cls) -> TableConnection:
        # Every table's client in one botocore session (shared.dal.session): a cold start parses
        # botocore's data files once, not once per table.
        table = super()._get_connection()
        share_session(table.connection)
        return table


class CustomerModel(_Base):
    """A customer (or prospect): profile, consent and aggregates kept up to date by the stream consumer."""

    class Meta(_Base.Meta):
        table_name = _settings.customers_table

    customer_id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    first_name = UnicodeAttribute(null=True)
    last_name = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    timezone = UnicodeAttribute(null=True)
    company = UnicodeAttribute(null=True)
    job_title = UnicodeAttribute(null=True)
    traits = MapAttribute[str, Any](null=True)
    # Consent per channel: {"status": "pending"|"granted"|"revoked", "at", "source", "wording_version"}.
    # One attribute per channel so a change to one channel is a single atomic SET.
    consent_email = MapAttribute[str, Any](null=True)
    consent_sms = MapAttribute[str, Any](null=True)
    consent_phone = MapAttribute[str, Any](null=True)
    consent_post = MapAttribute[str, Any](null=True)
    created_at = UnicodeAttribute(null=True)
    merged_into = UnicodeAttribute(null=True)
    # Aggregates, maintained with atomic ADD/SET from the interactions stream.
    first_seen_at = UnicodeAttribute(null=True)
    last_seen_at = UnicodeAttribute(null=True)
    purchase_days = UnicodeSetAttribute(null=True)
    purchase_count = NumberAttribute(null=True)
    total_spent = NumberAttribute(null=True)
    # The customer's earliest purchase day and that day's spend (Gamma-Gamma averages the *repeat* days):
    # kept exactly once and correct out of order by conditional updates (shared.dal.customers).
    first_purchase_day = UnicodeAttribute(null=True)
    first_day_spent = NumberAttribute(null=True)
    interaction_count = NumberAttribute(null=True)
    # Engagement per kind (see shared.tracking.engagement): a count, and a decay-weighted sum that
    # atomic ADDs can maintain (each event adds 2 ** ((t - epoch) / half_life)).
    cnt_page_view = NumberAttribute(null=True)
    cnt_form_post = NumberAttribute(null=True)
    cnt_email_click = NumberAttribute(null=True)
    cnt_download = NumberAttribute(null=True)
    cnt_contact_request = NumberAttribute(null=True)
    cnt_other = NumberAttribute(null=True)
    eng_page_view = NumberAttribute(null=True)
    eng_form_post = NumberAttribute(null=True)
    eng_email_click = NumberAttribute(null=True)
    eng_download = NumberAttribute(null=True)
    eng_contact_request = NumberAttribute(null=True)
    eng_other = NumberAttribute(null=True)
    # Every alias (email:/user:/anon:) that resolves to this customer, and profiles merged into it:
    # erasure deletes all of them.
    aliases = UnicodeSetAttribute(null=True)
    merged_ids = UnicodeSetAttribute(null=True)
    # Stream sequence number (zero-padded) of the last interaction applied to the aggregates: a retried
    # stream batch is recognised and not counted twice.
    last_stream_seq = UnicodeAttribute(null=True)
    # Email suppression (do-not-contact, shared.dal.suppression): set from SES feedback (a permanent bounce
    # or a complaint) for one address; nothing is sent to that address while it is the one suppressed.
    email_suppressed_address = UnicodeAttribute(null=True)
    email_suppressed_reason = UnicodeAttribute(null=True)  # "hard_bounce" | "complaint"
    email_suppressed_at = UnicodeAttribute(null=True)
    email_suppressed_detail = UnicodeAttribute(null=True)  # bounce sub-type / complaint feedback type
    email_transient_bounces = NumberAttribute(null=True)  # soft bounces counted (never suppress)


class InteractionModel(_Base):
    """One tracked interaction. The range key embeds the event id, so a retried post is a no-op."""

    class Meta(_Base.Meta):
        table_name = _settings.interactions_table

    customer_id = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)
    event_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    occurred_at = UnicodeAttribute()
    received_at = UnicodeAttribute()
    source = UnicodeAttribute(null=True)
    amount = NumberAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    properties = MapAttribute[str, Any](null=True)
    expires_at = NumberAttribute(null=True)  # TTL (epoch seconds)
    # Set on interactions copied from an anonymous profile when it is linked to a known customer.
    merged_from = UnicodeAttribute(null=True)


class IdentitiesByCustomerIndex(GlobalSecondaryIndex["IdentityModel"]):
    """Every alias of one customer: erasure finds them all, also one linked after the profile was read."""

    class Meta:
        index_name = "by-customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)


class IdentityModel(_Base):
    """Alias (``email:…``, ``user:…``, ``anon:…``) -> customer id.

    Also holds the tombstones of erased customer ids (``erased:<digest>``, no personal data): an
    erased id is never given to anyone again (see :mod:`shared.dal.identities`).
    """

    class Meta(_Base.Meta):
        table_name = _settings.identities_table

    alias = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    created_at = UnicodeAttribute()
    by_customer = IdentitiesByCustomerIndex()
    # Entries of the do-not-contact list (``dnc:<keyed hash>``, shared.dal.do_not_contact): why it is listed.
    dnc_reason = UnicodeAttribute(null=True)


class ScoresBySegmentIndex(GlobalSecondaryIndex["ScoreModel"]):
    """A segment's members, page by page (the console's segment sample reads one page, not a scan)."""

    class Meta:
        index_name = "by-segment"
        projection = AllProjection()

    segment_key = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute(range_key=True)


class ScoreModel(_Base):
    """Latest scores of a customer, with the previous segment and stage."""

    class Meta(_Base.Meta):
        table_name = _settings.scores_table

    customer_id = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute()
    scored_at = UnicodeAttribute()
    is_customer = BooleanAttribute(default=False)
    recency_score = NumberAttribute(null=True)
    frequency_score = NumberAttribute(null=True)
    monetary_score = NumberAttribute(null=True)
    segment = UnicodeAttribute(null=True)
    previous_segment = UnicodeAttribute(null=True)
    segment_since = UnicodeAttribute(null=True)
    lead_score = NumberAttribute(null=True)
    stage = UnicodeAttribute(null=True)
    previous_stage = UnicodeAttribute(null=True)
    p_alive = NumberAttribute(null=True)
    churn_risk = NumberAttribute(null=True)
    expected_purchases = NumberAttribute(null=True)
    expected_order_value = NumberAttribute(null=True)
    clv = NumberAttribute(null=True)
    # "<segment or Prospects>#<shard>": the key of the by-segment index (a segment's members read by Query;
    # the shard spreads one big segment's writes over several index partitions, see shared.dal.scores).
    segment_key = UnicodeAttribute(null=True)
    by_segment = ScoresBySegmentIndex()


class RunModel(_Base):
    """A scoring run or an export: status, progress and summary."""

    class Meta(_Base.Meta):
        table_name = _settings.runs_table

    run_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # "scoring" | "export"
    status = UnicodeAttribute()  # "running" | "succeeded" | "failed"
    started_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    progress = MapAttribute[str, Any](null=True)
    summary = MapAttribute[str, Any](null=True)
    error = UnicodeAttribute(null=True)


class CampaignModel(_Base):
    """A campaign of the catalogue (the definition is stored as loaded from the versioned file)."""

    class Meta(_Base.Meta):
        table_name = _settings.campaigns_table

    campaign_id = UnicodeAttribute(hash_key=True)
    catalogue_version = UnicodeAttribute()
    enabled = BooleanAttribute(default=True)
    definition = MapAttribute[str, Any]()
    updated_at = UnicodeAttribute()


class DecisionsByCampaignIndex(GlobalSecondaryIndex["DecisionModel"]):
    class Meta:
        index_name = "by-campaign"
        projection = AllProjection()

    campaign_id = UnicodeAttribute(hash_key=True)
    decided_at = UnicodeAttribute(range_key=True)


class DecisionsDueIndex(GlobalSecondaryIndex["DecisionModel"]):
    """Sparse: only ``deferred`` decisions carry ``due_shard``, so the frequent due sweep reads exactly the
    decisions whose send time came (a few shards spread the writes of a busy day)."""

    class Meta:
        index_name = "due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    send_after = UnicodeAttribute(range_key=True)


class DecisionModel(_Base):
    """One campaign decision for one customer and one trigger; written once (conditional put)."""

    class Meta(_Base.Meta):
        table_name = _settings.decisions_table

    customer_id = UnicodeAttribute(hash_key=True)
    decision_key = UnicodeAttribute(range_key=True)  # "{campaign_id}#{trigger_id}"
    campaign_id = UnicodeAttribute()
    trigger_id = UnicodeAttribute()
    decided_at = UnicodeAttribute()
    outcome = UnicodeAttribute()  # "sent" | "held_out" | "skipped" | "deferred"
    catalogue_version = UnicodeAttribute(null=True)
    trigger_occurred_at = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    send_after = UnicodeAttribute(null=True)
    by_campaign = DecisionsByCampaignIndex()
    # Set while the decision is deferred (removed when it is resolved): the key of the sparse due index.
    due_shard = UnicodeAttribute(null=True)
    due = DecisionsDueIndex()
    # Journey state items only (``{journey id}#journey``, shared.campaigns.journeys): the person's status
    # in the journey, the step they are at, a version bumped on every change (each step is one write
    # conditional on it) and the steps they reached.
    journey_status = UnicodeAttribute(null=True)
    journey_step = NumberAttribute(null=True)
    journey_version = NumberAttribute(null=True)
    journey_path = UnicodeAttribute(null=True)  # step ids, space-separated
    journey_arm = UnicodeAttribute(null=True)  # "treated" | "control" (the hold-out, drawn at entry)


class IdempotencyModel(_Base):
    """Powertools idempotency records (channel sends): one per message, expiring."""

    class Meta(_Base.Meta):
        table_name = _settings.idempotency_table

    id = UnicodeAttribute(hash_key=True)
    expiration = NumberAttribute(null=True)


class RejectedCallModel(_Base):
    """A Segment call the tracking API refused (validation), kept a few days for developers to read:
    one partition per UTC day, newest last; expires by TTL."""

    class Meta(_Base.Meta):
        table_name = _settings.rejected_calls_table

    day = UnicodeAttribute(hash_key=True)  # YYYY-MM-DD (UTC) of receipt
    key = UnicodeAttribute(range_key=True)  # <received_at>#<request id>#<index>
    received_at = UnicodeAttribute()
    path = UnicodeAttribute()
    source = UnicodeAttribute()
    index = NumberAttribute(null=True)  # position in the batch; none for a single call
    code = UnicodeAttribute()
    message = UnicodeAttribute()
    call = UnicodeAttribute()  # the call as sent (JSON), cut at 32 KB
    expires_at = NumberAttribute()  # TTL (epoch seconds)


class ScoreHistoryModel(_Base):
    """A customer's scores as each scoring run left them (the profile's scores over runs), expiring by TTL.

    One item per customer and run (the run id sorts by time), written with the latest scores: a retried
    run overwrites its own entries; a run that left a customer's scores unchanged adds none."""

    class Meta(_Base.Meta):
        table_name = _settings.score_history_table

    customer_id = UnicodeAttribute(hash_key=True)
    run_id = UnicodeAttribute(range_key=True)
    scored_at = UnicodeAttribute()
    segment = UnicodeAttribute(null=True)
    recency_score = NumberAttribute(null=True)
    frequency_score = NumberAttribute(null=True)
    monetary_score = NumberAttribute(null=True)
    lead_score = NumberAttribute(null=True)
    stage = UnicodeAttribute(null=True)
    p_alive = NumberAttribute(null=True)
    churn_risk = NumberAttribute(null=True)
    expected_purchases = NumberAttribute(null=True)
    clv = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # TTL (epoch seconds)


ALL_MODELS: tuple[type[Model], ...] = (
    CustomerModel,
    InteractionModel,
    IdentityModel,
    ScoreModel,
    RunModel,
    CampaignModel,
    DecisionModel,
    IdempotencyModel,
    RejectedCallModel,
    ScoreHistoryModel,
)

# Tables whose changes feed a consumer through a DynamoDB stream, and tables with a TTL attribute.
STREAM_TABLES: frozenset[type[Model]] = frozenset({InteractionModel})
TTL_ATTRIBUTES: dict[type[Model], str] = {
    InteractionModel: "expires_at",
    IdempotencyModel: "expiration",
    RejectedCallModel: "expires_at",
    ScoreHistoryModel: "expires_at",
}


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: str  # "S" | "N" | "B"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None


@dataclass(frozen=True)
class TableSpec:
    """What CDK and the local stack need to create a table; derived from a PynamoDB model."""

    logical_name: str  # e.g. "Customers"
    env_var: str  # e.g. "RM_CUSTOMERS_TABLE"
    table_name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None
    stream: bool
    ttl_attribute: str | None
    global_indexes: tuple[IndexSpec, ...] = field(default_factory=tuple)


def _key(model: type[Model], range_key: bool) -> KeyAttribute | None:
    for name, attr in model.get_attributes().items():
        if attr.is_range_key if range_key else attr.is_hash_key:
            return KeyAttribute(attr.attr_name or name, attr.attr_type)
    return None


_ENV_VARS: dict[type[Model], tuple[str, str]] = {
    CustomerModel: ("Customers", "RM_CUSTOMERS_TABLE"),
    InteractionModel: ("Interactions", "RM_INTERACTIONS_TABLE"),
    IdentityModel: ("Identities", "RM_IDENTITIES_TABLE"),
    ScoreModel: ("Scores", "RM_SCORES_TABLE"),
    RunModel: ("Runs", "RM_RUNS_TABLE"),
    CampaignModel: ("Campaigns", "RM_CAMPAIGNS_TABLE"),
    DecisionModel: ("CampaignDecisions", "RM_DECISIONS_TABLE"),
    IdempotencyModel: ("Idempotency", "RM_IDEMPOTENCY_TABLE"),
    RejectedCallModel: ("RejectedCalls", "RM_REJECTED_CALLS_TABLE"),
    ScoreHistoryModel: ("ScoreHistory", "RM_SCORE_HISTORY_TABLE"),
}


def table_specs() -> list[TableSpec]:
    specs: list[TableSpec] = []
    for model in ALL_MODELS:
        partition = _key(model, range_key=False)
        assert partition is not None, model
        indexes: list[IndexSpec] = []
        for index in model._indexes.values():
            index_attrs = index.Meta.attributes.values()
            hash_attr = next(a for a in index_attrs if a.is_hash_key)
            range_attr = next((a for a in index_attrs if a.is_range_key), None)
            indexes.append(
                IndexSpec(
                    name=index.Meta.index_name,
                    partition_key=KeyAttribute(str(hash_attr.attr_name), hash_attr.attr_type),
                    sort_key=(
                        KeyAttribute(str(range_attr.attr_name), range_attr.attr_type) if range_attr else None
                    ),
                )
            )
        logical, env_var = _ENV_VARS[model]
        specs.append(
            TableSpec(
                logical_name=logical,
                env_var=env_var,
                table_name=model.Meta.table_name,
                partition_key=partition,
                sort_key=_key(model, range_key=True),
                stream=model in STREAM_TABLES,
                ttl_attribute=TTL_ATTRIBUTES.get(model),
                global_indexes=tuple(indexes),
            )
        )
    return specs
