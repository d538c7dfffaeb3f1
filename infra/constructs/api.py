"""The REST API, built from the route table of :mod:`infra.routes` (read from the handlers' generated
OpenAPI document, shared with the local HTTP adapter):

* public operations (no ``security`` in the document) are served by ``track`` with no gateway auth - the
  handler checks Segment write keys, form ids and signed tokens - and are validated, throttled, CORS-enabled;
* every other operation is served by ``admin_api`` behind AWS_IAM (SigV4) authorization.

Each operation gets its own method, so a path the handlers do not declare is refused by API Gateway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import Aws, CfnOutput, Duration, Size
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_events as events
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra import routes as route_table
from infra.config import EXPORTS_PREFIX, RUNS_PREFIX, StageConfig
from infra.constructs.data import DataTables
from infra.constructs.functions import EngineFunction, FunctionFactory, log_group
from infra.constructs.nag import acknowledge

# JSON-schema model (for application/json bodies) per public POST path; other content types pass through.
# Segment call paths: /v1/<type> and the short /v1/<first letter> ones analytics.js posts to (text/plain,
# which API Gateway does not validate: the handler does). Both batch paths take the Batch model.
SEGMENT_CALL_TYPES = ("track", "identify", "page", "screen", "group", "alias")
JSON_MODELS = {
    **{f"/v1/{t}": "Event" for t in SEGMENT_CALL_TYPES},
    **{f"/v1/{t[0]}": "Event" for t in SEGMENT_CALL_TYPES},
    "/v1/batch": "Batch",
    "/v1/b": "Batch",
    "/v1/forms/{form_id}": "Event",
}
# Every error body carries a machine-readable `code` beside `message`, also those API Gateway answers
# itself (the Segment and RudderStack SDKs read `code` from error bodies): the same codes as the handlers
# and the local adapter where they mean the same, else API Gateway's response type.
GATEWAY_ERROR_TEMPLATE = '{"code":"%s","message":$context.error.messageString}'
GATEWAY_ERROR_CODES: dict[str, str] = {
    "DEFAULT_4XX": "$context.error.responseType",
    "DEFAULT_5XX": "$context.error.responseType",
    "ACCESS_DENIED": "forbidden",
    "MISSING_AUTHENTICATION_TOKEN": "forbidden",  # also an unknown route
    "INVALID_SIGNATURE": "forbidden",
    "BAD_REQUEST_BODY": "malformed_body",
    "BAD_REQUEST_PARAMETERS": "validation_error",
    "UNSUPPORTED_MEDIA_TYPE": "unsupported_media_type",  # also a gzip body that does not inflate
    "REQUEST_TOO_LARGE": "body_too_large",
    "THROTTLED": "throttled",
    "WAF_FILTERED": "forbidden",
}


def gateway_error_cors(origins: Sequence[str]) -> dict[str, str]:
    """CORS headers of API Gateway's own error answers (throttled 429, too large 413, missing auth 403,
    DEFAULT_4XX/5XX): without them a page using analytics.js or a form's ``fetch`` sees an opaque network
    error instead of the answer. One configured origin is named as is; a gateway response cannot choose
    among several, so with several the request's ``Origin`` is echoed (these bodies hold only API
    Gateway's code and message, and no credentials are allowed). No origin configured: no header."""
    if not origins:
        return {}
    allow = f"'{origins[0]}'" if len(origins) == 1 else "method.request.header.Origin"
    return {"Access-Control-Allow-Origin": allow, "Vary": "'Origin'"}


# Public resources opened to navigation only (no cross-site XHR/fetch): no CORS preflight.
NO_CORS_PATHS = frozenset({"/v1/consent/confirm"})
FORM_ROUTE = "/v1/forms/{form_id}"
ADMIN_EXCLUDED_TABLES = frozenset({"Idempotency"})
ADMIN_READ_ONLY_TABLES = frozenset({"RejectedCalls"})
# Indexes the admin routes never query (the campaigns' due sweep reads the sparse due index).
ADMIN_UNQUERIED_INDEXES: dict[str, tuple[str, ...]] = {"CampaignDecisions": ("due",)}
# Responses at least this large are gzipped for clients that accept it (0 would compress tiny answers).
MIN_COMPRESSION_BYTES = 1024


def check_route_tree(paths: Iterable[str]) -> None:
    """API Gateway refuses sibling path variables with different names (``/{id}`` next to ``/{run_id}``)."""
    variables: dict[str, str] = {}
    for path in paths:
        parts = path.strip("/").split("/")
        for depth, part in enumerate(parts):
            if part.startswith("{"):
                parent = "/".join(parts[:depth])
                if variables.setdefault(parent, part) != part:
                    raise ValueError(
                        f"routes below /{parent} use two path variables: {variables[parent]} and {part}"
                    )


def public_base_url(api: apigw.IRestApi, stage_name: str) -> str:
    """The stage URL built from the API id (``api.url`` would reference the Stage and create a cycle)."""
    return f"https://{api.rest_api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/{stage_name}"


