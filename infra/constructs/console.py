"""The marketing console, deployed: Cognito sign-in, the console's API, and the static pages on CloudFront.

* **Sign-in**: a Cognito user pool (no self sign-up, MFA required, email as user name) with the groups
  ``marketing`` and ``admin``, a public app client for the authorization code grant with PKCE (no client
  secret in a browser), and the hosted UI on a Cognito domain.
* **API**: the private routes again, on a second REST API whose methods use a Cognito user-pool
  authorizer, served by the same admin function. API Gateway gives a method one authorization type, so the
  IAM API stays exactly as it was for machines (SigV4) and people's tokens go to this one; the gateway
  verifies the token and the handler enforces the group per route (``functions/admin_api/access.py``).
* **Hosting**: a private S3 bucket behind CloudFront with origin access control (no public bucket, no
  third-party CDN), a strict Content-Security-Policy and security headers; ``/v1/*`` on the same
  distribution goes to the console API, so the page calls its API on its own origin (no CORS).

The pages are ``infra/local/static`` (the same files as local mode); ``config.json`` (authority, client id,
redirect URI) comes from this construct's ``ConsoleConfig`` output (see README "Console").
"""

from __future__ import annotations

import jsii
from aws_cdk import Aspects, Aws, CfnCondition, CfnOutput, CfnResource, Duration, Fn, IAspect, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from infra import routes as route_table
from infra.config import StageConfig
from infra.constructs.api import stage_options
from infra.constructs.functions import EngineFunction, log_group
from infra.constructs.nag import acknowledge

# Regions of the China partition, where Cognito user pools and CloudFront origin access control do not exist:
# there the console's resources are left out by a template condition (cfn-lint evaluates region conditions).
CHINA_REGIONS = ("cn-north-1", "cn-northwest-1")
ACCESS_LOG_PREFIX = "console-bucket/"

GROUPS = {
    "marketing": "Segments, exports, reports and the customer view",
    "admin": "Also campaign switches, scoring runs, GDPR export and erasure",
}


