"""Lambda functions: one shared code asset (``build/app``), two layers (``base``, ``science``), and a
:class:`EngineFunction` wrapper that gives each function its own role, log group and least-privilege grants.

Every grant helper also sets the environment variable that names the granted resource (the variables
:mod:`shared.settings` reads), so a function gets the name of a resource exactly when it may use it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.nag import acknowledge, acknowledge_wildcard
from shared.dal.models import TableSpec

METRICS_NAMESPACE = "RelationshipMarketing"
RUNTIME = lambda_.Runtime.PYTHON_3_12
DEFAULT_TIMEOUT = Duration.seconds(30)
ARCHITECTURE = lambda_.Architecture.ARM_64

# What the code's reads call (PynamoDB makes no DescribeTable call for item operations; a transaction's
# condition check is ConditionCheckItem). Indexes are only ever queried.
TABLE_READ_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
)
INDEX_READ_ACTIONS = ("dynamodb:Query",)
TABLE_WRITE_ACTIONS = (
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
OBJECT_READ_ACTIONS = ("s3:GetObject",)
OBJECT_WRITE_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")

_RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def retention(days: int) -> logs.RetentionDays:
    """The CloudWatch Logs retention for ``days`` (rounded up to the next value CloudWatch accepts)."""
    for allowed in sorted(_RETENTION):
        if days <= allowed:
            return _RETENTION[allowed]
    return logs.RetentionDays.TEN_YEARS


def log_group(
    scope: Construct, construct_id: str, config: StageConfig, name: str | None = None
) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=retention(config.log_retention_days),
        removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
    )


class FunctionFactory(Construct):
    """Holds the code asset and layers shared by every function."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, app_dir: Path, layers_dir: Path
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        for required in (app_dir, layers_dir / "base" / "python", layers_dir / "science" / "python"):
            if not required.is_dir():
                raise FileNotFoundError(
                    f"{required} is missing: run `make layers` (python -m infra.build_layers)"
                )
        self.code = lambda_.Code.from_asset(str(app_dir))
        self.base_layer = lambda_.LayerVersion(
            self,
            "BaseLayer",
            code=lambda_.Code.from_asset(str(layers_dir / "base")),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Runtime dependencies: powertools, pynamodb, pydantic, pydantic-settings, pyyaml",
        )
        self.science_layer = lambda_.LayerVersion(
            self,
            "ScienceLayer",
            code=lambda_.Code.from_asset(str(layers_dir / "science")),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="Scoring maths: numpy, scipy",
        )
        self.functions: dict[str, EngineFunction] = {}

    def create(
        self,
        scope: Construct,
        name: str,
        *,
        description: str,
        memory_size: int = 256,
        timeout: Duration | None = None,
        science: bool = False,
        dead_letter_queue: sqs.IQueue | None = None,
        extra_wildcard_actions: str | None = None,
    ) -> EngineFunction:
        """``extra_wildcard_actions``: actions besides X-Ray that CDK grants on ``*`` for this function (they
        are named in the IAM5 acknowledgement)."""
        if name in self.functions:
            raise ValueError(f"function {name!r} defined twice")
        fn = EngineFunction(
            scope,
            _construct_id(name),
            factory=self,
            name=name,
            description=description,
            memory_size=memory_size,
            timeout=timeout or DEFAULT_TIMEOUT,
            science=science,
            dead_letter_queue=dead_letter_queue,
            extra_wildcard_actions=extra_wildcard_actions,
        )
        self.functions[name] = fn
        return fn


def _construct_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Function"