def stage_options(
    config: StageConfig,
    access_logs: logs.ILogGroup,
    method_options: dict[str, apigw.MethodDeploymentOptions] | None = None,
) -> apigw.StageOptions:
    """A REST API stage as this project deploys them (the main API and the console's): throttled, JSON
    access logs, errors logged, X-Ray traced, and never full request logging (it would copy personal data
    into the logs)."""
    return apigw.StageOptions(
        stage_name=config.stage,
        throttling_rate_limit=config.api_throttle_rate_limit,
        throttling_burst_limit=config.api_throttle_burst_limit,
        method_options=method_options,
        access_log_destination=apigw.LogGroupLogDestination(access_logs),
        access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
            caller=True,
            http_method=True,
            ip=True,
            protocol=True,
            request_time=True,
            resource_path=True,
            response_length=True,
            status=True,
            user=True,
        ),
        logging_level=apigw.MethodLoggingLevel.ERROR,
        data_trace_enabled=False,
        metrics_enabled=True,
        tracing_enabled=True,
    )


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        factory: FunctionFactory,
        data: DataTables,
        bus: events.IEventBus,
        bucket: s3.IBucket,
        token_secret: secretsmanager.ISecret,
        state_machine: sfn.IStateMachine,
        export: EngineFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stage_name = config.stage
        self.access_logs = log_group(self, "AccessLogs", config)
        method_options = {
            f"{FORM_ROUTE}/POST": apigw.MethodDeploymentOptions(
                throttling_rate_limit=config.form_throttle_rate_limit,
                throttling_burst_limit=config.form_throttle_burst_limit,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                data_trace_enabled=False,
            )
        }
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"relationship-marketing-{config.stage}",
            description="Relationship-marketing engine: tracking, consent and admin API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=config.api_cloudwatch_role,
            # Content encoding on: API Gateway then inflates a request body sent with
            # `Content-Encoding: gzip` (or deflate) before it reaches the integration, so the proxy Lambda
            # receives the JSON as text (the header is passed along; the handler inflates a body that
            # still starts with the gzip magic bytes, e.g. if binary media types are ever added), and
            # answers 415 itself for a body that is not what the header says. The RudderStack SDK gzips
            # by default, the Segment one with gzip=True. It also gzips responses of at least this many
            # bytes for clients sending Accept-Encoding. AWS documentation: "Payload compression for REST
            # APIs in API Gateway" and "Call an API method with a compressed payload"
            # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-gzip-compression-decompression.html,
            # .../api-gateway-make-request-with-compressed-payload.html).
            min_compression_size=Size.bytes(MIN_COMPRESSION_BYTES),
            deploy_options=stage_options(config, self.access_logs, method_options),
        )
        self.base_url = config.public_base_url or public_base_url(self.rest_api, config.stage)
        error_cors = gateway_error_cors(config.allowed_origins)
        for kind, code in GATEWAY_ERROR_CODES.items():
            self.rest_api.add_gateway_response(
                f"Gateway{kind.title().replace('_', '')}",
                type=apigw.ResponseType.of(kind),
                templates={"application/json": GATEWAY_ERROR_TEMPLATE % code},
                response_headers=error_cors or None,
            )

        # -- functions ------------------------------------------------------------------------------------
        self.track = factory.create(
            self,
            "track",
            description="Public tracking, forms, consent confirmation and unsubscribe routes",
            memory_size=512,
            timeout=Duration.seconds(15),
        )
        (
            self.track.use_table(data.table("Customers"), data.spec("Customers"), write=True)
            .use_table(data.table("Interactions"), data.spec("Interactions"), write=True)
            .use_table(data.table("Identities"), data.spec("Identities"), write=True)
            .use_table(data.table("RejectedCalls"), data.spec("RejectedCalls"), write=True)
            .use_bus(bus)
            .use_secret(token_secret)
            .env("RM_WRITE_KEYS", ",".join(config.write_keys))
            .env("RM_ALLOWED_ORIGINS", ",".join(config.allowed_origins))
            .env("RM_ALLOWED_REDIRECT_HOSTS", ",".join(config.allowed_redirect_hosts))
            .env("RM_INTERACTION_TTL_DAYS", str(config.interaction_ttl_days))
            .env("RM_CONSENT_TOKEN_TTL_HOURS", str(config.consent_token_ttl_hours))
            .env("RM_PUBLIC_BASE_URL", self.base_url)
        )
        self.admin = factory.create(
            self,
            "admin_api",
            description="Private admin routes: customers, erasure, scoring runs, campaigns, segments",
            memory_size=512,
            timeout=Duration.seconds(29),
        )
        # Every business table (erasure touches them all); not the email channel's idempotency records.
        # Refused calls are only read (GET /v1/rejected-calls): erasure leaves them to their 7-day expiry.
        for logical_name, table in data.tables.items():
            if logical_name not in ADMIN_EXCLUDED_TABLES:
                write = logical_name not in ADMIN_READ_ONLY_TABLES
                self.admin.use_table(
                    table,
                    data.spec(logical_name),
                    write=write,
                    exclude_indexes=ADMIN_UNQUERIED_INDEXES.get(logical_name, ()),
                )
        (
            self.admin.use_bucket(bucket, read=[EXPORTS_PREFIX, RUNS_PREFIX])
            .use_state_machine(state_machine)
            .use_function(export)
            .env("RM_EXPORT_LINK_TTL_SECONDS", str(config.export_link_ttl_seconds))
        )

        # -- routes ---------------------------------------------------------------------------------------
        # Preflight for cross-site posts from the configured origins (the handler sets CORS headers on its
        # own responses). With no origins configured, preflights match nothing.
        cors_origins = list(config.allowed_origins) or ["https://invalid.example"]
        self.validator = self.rest_api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        models = {
            "Event": self.rest_api.add_model(
                "EventModel",
                content_type="application/json",
                model_name="Event",
                schema=apigw.JsonSchema(
                    schema=apigw.JsonSchemaVersion.DRAFT4,
                    title="Event",
                    type=apigw.JsonSchemaType.OBJECT,
                ),
            ),
            "Batch": self.rest_api.add_model(
                "BatchModel",
                content_type="application/json",
                model_name="Batch",
                schema=apigw.JsonSchema(
                    schema=apigw.JsonSchemaVersion.DRAFT4,
                    title="Batch",
                    type=apigw.JsonSchemaType.OBJECT,
                    required=["batch"],
                    properties={"batch": apigw.JsonSchema(type=apigw.JsonSchemaType.ARRAY, min_items=1)},
                ),
            ),
        }
        self.routes = route_table.routes()
        check_route_tree(r.path for r in self.routes)
        integrations = {
            "track": apigw.LambdaIntegration(self.track.target, proxy=True, allow_test_invoke=False),
            "admin_api": apigw.LambdaIntegration(self.admin.target, proxy=True, allow_test_invoke=False),
        }
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for route in self.routes:
            resource = self.rest_api.root.resource_for_path(route.path.lstrip("/"))
            if not route.is_public:
                self.methods[(route.method, route.path)] = resource.add_method(
                    route.method,
                    integrations[route.function],
                    authorization_type=apigw.AuthorizationType.IAM,
                    request_validator=self.validator,
                )
                continue
            has_preflight = any(
                isinstance(c, apigw.Method) and c.http_method == "OPTIONS" for c in resource.node.children
            )
            if route.path not in NO_CORS_PATHS and not has_preflight:
                resource.add_cors_preflight(
                    allow_origins=cors_origins,
                    allow_methods=["GET", "POST", "OPTIONS"],
                    allow_headers=[
                        "Content-Type",
                        "Content-Encoding",
                        "Authorization",
                        "X-Write-Key",
                        "X-Retry-Count",  # analytics.js retries
                    ],
                    max_age=Duration.hours(1),
                )
            model = JSON_MODELS.get(route.path) if route.method == "POST" else None
            method = resource.add_method(
                route.method,
                integrations[route.function],
                authorization_type=apigw.AuthorizationType.NONE,
                request_validator=self.validator if model else None,
                request_models={"application/json": models[model]} if model else None,
            )
            acknowledge(
                method,
                "AwsSolutions-APIG4",
                f"Public route {route.method} {route.path}: called by browsers and sites without AWS "
                "credentials; the handler authenticates it (Segment write key, signed token or form id); "
                "it is size/JSON-validated, throttled, and rate-limited by WAF when waf_enabled.",
            )
            self.methods[(route.method, route.path)] = method

        acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "No Cognito user pool by design: admin routes use AWS_IAM (SigV4) authorization, public "
            "routes are authenticated by the handler (write keys, HMAC-signed tokens).",
        )
        if config.api_cloudwatch_role:
            acknowledge(
                self.rest_api,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "Account-level API Gateway logging role (AWS::ApiGateway::Account); AWS maintains this "
                "service-role policy and API Gateway requires exactly these permissions.",
            )

        self.web_acl: wafv2.CfnWebACL | None = None
        if config.waf_enabled:
            self.web_acl = self._web_acl(config)
        else:
            acknowledge(
                self.rest_api.deployment_stage,
                "AwsSolutions-APIG3",
                f"WAF is disabled for the {config.stage} stage by configuration (waf_enabled=false); "
                "stage and method throttling still apply. Enable it with -c waf_enabled=true.",
            )
        api_url = CfnOutput(
            self, "ApiUrl", value=self.base_url, description="Base URL of the API (routes below /v1)"
        )
        api_url.override_logical_id("ApiUrl")  # a stable output name for scripts and the README

    def _web_acl(self, config: StageConfig) -> wafv2.CfnWebACL:
        metric = f"rm-{config.stage}-api"
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            ),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="rate-limit-per-ip",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=config.waf_rate_limit, aggregate_key_type="IP"
                        )
                    ),
                    visibility_config=wafv2.CfnWebACL.VisibilityConfigProperty(
                        cloud_watch_metrics_enabled=True,
                        metric_name=f"{metric}-rate-limit",
                        sampled_requests_enabled=True,
                    ),
                )
            ],
        )
        wafv2.CfnWebACLAssociation(
            self,
            "WebAclAssociation",
            resource_arn=self.rest_api.deployment_stage.stage_arn,
            web_acl_arn=acl.attr_arn,
        )
        return acl