def content_security_policy(cognito_origin: str) -> str:
    """Scripts, styles and images from the console's own origin only; calls to its own origin (the API
    behind /v1) and to the Cognito domain (the token endpoint); no frames, no plugins, no forms."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {cognito_origin}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


@jsii.implements(IAspect)
class _OnlyWhere:
    """Puts every resource and output of a scope under one template condition."""

    def __init__(self, condition: CfnCondition) -> None:
        self.condition = condition

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource | CfnOutput):
            if isinstance(node, CfnResource):
                node.cfn_options.condition = self.condition
            else:
                node.condition = self.condition


class Console(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        admin: EngineFunction,
        access_logs_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        # Deployed by default; left out in the China partition's regions (no Cognito user pools there).
        self.condition = CfnCondition(
            self,
            "Supported",
            expression=Fn.condition_not(
                Fn.condition_or(*(Fn.condition_equals(Aws.REGION, region) for region in CHINA_REGIONS))
            ),
        )
        Aspects.of(self).add(_OnlyWhere(self.condition))
        # -- sign-in --------------------------------------------------------------------------------------
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"relationship-marketing-{config.stage}-console",
            self_sign_up_enabled=False,  # an administrator invites each user and puts them in a group
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            removal_policy=config.removal_policy,
        )
        self.groups = {
            name: cognito.CfnUserPoolGroup(
                self,
                f"Group{name.title()}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=name,
                description=description,
            )
            for name, description in GROUPS.items()
        }
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=f"rm-console-{config.stage}-{Stack.of(self).account}"
            ),
        )

        # -- hosting --------------------------------------------------------------------------------------
        # A name built from the account and region, so the access-log bucket's policy (outside this
        # construct, unconditional) names the console bucket without referencing a conditional resource.
        bucket_name = f"rm-console-{config.stage}-{Aws.ACCOUNT_ID}-{Aws.REGION}"
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            removal_policy=config.removal_policy,
            auto_delete_objects=False,
        )
        # Server access logs to the stack's log bucket, wired by hand: CDK's own wiring would put a reference
        # to this (conditional) bucket into the log bucket's policy.
        bucket_resource = self.bucket.node.default_child
        assert isinstance(bucket_resource, s3.CfnBucket)
        bucket_resource.logging_configuration = s3.CfnBucket.LoggingConfigurationProperty(
            destination_bucket_name=access_logs_bucket.bucket_name, log_file_prefix=ACCESS_LOG_PREFIX
        )
        access_logs_bucket.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("logging.s3.amazonaws.com")],
                actions=["s3:PutObject"],
                resources=[access_logs_bucket.arn_for_objects(f"{ACCESS_LOG_PREFIX}*")],
                conditions={
                    "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:s3:::{bucket_name}"},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )

        # -- the console's API: the private routes behind the Cognito authorizer --------------------------
        self.api_access_logs = log_group(self, "ApiAccessLogs", config)
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"relationship-marketing-{config.stage}-console",
            description="The console's private API: Cognito ID tokens, groups enforced by the handler",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,  # the account-level role is the main API's
            deploy_options=stage_options(config, self.api_access_logs),
        )
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self,
            "Authorizer",
            cognito_user_pools=[self.user_pool],
            identity_source=apigw.IdentitySource.header("Authorization"),
            results_cache_ttl=Duration.minutes(5),
        )
        validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        integration = apigw.LambdaIntegration(admin.target, proxy=True, allow_test_invoke=False)
        self.methods: dict[tuple[str, str], apigw.Method] = {}
        for route in route_table.routes():
            if route.is_public:
                continue
            resource = self.api.root.resource_for_path(route.path.lstrip("/"))
            self.methods[(route.method, route.path)] = resource.add_method(
                route.method,
                integration,
                authorization_type=apigw.AuthorizationType.COGNITO,
                authorizer=self.authorizer,
                request_validator=validator,
            )
        acknowledge(
            self.api.deployment_stage,
            "AwsSolutions-APIG3",
            "The console API is reached through the console's CloudFront distribution only by signed-in "
            "users (Cognito authorizer); stage throttling applies. WAF on the API is the stage option "
            "waf_enabled of the main API.",
        )

        # -- CloudFront -----------------------------------------------------------------------------------
        cognito_origin = f"https://{self.domain.domain_name}.auth.{Aws.REGION}.amazoncognito.com"
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="Console: strict CSP and security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(cognito_origin), override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"relationship-marketing {config.stage} console",
            default_root_object="index.html",
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
            ),
            additional_behaviors={
                "/v1/*": cloudfront.BehaviorOptions(
                    origin=origins.RestApiOrigin(self.api),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers,
                )
            },
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "The console is used by the marketing team wherever they work; access is by Cognito sign-in "
            "with MFA and group checks in the API, not by country.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "Static pages and an API that answers signed-in users only (Cognito authorizer); a WAF web ACL "
            "for CloudFront must live in us-east-1 and is left to the account's central WAF setup.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR3",
            "CloudFront standard logs need an ACL-enabled bucket; the stack's log bucket enforces bucket "
            "ownership (no ACLs). The console API's requests are in its access log group.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The default *.cloudfront.net certificate allows TLSv1 viewers; a custom domain with its own "
            "certificate applies the TLSv1.2_2021 policy set here.",
        )

        url = f"https://{self.distribution.distribution_domain_name}"
        self.client = self.user_pool.add_client(
            "Client",
            user_pool_client_name="console",
            generate_secret=False,  # a browser app cannot keep a secret: PKCE instead
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[f"{url}/"],
                logout_urls=[f"{url}/"],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.hours(12),
        )
        outputs = {
            "ConsoleUrl": (f"{url}/", "The marketing console"),
            "ConsoleBucketName": (self.bucket.bucket_name, "Where `make console` publishes the pages"),
            "ConsoleDistributionId": (self.distribution.distribution_id, "The console's distribution"),
            "ConsoleUserPoolId": (self.user_pool.user_pool_id, "Console users and their groups"),
            "ConsoleClientId": (self.client.user_pool_client_id, "config.json client_id"),
            "ConsoleAuthority": (cognito_origin, "config.json authority (the hosted UI)"),
        }
        for name, (value, description) in outputs.items():
            output = CfnOutput(self, name, value=value, description=description)
            output.override_logical_id(name)  # stable names for infra/publish_console.py
