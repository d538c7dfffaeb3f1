"""What the tracking API's routers share: the answer to a stored post, and storing it (with metrics)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter, Router
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel, Field

from functions.common.observability import logger, metrics
from shared.services import tracking
from shared.settings import get_settings
from shared.tracking.normalise import Interaction


class RejectedCall(BaseModel):
    """A call of a batch that was not stored, and why (the others were)."""

    index: int = Field(description="Position of the call in `batch`, from 0")
    code: str = Field(description="Stable machine-readable reason: invalid_call, unknown_type, invalid_email")
    message: str = Field(description="What is wrong, naming the field at fault")


class Accepted(BaseModel):
    success: bool = True
    customer_id: str | None = Field(
        default=None, description="The customer of the stored calls when they all belong to one"
    )
    stored: int
    duplicates: int
    rejected: list[RejectedCall] = Field(
        default_factory=list, description="Calls of a batch refused one by one (the others are stored)"
    )


def new_router() -> Router:
    """A router of the tracking API (powertools' ``Router.__init__`` carries no annotations)."""
    return Router()  # type: ignore[no-untyped-call]


def current_event(router: BaseRouter) -> APIGatewayProxyEvent:
    """The request being answered: the tracking API is a REST API (API Gateway proxy events)."""
    return cast(APIGatewayProxyEvent, router.current_event)


def now() -> datetime:
    return datetime.now(UTC)


def base_url(router: BaseRouter) -> str | None:
    if get_settings().public_base_url:
        return None  # configured: the service uses settings.public_base_url
    ctx = current_event(router).request_context
    return f"https://{ctx.domain_name}/{ctx.stage}" if ctx.domain_name else None


def store(router: BaseRouter, batch: list[Interaction]) -> Accepted:
    results = tracking.track(batch, base_url=base_url(router)) if batch else []
    stored = sum(r.stored for r in results)
    metrics.add_metric(name="InteractionsTracked", unit=MetricUnit.Count, value=stored)
    metrics.add_metric(name="DuplicateInteractions", unit=MetricUnit.Count, value=len(results) - stored)
    customers = {r.customer_id for r in results}
    dropped = sum(r.traits_dropped for r in results)
    if dropped:
        # Traits over the profile's budget (shared.dal.customers): the event is stored, the trait is not.
        metrics.add_metric(name="TraitsDropped", unit=MetricUnit.Count, value=dropped)
        logger.warning("traits over the profile budget were dropped", extra={"traits_dropped": dropped})
    return Accepted(
        customer_id=customers.pop() if len(customers) == 1 else None,
        stored=stored,
        duplicates=len(results) - stored,
    )
