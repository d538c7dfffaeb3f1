"""API Gateway's own error answers carry CORS headers for the configured origins (issue 17, edge).

Without them a page on an allowed origin (analytics.js, a form's ``fetch``) sees an opaque network error
for a throttled (429), too large (413), unauthenticated (403) or failed (4XX/5XX) request instead of the
answer and its ``code``.
"""

from __future__ import annotations

from infra.constructs.api import GATEWAY_ERROR_CODES, gateway_error_cors

from .conftest import Synth
from .helpers import of_type


def _gateway_responses(synth: Synth) -> dict[str, dict[str, object]]:
    return {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in of_type(synth.resources, "AWS::ApiGateway::GatewayResponse").values()
    }


def test_every_gateway_error_names_the_configured_origin(dev: Synth) -> None:
    [origin] = dev.stack.config.allowed_origins
    responses = _gateway_responses(dev)
    for kind in (
        "THROTTLED",
        "REQUEST_TOO_LARGE",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
        "MISSING_AUTHENTICATION_TOKEN",
    ):
        assert kind in GATEWAY_ERROR_CODES
        assert responses[kind]["ResponseParameters"] == {
            "gatewayresponse.header.Access-Control-Allow-Origin": f"'{origin}'",
            "gatewayresponse.header.Vary": "'Origin'",
        }, kind
    assert set(responses) == set(GATEWAY_ERROR_CODES)


def test_no_origin_configured_means_no_cors_header(prod: Synth) -> None:
    assert not prod.stack.config.allowed_origins
    for kind, response in _gateway_responses(prod).items():
        assert "ResponseParameters" not in response, kind


def test_several_origins_echo_the_request_s_origin() -> None:
    """A gateway response cannot choose among several origins: it echoes the request's (error bodies hold
    only API Gateway's code and message; no credentials are allowed)."""
    headers = gateway_error_cors(("https://www.example.com", "https://shop.example.com"))
    assert headers == {"Access-Control-Allow-Origin": "method.request.header.Origin", "Vary": "'Origin'"}
    assert "Access-Control-Allow-Credentials" not in headers
