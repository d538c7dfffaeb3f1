"""The deployed console (by default; ``-c console=false`` opts out): user pool and groups, the app client
(code + PKCE, no secret), private hosting (S3 + CloudFront with origin access control, strict CSP), the
console API's Cognito authorizer on exactly the private operations of the OpenAPI document, cdk-nag and
cfn-lint at 0 for that template, its condition for the China regions; plus publishing the pages (on moto).
The stage tests (test_nag, test_cfn_lint, ...) synthesise the default template, console included."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.constructs.console import CHINA_REGIONS
from infra.publish_console import LOCAL_ONLY, STATIC_DIR, publish

from .conftest import Synth, _synth
from .helpers import of_type

OPENAPI = Path(__file__).resolve().parents[2] / "functions" / "openapi.json"
# Regions of the aws partition where cfn-lint's schemas have Cognito user pools and CloudFront OAC (the
# China partition lacks them: a template condition leaves the console out there, linted in test_cfn_lint).
LINT_REGIONS = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"]


@pytest.fixture(scope="module")
def dev(layers_ready: None, app_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The dev stage with the console (this module's own synth)."""
    return _synth({"console": True}, app_dir, tmp_path_factory.mktemp("cdk-console"))


def test_cdk_nag_has_no_findings(dev: Synth) -> None:
    report = dev.pack.validate_scope(dev.stack)
    problems = [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in report.violations]
    assert problems == []


def test_cfn_lint_has_no_findings(dev: Synth, tmp_path: Path) -> None:
    from cfnlint.api import ManualArgs, lint_file

    path = tmp_path / "template.json"
    path.write_text(json.dumps(dev.template.to_json()))
    matches = lint_file(path, config=ManualArgs(regions=[*LINT_REGIONS, *CHINA_REGIONS]))
    # The only accepted finding: CDK's own redundant DependsOn of a function on its role (test_cfn_lint.py).
    problems = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id != "W3005"]
    assert problems == []


def test_console_is_deployed_by_default_with_an_opt_out() -> None:
    from infra.config import load_config

    assert load_config({}).console is True
    assert load_config({"console": "false"}).console is False


def test_console_resources_are_left_out_in_the_china_regions(dev: Synth) -> None:
    """Every console resource and output carries the condition that is false in the China partition's
    regions (no Cognito user pools there); nothing outside the console references one of them."""
    template = dev.template.to_json()
    assert dev.stack.console is not None
    name = dev.logical_id(dev.stack.console.condition)
    assert json.dumps(template["Conditions"][name]).count('"cn-north') == 2
    conditioned = {lid for lid, r in template["Resources"].items() if r.get("Condition") == name}
    assert {lid for lid in template["Resources"] if lid.startswith("Console")} == conditioned
    referenced = {
        lid
        for lid, resource in template["Resources"].items()
        if lid not in conditioned and any(f'"{c}"' in json.dumps(resource) for c in conditioned)
    }
    assert referenced == set()
    outputs = {k for k, o in template["Outputs"].items() if o.get("Condition") == name}
    assert {"ConsoleUrl", "ConsoleUserPoolId", "ConsoleAuthority"} <= outputs


def _one(synth: Synth, cfn_type: str) -> dict[str, Any]:
    found = of_type(synth.resources, cfn_type)
    assert len(found) == 1, (cfn_type, list(found))
    return next(iter(found.values()))["Properties"]


