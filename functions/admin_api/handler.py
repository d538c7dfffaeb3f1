"""Private API (IAM in the cloud, an API key in local mode): customers, scoring, campaigns, segments."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.common.http import register_error_handlers
from functions.common.observability import logger, metrics, tracer
from shared.services import customers
from shared.services.customers import CustomerNotFoundError

app = APIGatewayRestResolver(enable_validation=True)
register_error_handlers(app)


@app.exception_handler(CustomerNotFoundError)
def _not_found(exc: CustomerNotFoundError) -> Response[Any]:
    return Response(404, content_types.APPLICATION_JSON, {"message": f"customer {exc} not found"})


@app.get(
    "/v1/customers/<customer_id>",
    summary="Profile, consent, aggregates and latest scores",
    tags=["customers"],
)
def get_customer(customer_id: str) -> dict[str, Any]:
    return customers.profile(customer_id)


@app.get(
    "/v1/customers/<customer_id>/export",
    summary="Everything held on one person (GDPR access)",
    tags=["customers"],
)
def export_customer(customer_id: str) -> dict[str, Any]:
    return customers.access_export(customer_id)


@app.delete(
    "/v1/customers/<customer_id>", summary="Erase a person everywhere (GDPR erasure)", tags=["customers"]
)
def erase_customer(customer_id: str) -> dict[str, Any]:
    counts = customers.erase(customer_id)
    metrics.add_metric(name="CustomersErased", unit=MetricUnit.Count, value=1)
    return {"customer_id": customer_id, "erased": counts}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
