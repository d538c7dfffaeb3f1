"""Response (view) models of the private API: what each admin route answers, typed for the OpenAPI document.

The services build these views; the known fields are typed and described, and the parts that are open by
nature (a profile's free attributes, a run's summary, a campaign's catalogue entry) stay objects with
``extra="allow"``, so adding a field to a view never drops data and a changed or renamed typed field
fails the schema checks (schemathesis' response conformance).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.campaigns.report import CampaignReport


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- customers ---------------------------------------------------------------------------------------------
class Aggregates(_Open):
    first_seen_at: str | None = None
    last_seen_at: str | None = None
    first_purchase_date: str | None = None
    last_purchase_date: str | None = None
    purchase_count: int = 0
    purchase_days: int = 0
    total_spent: float = 0.0
    average_order_value: float | None = None
    first_day_spent: float | None = None
    interaction_count: int = 0
    engagement: dict[str, int] = Field(default_factory=dict)


class CustomerProfile(_Open):
    """A person: profile attributes, consent per channel, aggregates and the latest scores."""

    customer_id: str
    profile: dict[str, Any] = Field(description="Profile attributes (email, names, traits, suppression)")
    consent: dict[str, dict[str, Any]] = Field(description="Consent state per channel (email, sms, ...)")
    aggregates: Aggregates
    scores: dict[str, Any] | None = Field(description="Scores of the latest scoring run, if scored")


class CustomerExport(CustomerProfile):
    """Everything held on one person (GDPR access)."""

    raw_profile: dict[str, Any]
    aliases: list[str]
    interactions: list[dict[str, Any]]
    campaign_decisions: list[dict[str, Any]]


class ConsentChange(BaseModel):
    channel: str
    status: str
    occurred_at: str
    source: str | None = Field(default=None, description="Where the change came from (form, link, ...)")
    wording_version: str | None = Field(default=None, description="Version of the consent wording shown")


class InteractionView(BaseModel):
    occurred_at: str
    type: str
    event: str | None = None
    source: str | None = None
    amount: float | None = None


class DecisionView(BaseModel):
    campaign_id: str
    decided_at: str
    outcome: str = Field(description="sent | held_out | skipped | deferred | queued | failed")
    reason: str | None = None
    channel: str | None = None


class ScoreEntry(BaseModel):
    """A customer's scores as one scoring run left them (a run that changed nothing adds no entry)."""

    run_id: str
    scored_at: str
    segment: str | None = Field(default=None, description="RFM segment; none for a prospect")
    recency_score: float | None = None
    frequency_score: float | None = None
    monetary_score: float | None = None
    lead_score: float | None = None
    stage: str | None = None
    p_alive: float | None = None
    churn_risk: float | None = None
    expected_purchases: float | None = None
    clv: float | None = Field(default=None, description="Predicted value (customer lifetime value)")


class CustomerActivity(BaseModel):
    """What the console's profile page shows besides the profile: consent timeline, interactions, scores
    over runs and campaign decisions (newest first)."""

    customer_id: str
    consent_timeline: list[ConsentChange]
    interactions: list[InteractionView]
    interactions_total: int
    decisions: list[DecisionView]
    score_history: list[ScoreEntry] = Field(description="Scores over the scoring runs, oldest first")
    suppression: dict[str, Any] | None = Field(description="Do-not-contact flags, if any")


class ErasureResult(BaseModel):
    customer_id: str
    erased: dict[str, int] = Field(description="Items deleted per kind (interactions, decisions, ...)")


# -- tracking ----------------------------------------------------------------------------------------------
class RejectedCallRecord(BaseModel):
    received_at: str
    path: str
    source: str | None = None
    index: int | None = None
    code: str
    message: str
    call: str | None = Field(default=None, description="The call as sent (JSON text, truncated)")


class RejectedCalls(BaseModel):
    count: int
    calls: list[RejectedCallRecord]


# -- runs --------------------------------------------------------------------------------------------------
class RunView(BaseModel):
    run_id: str
    kind: str | None = None
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    progress: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    error: str | None = None


# -- campaigns ---------------------------------------------------------------------------------------------
class CampaignView(_Open):
    """A campaign of the catalogue (all its catalogue fields) with its switch."""

    id: str
    name: str
    channel: str
    enabled: bool
    catalogue_version: str


class CampaignList(BaseModel):
    campaigns: list[CampaignView]


# The report is a domain model already; re-exported so the handler names one module.
CampaignReportView = CampaignReport


# -- segments and exports ----------------------------------------------------------------------------------
class ExportLink(_Open):
    export_id: str
    created_at: str | None = None
    rows: int
    sha256: str
    download_url: str
    expires_at: str


class SegmentRow(BaseModel):
    segment: str
    slug: str
    count: int
    previous_count: int | None
    change: int | None
    revenue: float | None
    revenue_share: float | None
    latest_export: ExportLink | None


class SegmentsOverview(_Open):
    run_id: str | None
    segments: list[SegmentRow]
    rfm_grid: dict[str, int] = Field(default_factory=dict)
    stage_counts: dict[str, int] = Field(default_factory=dict)


class SegmentRun(BaseModel):
    run_id: str
    as_of: str | None
    finished_at: str | None
    count: int


class SegmentMember(BaseModel):
    customer_id: str
    email: str | None = None
    monetary_value: float | None = None
    frequency: float | None = None
    recency_days: float | None = None
    clv: float | None = None


class SegmentDetail(BaseModel):
    """One segment: its size over the scoring runs (oldest first) and a sample of its members."""

    segment: str
    slug: str
    runs: list[SegmentRun]
    sample: list[SegmentMember]


class ExportView(_Open):
    export_id: str
    status: str
    trigger: str | None = None
    segments: list[str] = Field(default_factory=list)
    filter: list[Any] = Field(default_factory=list)
    scoring_run_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    rows: int | dict[str, int] | None = None
    error: str | None = None
    manifest: dict[str, Any] | None = None
    files: list[dict[str, Any]] = Field(default_factory=list)


class WhoAmI(BaseModel):
    """The caller as the API sees it, and what it may do."""

    principal: str = Field(description="User name, or the IAM caller for machine calls")
    kind: str = Field(description="user (Cognito token) | iam (SigV4 / local API key)")
    roles: list[str] = Field(description="marketing, admin; machines have every role")
    operations: list[str] = Field(description="'METHOD /path' of every private operation allowed")