class EngineFunction(Construct):
    """One Lambda function (``functions.<name>.handler.handler``) with its own role and log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        factory: FunctionFactory,
        name: str,
        description: str,
        memory_size: int,
        timeout: Duration,
        science: bool,
        dead_letter_queue: sqs.IQueue | None,
        extra_wildcard_actions: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        config = factory.config
        self.log_group = log_group(self, "Logs", config)
        # An explicit role instead of the AWS managed AWSLambdaBasicExecutionRole: writes only to its own
        # log group (the log group ARN already covers its streams).
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Execution role of the {name} function",
        )
        self.log_group.grant_write(self.role)
        layers = [factory.base_layer] + ([factory.science_layer] if science else [])
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=f"functions.{name}.handler.handler",
            code=factory.code,
            layers=layers,
            memory_size=memory_size,
            timeout=timeout,
            tracing=lambda_.Tracing.ACTIVE,
            role=self.role,
            log_group=self.log_group,
            dead_letter_queue=dead_letter_queue,
            environment={
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
            # The runtime hooks are in functions/common/snapstart.py (every handler imports them).
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if config.uses_snap_start(name) else None,
        )
        # What callers invoke: with SnapStart, an alias of the published version (SnapStart never applies
        # to $LATEST); without, the function itself.
        self.target: lambda_.IFunction = self.function
        if config.uses_snap_start(name):
            self.target = lambda_.Alias(
                self, "Live", alias_name="live", version=self.function.current_version
            )
        wildcard_actions = "xray:PutTraceSegments/PutTelemetryRecords (active tracing)"
        if extra_wildcard_actions:
            wildcard_actions += f" and {extra_wildcard_actions}"
        acknowledge(
            self,
            "AwsSolutions-IAM5[Resource::*]",
            f"Only {wildcard_actions} are granted on '*': these actions support no resource-level "
            "permissions.",
        )
        acknowledge(
            self,
            "AwsSolutions-L1",
            "Pinned to python3.12 on purpose: the layers are built for cp312/aarch64 "
            "(infra/build_layers.py); bump RUNTIME and PYTHON_VERSION together.",
        )

    # -- environment -------------------------------------------------------------------------------------
    def env(self, key: str, value: str) -> EngineFunction:
        self.function.add_environment(key, value)
        return self

    # -- grants (each one also names the resource in the environment) ---------------------------------
    def use_table(
        self,
        table: dynamodb.ITable,
        spec: TableSpec,
        *,
        write: bool = False,
        indexes: bool = True,
        exclude_indexes: Collection[str] = (),
    ) -> EngineFunction:
        """Item-level access to the table, and queries on (only) its declared indexes - no ``index/*``
        wildcard; ``indexes=False`` for code that never queries them, ``exclude_indexes`` for those of
        them it never queries. A transaction needs the item actions it contains (there is no
        TransactWriteItems action)."""
        actions = TABLE_READ_ACTIONS + (TABLE_WRITE_ACTIONS if write else ())
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=list(actions), resources=[table.table_arn])
        )
        index_arns = [
            f"{table.table_arn}/index/{ix.name}"
            for ix in spec.global_indexes
            if indexes and ix.name not in exclude_indexes
        ]
        if index_arns:
            self.role.add_to_principal_policy(
                iam.PolicyStatement(actions=list(INDEX_READ_ACTIONS), resources=index_arns)
            )
        return self.env(spec.env_var, table.table_name)

    def use_bus(self, bus: events.IEventBus) -> EngineFunction:
        bus.grant_put_events_to(self.role)
        return self.env("RM_EVENT_BUS_NAME", bus.event_bus_name)

    def use_secret(self, secret: secretsmanager.ISecret) -> EngineFunction:
        # The code only reads the value (GetSecretValue); CDK's grant_read adds DescribeSecret too.
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["secretsmanager:GetSecretValue"], resources=[secret.secret_arn])
        )
        return self.env("RM_TOKEN_SECRET_ARN", secret.secret_arn)

    def use_bucket(
        self,
        bucket: s3.IBucket,
        *,
        read: Iterable[str] = (),
        write: Iterable[str] = (),
    ) -> EngineFunction:
        """Object access under key prefixes (``read``: GetObject; ``write``: Get/Put/Delete), plus ListBucket
        restricted to the same prefixes."""
        read_prefixes, write_prefixes = list(read), list(write)
        prefixes = list(dict.fromkeys(read_prefixes + write_prefixes))
        if not prefixes:
            raise ValueError("use_bucket needs at least one prefix")
        for prefix in prefixes:
            actions = OBJECT_READ_ACTIONS + (OBJECT_WRITE_ACTIONS if prefix in write_prefixes else ())
            objects = bucket.arn_for_objects(f"{prefix}*")
            self.role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=[objects]))
            acknowledge_wildcard(
                self,
                objects,
                f"Object-level access is scoped to the '{prefix}' key prefix of the exports bucket; "
                "object keys are generated per run/export, so they cannot be listed in advance.",
            )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
            )
        )
        return self.env("RM_EXPORTS_BUCKET", bucket.bucket_name)

    def use_state_machine(self, state_machine: sfn.IStateMachine) -> EngineFunction:
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[state_machine.state_machine_arn],
            )
        )
        return self.env("RM_SCORING_STATE_MACHINE_ARN", state_machine.state_machine_arn)

    def use_function(self, other: EngineFunction) -> EngineFunction:
        """Invoke another function (unqualified ARN only: no version/alias wildcard)."""
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[other.function.function_arn])
        )
        return self.env(f"RM_{other.name.upper()}_FUNCTION_NAME", other.function.function_name)

    def use_ses(self, config: StageConfig) -> EngineFunction:
        """SendRawEmail (and SendEmail) from the sender's address only, naming the configuration set.

        What SES authorises (https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html and the
        Service Authorization Reference for SES,
        https://docs.aws.amazon.com/service-authorization/latest/reference/list-amazonsimpleemailservice.html):
        the ``identity`` resource of the sender (address or its domain, ``ses:FromAddress`` pinned) and the
        ``configuration-set`` named in ``ConfigurationSetName``. In the sandbox SES also checks the role
        against each recipient's identity (they must be verified there,
        https://docs.aws.amazon.com/ses/latest/dg/request-production-access.html; reported in
        cloudposse/terraform-aws-ses #19 and #40), so those identities are listed too. ``Source`` is
        always sent (the envelope sender); ``FromArn``/``SourceArn`` only for sending authorisation
        (RM_SES_IDENTITY_ARN), see functions/email/handler.py.
        """
        stack = Stack.of(self)
        names = [config.sender_email, config.sender_domain]
        if config.ses_sandbox:
            names += list(config.ses_sandbox_recipients)
        identities = [
            stack.format_arn(service="ses", resource="identity", resource_name=identity)
            for identity in dict.fromkeys(names)
        ]
        configuration_set = stack.format_arn(
            service="ses", resource="configuration-set", resource_name=config.ses_configuration_set
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[*identities, configuration_set],
                conditions={"StringEquals": {"ses:FromAddress": config.sender_email}},
            )
        )
        # RM_SES_CONFIGURATION_SET is set by infra/constructs/channels.py (which creates the set).
        return self.env("RM_SENDER_EMAIL", config.sender_email)
