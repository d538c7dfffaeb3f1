"""Stage configuration (dev / prod) for the CDK app, read from CDK context.

Select a stage with ``cdk synth -c stage=prod``. Every field can be overridden from the command line or
``cdk.json`` with ``-c <field>=<value>`` (for example ``-c alarm_email=ops@example.com``), or per stage with a
``stages`` context object::

    "stages": {"prod": {"sender_email": "hello@example.com", "allowed_origins": ["https://www.example.com"]}}

Lists may be given as JSON arrays or comma-separated strings; booleans as true/false. ``prod`` has no
usable default for ``write_keys`` and ``sender_email`` (:data:`REQUIRED_SETTINGS`): synth fails until they
are given.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from aws_cdk import RemovalPolicy

# Object-key prefixes in the exports bucket: grants and lifecycle rules are scoped to them.
EXPORTS_PREFIX = "exports/"
RUNS_PREFIX = "runs/"


@dataclass(frozen=True)
class StageConfig:
    stage: str
    # Scoring runs on this schedule (EventBridge on the default bus); campaigns sweep (inactivity/date
    # triggers) on its own daily schedule.
    scoring_schedule: str = "cron(0 3 * * ? *)"
    campaign_sweep_schedule: str = "cron(0 6 * * ? *)"
    # Deferred campaign decisions (delays, quiet hours, pending consent) due: read from the sparse due
    # index this often, so a due send goes out within this interval (plus queue latency).
    campaign_due_sweep_schedule: str = "rate(5 minutes)"
    scoring_max_concurrency: int = 10
    scoring_timeout_hours: int = 6
    # Tracking API: CORS and redirect allow-lists, Segment-style write keys.
    allowed_origins: tuple[str, ...] = ("http://localhost:8080",)
    allowed_redirect_hosts: tuple[str, ...] = ("localhost",)
    write_keys: tuple[str, ...] = ("dev-write-key",)
    # Optional public base URL (custom domain); default is the API Gateway stage URL.
    public_base_url: str | None = None
    interaction_ttl_days: int = 395
    engagement_half_life_days: float = 30.0
    consent_token_ttl_hours: int = 72
    export_retention_days: int = 30
    runs_retention_days: int = 7
    export_link_ttl_seconds: int = 900
    # Scores over runs (ScoreHistory): each run's entry per customer expires after this many days.
    score_history_ttl_days: int = 400
    # API Gateway throttling: stage-wide, and tighter limits on the public form route.
    api_throttle_rate_limit: float = 100.0
    api_throttle_burst_limit: int = 200
    form_throttle_rate_limit: float = 10.0
    form_throttle_burst_limit: int = 20
    # Creates the account-level API Gateway -> CloudWatch Logs role (needed once per account/region).
    api_cloudwatch_role: bool = True
    waf_enabled: bool = False
    waf_rate_limit: int = 1000  # requests per 5 minutes per client IP
    # Data protection: retain_data keeps tables, buckets, log groups and the token secret when the stack
    # is deleted; deletion_protection turns on DynamoDB deletion protection and stack termination protection.
    retain_data: bool = False
    deletion_protection: bool = False
    log_retention_days: int = 30
    event_archive_retention_days: int = 30
    # Messaging.
    sender_email: str = "no-reply@example.com"
    email_max_concurrency: int = 5
    # SES sandbox: SES then also authorises the send against each *recipient's* identity, so the role must
    # be allowed on the verified recipient identities listed here (addresses or domains). Out of the
    # sandbox (production access) only the sender's identity is checked. See infra/constructs/functions.py.
    ses_sandbox: bool = True
    ses_sandbox_recipients: tuple[str, ...] = ()
    # The webhook channel (sales hand-over): the CRM endpoint, the header its API key goes in, and
    # EventBridge's invocation rate limit for it. The key itself is the CrmApiKey secret's value (set it
    # after the first deploy); the connection keeps its credentials in Secrets Manager.
    crm_webhook_url: str = "https://crm.example.com/api/leads"
    crm_api_key_header: str = "X-Api-Key"
    crm_rate_limit_per_second: int = 10
    alarm_email: str | None = None
    # Lambda SnapStart (Python 3.12+) for these functions (names from SNAP_START_FUNCTIONS, or "all"):
    # each gets a published version and a "live" alias that its callers invoke. Restores are billed per GB
    # and snapshots cached per GB-second, so it is opt-in: e.g. -c snap_start=track,admin_api.
    snap_start: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    # The marketing console (Cognito user pool, its API with a Cognito authorizer, pages on CloudFront):
    # deployed by default, opt out with -c console=false. In the China partition's regions, where Cognito
    # user pools and CloudFront origin access control are not available, a template condition leaves the
    # console's resources out (infra/constructs/console.py).
    console: bool = True

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.retain_data else RemovalPolicy.DESTROY

    def uses_snap_start(self, function: str) -> bool:
        return function in SNAP_START_FUNCTIONS and ("all" in self.snap_start or function in self.snap_start)

    @property
    def sender_domain(self) -> str:
        return self.sender_email.rsplit("@", 1)[-1]

    @property
    def ses_configuration_set(self) -> str:
        """The SES configuration set every send names (its event destination feeds the SES events)."""
        return f"rm-email-{self.stage}"


# The functions SnapStart can be turned on for: those invoked through API Gateway, event source mappings
# or schedules (the scoring and export functions run in batches, where a cold start does not matter).
SNAP_START_FUNCTIONS = ("track", "admin_api", "aggregate", "campaigns", "email")


# Stage defaults; anything not listed falls back to the dataclass defaults above.
STAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {},
    "prod": {
        "retain_data": True,
        "deletion_protection": True,
        "waf_enabled": True,
        "log_retention_days": 365,
        "event_archive_retention_days": 90,
        "api_throttle_rate_limit": 500.0,
        "api_throttle_burst_limit": 1000,
        "allowed_origins": (),
        "allowed_redirect_hosts": (),
        "write_keys": (),
        "ses_sandbox": False,
    },
}


# Settings a stage has no usable default for: without them it would deploy a stack that cannot work (no
# write key accepted, no verified SES sender), so they must be given in context (``-c`` or ``stages``).
REQUIRED_SETTINGS: dict[str, tuple[str, ...]] = {"dev": (), "prod": ("write_keys", "sender_email")}


def _coerce(name: str, annotation: Any, value: Any) -> Any:
    text = str(annotation)
    if value is None:
        return None
    if "tuple" in text:
        if isinstance(value, str):
            stripped = value.strip()
            if stripped.startswith("["):
                value = json.loads(stripped)
            else:
                value = [v.strip() for v in stripped.split(",") if v.strip()]
        return tuple(str(v) for v in value)
    if "dict" in text:
        return dict(json.loads(value) if isinstance(value, str) else value)
    if text == "bool" or annotation is bool:
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"context {name!r}: expected a boolean, got {value!r}")
    if text == "int" or annotation is int:
        return int(value)
    if text == "float" or annotation is float:
        return float(value)
    if isinstance(value, str) and value.strip().lower() in ("", "none", "null") and "None" in text:
        return None
    return str(value)


def load_config(context: dict[str, Any] | None = None, *, node: Any = None) -> StageConfig:
    """Build the stage configuration from a context mapping or a construct node (``app.node``)."""

    def get(key: str) -> Any:
        if node is not None:
            return node.try_get_context(key)
        return (context or {}).get(key)

    stage = str(get("stage") or "dev")
    if stage not in STAGE_DEFAULTS:
        raise ValueError(f"unknown stage {stage!r}; expected one of {sorted(STAGE_DEFAULTS)}")
    hints = get_type_hints(StageConfig)
    values: dict[str, Any] = dict(STAGE_DEFAULTS[stage])
    per_stage = get("stages") or {}
    if isinstance(per_stage, str):
        per_stage = json.loads(per_stage)
    stage_values = dict(per_stage.get(stage, {}))
    values.update(stage_values)
    explicit = set(stage_values)
    for f in dataclasses.fields(StageConfig):
        if f.name == "stage":
            continue
        override = get(f.name)
        if override is not None:
            values[f.name] = override
            explicit.add(f.name)
    unknown = set(values) - set(hints)
    if unknown:
        raise ValueError(f"unknown stage settings: {sorted(unknown)}")
    coerced = {name: _coerce(name, hints[name], value) for name, value in values.items()}
    missing = [n for n in REQUIRED_SETTINGS[stage] if n not in explicit or not coerced[n]]
    if missing:
        raise ValueError(
            f"the {stage} stage needs {' and '.join(missing)} set explicitly and non-empty, e.g. "
            "-c write_keys=KEY1,KEY2 -c sender_email=hello@your-verified-domain.com "
            f'(or in cdk.json: "stages": {{"{stage}": {{...}}}})'
        )
    config = StageConfig(stage=stage, **coerced)
    _validate(config)
    return config


def _validate(config: StageConfig) -> None:
    if "@" not in config.sender_email:
        raise ValueError(f"sender_email {config.sender_email!r} is not an email address")
    if config.scoring_max_concurrency < 1:
        raise ValueError("scoring_max_concurrency must be >= 1")
    if not 60 <= config.export_link_ttl_seconds <= 7 * 24 * 3600:
        raise ValueError("export_link_ttl_seconds must be between 60 s and 7 days")
    unknown = set(config.snap_start) - set(SNAP_START_FUNCTIONS) - {"all"}
    if unknown:
        raise ValueError(
            f"snap_start: {sorted(unknown)} cannot use SnapStart; "
            f"choose from {list(SNAP_START_FUNCTIONS)} or all"
        )
    for origin in config.allowed_origins:
        if origin == "*":
            raise ValueError("allowed_origins must list origins explicitly (no '*')")
