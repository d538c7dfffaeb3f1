"""Private API (IAM or a console token in the cloud; an API key or a token in local mode): customers,
scoring, campaigns, segments. Every route answers a response model; :mod:`.access` says who may call it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from functions.admin_api import access
from functions.common.http import ApiError, json_response, register_error_handlers
from functions.common.observability import logger, metrics
from functions.common.responses import JSON, documented, unreadable_body
from functions.common.tracing import tracer
from shared.exporting.filters import ExportRequest
from shared.exporting.rows import EXPORT_SEGMENTS
from shared.services import campaigns, customers, exports, rejected_calls, runs, segments
from shared.services.errors import NotFoundError, SegmentNotFoundError
from shared.services.views import (
    CampaignList,
    CampaignReportView,
    CampaignView,
    CustomerActivity,
    CustomerExport,
    CustomerProfile,
    ErasureResult,
    ExportView,
    RejectedCalls,
    RunView,
    SegmentDetail,
    SegmentsOverview,
    WhoAmI,
)
from shared.tracking.identity import InvalidEmailError, normalise_email

app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app)


@app.get(
    "/v1/customers",
    summary="Find a customer by email, user id or anonymous id (exactly one of them)",
    tags=["customers"],
    responses=documented(200, 404, e404="No customer with this identifier"),
)
def find_customer(
    email: Annotated[str | None, Query(max_length=254, description="Email address (any case)")] = None,
    user_id: Annotated[str | None, Query(max_length=200, description="The site's user id")] = None,
    anonymous_id: Annotated[str | None, Query(max_length=200, description="A device's anonymous id")] = None,
) -> CustomerProfile:
    given = {
        name: value
        for name, value in (("email", email), ("user_id", user_id), ("anonymous_id", anonymous_id))
        if value
    }
    if len(given) != 1:
        raise ApiError(
            422, "query: give exactly one of email, user_id, anonymous_id", code="validation_error"
        )
    ((name, value),) = given.items()
    if name == "email":
        try:
            alias = f"email:{normalise_email(value)}"
        except InvalidEmailError as exc:
            raise ApiError(422, f"query.email: {exc}", code="invalid_email") from None
    else:
        alias = f"{'user' if name == 'user_id' else 'anon'}:{value.strip()}"
    return CustomerProfile.model_validate(customers.find(alias))


@app.get(
    "/v1/rejected-calls",
    summary="Calls the tracking API refused in the last days (newest first), with the reason and the call",
    tags=["tracking"],
    responses=documented(200),
)
def list_rejected_calls(
    days: Annotated[int, Query(ge=1, le=7, description="How many days back, today included")] = 7,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many calls")] = 100,
) -> RejectedCalls:
    calls = rejected_calls.recent(datetime.now(UTC), days, limit)
    return RejectedCalls.model_validate({"count": len(calls), "calls": calls})


@app.get(
    "/v1/customers/<customer_id>",
    summary="Profile, consent, aggregates and latest scores",
    tags=["customers"],
    responses=documented(200, 404, e404="Unknown customer"),
)
def get_customer(customer_id: str) -> CustomerProfile:
    return CustomerProfile.model_validate(customers.profile(customer_id))


@app.get(
    "/v1/customers/<customer_id>/activity",
    summary="Consent timeline (sources, wording versions), interactions, scores and campaign decisions",
    tags=["customers"],
    responses=documented(200, 404, e404="Unknown customer"),
)
def customer_activity(customer_id: str) -> CustomerActivity:
    return customers.activity(customer_id)


@app.get(
    "/v1/customers/<customer_id>/export",
    summary="Everything held on one person (GDPR access)",
    tags=["customers"],
    responses=documented(200, 404, e404="Unknown customer"),
)
def export_customer(customer_id: str) -> CustomerExport:
    return CustomerExport.model_validate(customers.access_export(customer_id))


@app.delete(
    "/v1/customers/<customer_id>",
    summary="Erase a person everywhere (GDPR erasure)",
    tags=["customers"],
    responses=documented(200, 404, e404="Unknown customer (or already erased)"),
)
def erase_customer(customer_id: str) -> ErasureResult:
    counts = customers.erase(customer_id)
    metrics.add_metric(name="CustomersErased", unit=MetricUnit.Count, value=1)
    return ErasureResult(customer_id=customer_id, erased=counts)


class ScoringRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(default=None, description="Score as of this date (default: today, UTC)")
    segments: int = Field(default=4, ge=1, le=1000, description="Parallel scan segments")


@app.post(
    "/v1/scoring/runs",
    summary="Start a scoring run",
    tags=["scoring"],
    responses=documented(
        {202: {"description": "Started (local: finished)", "content": {JSON: {"model": RunView}}}}, 400, 415
    ),
)
def start_scoring_run(request: Annotated[ScoringRunRequest, Body()]) -> Response[Any]:
    if request.as_of and request.as_of > datetime.now(UTC).date():
        raise ApiError(422, "as_of: cannot score as of a date in the future")
    started = RunView.model_validate(runs.start_scoring(request.as_of, request.segments))
    return json_response(202, started.model_dump(mode="json", exclude_unset=True))


@app.get(
    "/v1/scoring/runs/<run_id>",
    summary="Progress and summary of a scoring run",
    tags=["scoring"],
    responses=documented(200, 404, e404="Unknown run"),
)
def get_scoring_run(run_id: str) -> RunView:
    return RunView.model_validate(runs.view(run_id))


@app.get(
    "/v1/campaigns",
    summary="The campaign catalogue, with each campaign's switch",
    tags=["campaigns"],
    responses=documented(200),
)
def list_campaigns() -> CampaignList:
    return CampaignList.model_validate({"campaigns": campaigns.list_campaigns()})


class CampaignSwitch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


@app.patch(
    "/v1/campaigns/<campaign_id>",
    summary="Enable or disable a campaign",
    tags=["campaigns"],
    responses=documented(200, 400, 404, 415, e404="Unknown campaign"),
)
def switch_campaign(campaign_id: str, switch: Annotated[CampaignSwitch, Body()]) -> CampaignView:
    return CampaignView.model_validate(campaigns.set_enabled(campaign_id, switch.enabled))


@app.get(
    "/v1/campaigns/<campaign_id>/report",
    summary="Sent, held out, skipped; conversions, revenue and lift versus the hold-out group",
    tags=["campaigns"],
    responses=documented(200, 404, e404="Unknown campaign"),
)
def campaign_report(campaign_id: str) -> CampaignReportView:
    return campaigns.report(campaign_id)


@app.exception_handler(NotFoundError)
def _not_found(exc: NotFoundError) -> Response[Any]:
    message = exc.message
    if isinstance(exc, SegmentNotFoundError):
        message += f"; expected one of {', '.join(EXPORT_SEGMENTS)}"
    return json_response(404, {"code": "not_found", "message": message})


@app.get(
    "/v1/segments",
    summary="Segments of the latest scoring run: counts, change, revenue share, latest export links",
    tags=["segments"],
    responses=documented(200),
)
def list_segments() -> SegmentsOverview:
    return SegmentsOverview.model_validate(segments.segments_overview())


@app.get(
    "/v1/segments/<segment>",
    summary="A segment (name, slug or 'prospects'): its size over the scoring runs and a sample of members",
    tags=["segments"],
    responses=documented(200, 404, e404="Unknown segment"),
)
def get_segment(segment: str) -> SegmentDetail:
    return segments.detail(segment)


@app.post(
    "/v1/segments/<segment>/exports",
    summary="Export a segment (name or slug, or 'prospects') to CSV, optionally filtered",
    tags=["segments"],
    responses=documented(
        {
            202: {
                "description": "Recorded (cloud: running in the export function; local: done)",
                "content": {JSON: {"model": ExportView}},
            }
        },
        *(400, 404, 415),
        e404="Unknown segment",
    ),
)
def export_segment(segment: str, request: Annotated[ExportRequest | None, Body()] = None) -> Response[Any]:
    result = ExportView.model_validate(exports.start_export(segment, request))
    metrics.add_metric(name="ExportsRequested", unit=MetricUnit.Count, value=1)
    return json_response(202, result.model_dump(mode="json", exclude_unset=True))


@app.get(
    "/v1/exports/<export_id>",
    summary="Status and manifest of an export, with expiring download links",
    tags=["segments"],
    responses=documented(200, 404, e404="Unknown export"),
)
def get_export(export_id: str) -> ExportView:
    return ExportView.model_validate(segments.view(export_id))


@app.get(
    "/v1/me",
    summary="The caller (console user or IAM machine), its roles and the operations it may call",
    tags=["console"],
    responses=documented(200),
)
def who_am_i() -> WhoAmI:
    found = access.caller(app.current_event.raw_event)
    if found is None:  # the gateway always sets a caller; refusal() answered already
        raise ApiError(403, "Forbidden: no authenticated caller", code="forbidden")
    return WhoAmI(
        principal=found.principal, kind=found.kind, roles=sorted(found.roles), operations=found.operations()
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The caller's role first (nothing about the request is read for a caller who may not call it);
    # then bodies are JSON: 415 for any other media type, 400 for bytes that are not text, before parsing.
    return access.refusal(event) or unreadable_body(event) or app.resolve(event, context)