def test_user_pool_is_invitation_only_with_mfa(dev: Synth) -> None:
    pool = _one(dev, "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["MfaConfiguration"] == "ON"
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12


def test_groups_marketing_and_admin(dev: Synth) -> None:
    groups = {
        g["Properties"]["GroupName"] for g in of_type(dev.resources, "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == {"marketing", "admin"}


def test_app_client_uses_the_code_grant_without_a_secret(dev: Synth) -> None:
    client = _one(dev, "AWS::Cognito::UserPoolClient")
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client.get("GenerateSecret", False) is False
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email"}
    assert "implicit" not in json.dumps(client)
    assert client["PreventUserExistenceErrors"] == "ENABLED"
    assert len(of_type(dev.resources, "AWS::Cognito::UserPoolDomain")) == 1


def test_console_is_served_privately_through_cloudfront(dev: Synth) -> None:
    assert len(of_type(dev.resources, "AWS::CloudFront::OriginAccessControl")) == 1
    distribution = _one(dev, "AWS::CloudFront::Distribution")["DistributionConfig"]
    s3_origins = [o for o in distribution["Origins"] if "S3OriginConfig" in o]
    assert len(s3_origins) == 1
    assert "OriginAccessControlId" in s3_origins[0]
    assert distribution["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert [b["PathPattern"] for b in distribution["CacheBehaviors"]] == ["/v1/*"]
    # The bucket: no public access, TLS only; read by CloudFront (the OAC's service principal) only.
    buckets = [
        b["Properties"]
        for b in of_type(dev.resources, "AWS::S3::Bucket").values()
        if "console-bucket/" in json.dumps(b["Properties"].get("LoggingConfiguration", {}))
    ]
    assert len(buckets) == 1
    assert all(buckets[0]["PublicAccessBlockConfiguration"].values())
    policies = [
        p["Properties"]["PolicyDocument"]
        for p in of_type(dev.resources, "AWS::S3::BucketPolicy").values()
        if "cloudfront.amazonaws.com" in json.dumps(p)
    ]
    assert len(policies) == 1


def test_strict_content_security_policy(dev: Synth) -> None:
    policy = _one(dev, "AWS::CloudFront::ResponseHeadersPolicy")["ResponseHeadersPolicyConfig"]
    csp = json.dumps(policy["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "amazoncognito.com" in csp  # the token endpoint, and nothing else off the console's origin


def _private_operations() -> set[tuple[str, str]]:
    document = json.loads(OPENAPI.read_text())
    return {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    }


def test_console_api_uses_the_cognito_authorizer_on_every_private_operation(dev: Synth) -> None:
    authorizers = of_type(dev.resources, "AWS::ApiGateway::Authorizer")
    assert len(authorizers) == 1
    ((authorizer_id, authorizer),) = authorizers.items()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    assert authorizer["Properties"]["IdentitySource"] == "method.request.header.Authorization"
    pools = authorizer["Properties"]["ProviderARNs"]
    assert len(pools) == 1
    console = dev.stack.console
    assert console is not None
    api_id = dev.logical_id(console.api)
    methods = {
        key: m
        for key, m in of_type(dev.resources, "AWS::ApiGateway::Method").items()
        if m["Properties"]["RestApiId"] == {"Ref": api_id} and m["Properties"]["HttpMethod"] != "OPTIONS"
    }
    assert len(methods) == len(_private_operations())
    assert set(console.methods) == _private_operations()
    for method in methods.values():
        assert method["Properties"]["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert method["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}
    # The same admin function serves both APIs; the IAM API is unchanged (tests/infra/test_authorisation_*).
    admin = dev.logical_id(dev.stack.api.admin.function)
    uris = {json.dumps(m["Properties"]["Integration"]["Uri"]) for m in methods.values()}
    assert all(admin in uri for uri in uris)


@mock_aws
def test_publish_uploads_the_pages_and_config() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="console")
    outputs = {
        "ConsoleBucketName": "console",
        "ConsoleUrl": "https://d111.cloudfront.net/",
        "ConsoleAuthority": "https://rm-console-dev.auth.eu-west-1.amazoncognito.com",
        "ConsoleClientId": "client123",
    }
    written = publish(outputs, s3=s3)
    assert "index.html" in written
    assert not LOCAL_ONLY & set(written)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="console")["Contents"]}
    assert keys == {p.name for p in STATIC_DIR.iterdir() if p.name not in LOCAL_ONLY} | {"config.json"}
    config = json.loads(s3.get_object(Bucket="console", Key="config.json")["Body"].read())
    assert config == {
        "authority": outputs["ConsoleAuthority"],
        "client_id": "client123",
        "redirect_uri": "https://d111.cloudfront.net/",
    }
    assert s3.head_object(Bucket="console", Key="app.js")["ContentType"] == "text/javascript"
