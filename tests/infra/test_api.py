"""API Gateway: public routes without gateway auth, everything else AWS_IAM; throttling, logging, WAF."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.constructs.api import check_route_tree
from infra.routes import routes

from .conftest import Synth
from .helpers import flatten_join, get_att, of_type

# The public routes the design requires (served by `track`, no gateway auth).
REQUIRED_PUBLIC = {
    ("POST", "/v1/track"),
    ("POST", "/v1/identify"),
    ("POST", "/v1/page"),
    ("POST", "/v1/batch"),
    ("POST", "/v1/screen"),
    ("POST", "/v1/group"),
    ("POST", "/v1/alias"),
    # analytics.js posts to <apiHost>/<first letter of the call type>, batches to <apiHost>/b
    *{("POST", f"/v1/{p}") for p in "tipsgab"},
    ("POST", "/v1/forms/{form_id}"),
    ("GET", "/v1/forms/{form_id}/embed"),  # a form's embed code: public by design (issue 20)
    ("GET", "/v1/consent/confirm"),
    ("POST", "/v1/consent/confirm"),
    ("GET", "/v1/unsubscribe"),
    ("POST", "/v1/unsubscribe"),
    ("GET", "/v1/openapi.json"),
}
# Admin routes known so far (all behind AWS_IAM).
SOME_PRIVATE = {
    ("GET", "/v1/customers/{customer_id}"),
    ("DELETE", "/v1/customers/{customer_id}"),
    ("POST", "/v1/scoring/runs"),
    ("PATCH", "/v1/campaigns/{campaign_id}"),
}


def _methods(synth: Synth) -> dict[tuple[str, str], dict[str, Any]]:
    resources = synth.resources

    def path(resource_id: Any) -> str:
        if "Ref" not in resource_id:  # the root resource (GetAtt RootResourceId)
            return ""
        props = resources[resource_id["Ref"]]["Properties"]
        return f"{path(props['ParentId'])}/{props['PathPart']}"

    return {
        (m["Properties"]["HttpMethod"], path(m["Properties"]["ResourceId"])): m["Properties"]
        for m in of_type(resources, "AWS::ApiGateway::Method").values()
    }


def test_routes_and_authorization(dev: Synth) -> None:
    """One method per operation of the route table; public ones unauthenticated at the gateway (the handler
    authenticates), every other one AWS_IAM; each integrated with its function."""
    methods = _methods(dev)
    table = {(r.method, r.path): r for r in routes()}
    assert {key for key in methods if key[0] != "OPTIONS"} == set(table)
    public = {key for key, r in table.items() if r.is_public}
    assert public == REQUIRED_PUBLIC
    assert set(table) - public >= SOME_PRIVATE
    functions = {
        "track": get_att(dev.logical_id(dev.stack.api.track.function)),
        "admin_api": get_att(dev.logical_id(dev.stack.api.admin.function)),
    }
    for key, route in table.items():
        props = methods[key]
        assert props["AuthorizationType"] == ("NONE" if route.is_public else "AWS_IAM"), key
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert functions[route.function] in props["Integration"]["Uri"]["Fn::Join"][1], key
    for key, props in methods.items():
        if key[0] == "OPTIONS":  # CORS preflight: mock integration, only on public resources
            assert props["Integration"]["Type"] == "MOCK"
            assert any(path == key[1] for _, path in public), key


def test_conflicting_path_variables_are_refused() -> None:
    check_route_tree(["/v1/runs/{run_id}", "/v1/runs/{run_id}/report", "/v1/forms/{form_id}"])
    with pytest.raises(ValueError, match="two path variables"):
        check_route_tree(["/v1/runs/{run_id}", "/v1/runs/{id}/report"])


def test_json_routes_are_validated(dev: Synth) -> None:
    methods = _methods(dev)
    validators = of_type(dev.resources, "AWS::ApiGateway::RequestValidator")
    assert len(validators) == 1
    ((validator_id, validator),) = validators.items()
    assert validator["Properties"]["ValidateRequestBody"] is True
    assert validator["Properties"]["ValidateRequestParameters"] is True
    for path in (
        "/v1/track",
        "/v1/identify",
        "/v1/page",
        "/v1/batch",
        "/v1/b",
        "/v1/t",
        "/v1/forms/{form_id}",
    ):
        props = methods[("POST", path)]
        assert props["RequestValidatorId"] == {"Ref": validator_id}
        assert "application/json" in props["RequestModels"]


def test_stage_logging_and_throttling(dev: Synth) -> None:
    (stage,) = of_type(dev.resources, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    assert props["TracingEnabled"] is True
    assert props["AccessLogSetting"]["DestinationArn"]
    defaults = next(s for s in props["MethodSettings"] if s["ResourcePath"] == "/*")
    assert defaults["LoggingLevel"] == "ERROR"
    assert defaults["DataTraceEnabled"] is False
    assert defaults["ThrottlingRateLimit"] == dev.stack.config.api_throttle_rate_limit
    assert defaults["ThrottlingBurstLimit"] == dev.stack.config.api_throttle_burst_limit
    forms = next(s for s in props["MethodSettings"] if s["ResourcePath"] == "/~1v1~1forms~1{form_id}")
    assert forms["HttpMethod"] == "POST"
    assert forms["ThrottlingRateLimit"] == dev.stack.config.form_throttle_rate_limit


def test_cors_preflight_allows_configured_origins(dev: Synth) -> None:
    options = _methods(dev)[("OPTIONS", "/v1/track")]
    response = options["Integration"]["IntegrationResponses"][0]
    text = str(response)
    for origin in dev.stack.config.allowed_origins:
        assert origin in text


def test_waf_only_when_enabled(dev: Synth, prod: Synth) -> None:
    assert not of_type(dev.resources, "AWS::WAFv2::WebACL")
    ((acl_id, acl),) = of_type(prod.resources, "AWS::WAFv2::WebACL").items()
    rule = acl["Properties"]["Rules"][0]
    assert rule["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rule["Action"] == {"Block": {}}
    (association,) = of_type(prod.resources, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == get_att(acl_id)
    stage_id = prod.logical_id(prod.stack.api.rest_api.deployment_stage)
    assert f"<{stage_id}>" in flatten_join(association["Properties"]["ResourceArn"])


def test_gzip_request_bodies_are_inflated_by_api_gateway(dev: Synth, prod: Synth) -> None:
    """Content encoding on (MinimumCompressionSize set): API Gateway REST inflates a request body sent with
    Content-Encoding: gzip before the proxy integration (the RudderStack SDK gzips by default)."""
    for synth in (dev, prod):
        (api,) = of_type(synth.resources, "AWS::ApiGateway::RestApi").values()
        assert api["Properties"]["MinimumCompressionSize"] == 1024
        # No binary media types: the inflated JSON reaches the function as text, not base64.
        assert "BinaryMediaTypes" not in api["Properties"]


def test_gateway_errors_carry_a_code(dev: Synth) -> None:
    """The answers API Gateway gives itself (bad body, unknown route, throttling) have a `code` beside
    `message`, as the handlers' do: the Segment and RudderStack SDKs read `code` from error bodies."""
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in of_type(dev.resources, "AWS::ApiGateway::GatewayResponse").values()
    }
    expected = {
        "DEFAULT_4XX": "$context.error.responseType",
        "DEFAULT_5XX": "$context.error.responseType",
        "ACCESS_DENIED": "forbidden",  # as the local adapter answers a private route without a key
        "BAD_REQUEST_BODY": "malformed_body",
        "UNSUPPORTED_MEDIA_TYPE": "unsupported_media_type",  # a gzip body that does not inflate
        "REQUEST_TOO_LARGE": "body_too_large",
    }
    for kind, code in expected.items():
        template = responses[kind]["ResponseTemplates"]["application/json"]
        assert json.loads(template.replace("$context.error.messageString", '"m"')) == {
            "code": code,
            "message": "m",
        }


def test_the_form_route_answers_the_preflight_of_a_fetch_from_the_configured_origins(dev: Synth) -> None:
    """fetch() with FormData or JSON from an allowed site: API Gateway answers the preflight (the handler
    adds the CORS headers to its own answers, as the local adapter shows)."""
    options = _methods(dev)[("OPTIONS", "/v1/forms/{form_id}")]
    response = options["Integration"]["IntegrationResponses"][0]
    allowed_headers = response["ResponseParameters"]["method.response.header.Access-Control-Allow-Headers"]
    assert "Content-Type" in allowed_headers
    assert "POST" in response["ResponseParameters"]["method.response.header.Access-Control-Allow-Methods"]
    assert dev.stack.config.allowed_origins  # dev allows the local site: the loop checks something
    for origin in dev.stack.config.allowed_origins:
        assert origin in str(response)
