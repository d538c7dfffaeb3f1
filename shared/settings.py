"""Deployment settings, read once from environment variables (prefix ``RM_``).

The same names are set by the CDK stack on every function and by the local stack, so a handler never
knows where it runs.

A plain pydantic model filled from the environment (:meth:`Settings.from_environment`): every field is a
scalar read from ``RM_<FIELD>`` (or its alias), names matched without regard to case, values validated
and converted by pydantic. pydantic-settings did the same, but importing it cost about a fifth of the
tracking function's cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "RM_"

LOCAL_BASE_URL = "http://127.0.0.1:8080"


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    region: str = Field(default="eu-west-1", validation_alias="AWS_DEFAULT_REGION")
    customers_table: str = "rm-customers"
    interactions_table: str = "rm-interactions"
    identities_table: str = "rm-identities"
    scores_table: str = "rm-scores"
    runs_table: str = "rm-runs"
    campaigns_table: str = "rm-campaigns"
    decisions_table: str = "rm-campaign-decisions"
    idempotency_table: str = "rm-idempotency"
    rejected_calls_table: str = "rm-rejected-calls"
    score_history_table: str = "rm-score-history"
    event_bus_name: str = "rm-bus"
    exports_bucket: str = "rm-exports"

    # Secret used to sign consent-confirmation and unsubscribe tokens (HMAC-SHA256).
    token_secret: str = "local-development-secret-change-me"
    # In the cloud the secret lives in Secrets Manager; when this is set it wins over token_secret.
    token_secret_arn: str | None = None
    # Segment-style source write keys accepted by the tracking API (comma separated).
    write_keys: str = "local-write-key"
    # Origins allowed to post forms cross-site, and hosts a form may redirect to after a post.
    allowed_origins: str = "http://localhost:8080,http://127.0.0.1:8080"
    allowed_redirect_hosts: str = "localhost,127.0.0.1"
    # Public base URL of the API for confirmation and unsubscribe links; unset, the tracking API uses the
    # URL it was called on (API Gateway's stage URL) and other functions LOCAL_BASE_URL.
    public_base_url: str | None = None
    # The forms the public form route accepts (a YAML catalogue); unset, the one shipped with the code.
    forms_file: str | None = None

    scoring_state_machine_arn: str | None = None
    export_function_name: str | None = None
    sender_email: str = "marketing@example.com"
    # Every send names this SES configuration set: its event destination publishes bounces, complaints,
    # deliveries, opens and clicks to EventBridge (shared.messaging.ses_events). Empty: none (a region
    # without SES configuration sets, see infra/constructs/channels.py).
    ses_configuration_set: str = "rm-email"
    # Sending through an identity of another account (SES sending authorisation): its ARN, else unset.
    ses_identity_arn: str | None = None

    interaction_ttl_days: int = 395
    # Calls the tracking API refused, kept this long for developers to read (GET /v1/rejected-calls).
    rejected_call_ttl_days: int = 7
    engagement_half_life_days: float = 30.0
    consent_token_ttl_hours: int = 72
    export_link_ttl_seconds: int = 900
    # Pepper of the do-not-contact list (shared.dal.do_not_contact): an address suppressed by a hard bounce
    # or a complaint is kept there, after its profile is erased, only as HMAC-SHA256(pepper, address). Set
    # RM_DNC_PEPPER once per deployment and never change it (the kept hashes would stop matching).
    dnc_pepper: str = "rm-do-not-contact-v1"
    # Scores over runs (the profile's chart): each run's entry is kept this long, then expires by TTL.
    score_history_ttl_days: int = 400

    @property
    def link_base_url(self) -> str:
        return self.public_base_url or LOCAL_BASE_URL

    @property
    def write_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.write_keys.split(",") if k.strip())

    @property
    def allowed_origin_list(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]

    @property
    def allowed_redirect_host_set(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.allowed_redirect_hosts.split(",") if h.strip())

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings from ``environ`` (the process environment by default)."""
        found = {key.upper(): value for key, value in (os.environ if environ is None else environ).items()}
        values: dict[str, str] = {}
        for name, field in cls.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            variable = alias or f"{ENV_PREFIX}{name}"
            if variable.upper() in found:
                values[alias or name] = found[variable.upper()]
        return cls.model_validate(values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environment()
