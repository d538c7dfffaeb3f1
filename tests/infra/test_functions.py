"""Lambda functions: runtime/architecture/tracing, layers, environment variables naming exactly the
resources each function uses, and IAM grants that match those variables."""

from __future__ import annotations

from typing import Any

import pytest

from shared.dal.models import table_specs
from shared.settings import Settings

from .conftest import Synth
from .helpers import as_list, flatten_join, get_att, of_type, policy_statements_for_role, ref

FUNCTIONS = ("track", "admin_api", "aggregate", "score", "campaigns", "email", "export", "ses_events")
R, W = "read", "write"
BUSINESS_TABLES = {s.logical_name: W for s in table_specs() if s.logical_name != "Idempotency"}

# Table access per function (read or read/write).
TABLE_ACCESS: dict[str, dict[str, str]] = {
    "track": {"Customers": W, "Interactions": W, "Identities": W, "RejectedCalls": W},
    "admin_api": {**BUSINESS_TABLES, "RejectedCalls": R},
    # Forwards a merged profile's late interactions to the survivor, deletes an erased person's.
    "aggregate": {"Customers": W, "Interactions": W},
    "score": {"Customers": R, "Scores": W, "Runs": W, "ScoreHistory": W},
    "campaigns": {"Campaigns": R, "Customers": R, "Scores": R, "Interactions": R, "CampaignDecisions": W},
    # Reads the address's holders (aliases) and the do-not-contact list at send time.
    "email": {"Idempotency": W, "Customers": R, "CampaignDecisions": W, "Identities": R},
    "export": {"Scores": R, "Customers": R, "Runs": W},
    # SES feedback: suppression and consent on profiles, interactions; finds profiles by address alias.
    "ses_events": {"Customers": W, "Interactions": W, "Identities": R},
}
# Other RM_* variables per function.
OTHER_ENV: dict[str, set[str]] = {
    "track": {
        "RM_EVENT_BUS_NAME",
        "RM_TOKEN_SECRET_ARN",
        "RM_WRITE_KEYS",
        "RM_ALLOWED_ORIGINS",
        "RM_ALLOWED_REDIRECT_HOSTS",
        "RM_INTERACTION_TTL_DAYS",
        "RM_CONSENT_TOKEN_TTL_HOURS",
        "RM_PUBLIC_BASE_URL",
    },
    "admin_api": {
        "RM_EXPORTS_BUCKET",
        "RM_SCORING_STATE_MACHINE_ARN",
        "RM_EXPORT_FUNCTION_NAME",
        "RM_EXPORT_LINK_TTL_SECONDS",
    },
    "aggregate": {"RM_EVENT_BUS_NAME", "RM_ENGAGEMENT_HALF_LIFE_DAYS"},
    "score": {
        "RM_EXPORTS_BUCKET",
        "RM_EVENT_BUS_NAME",
        "RM_ENGAGEMENT_HALF_LIFE_DAYS",
        "RM_SCORE_HISTORY_TTL_DAYS",
    },
    "campaigns": {
        "RM_EVENT_BUS_NAME",
        "RM_TOKEN_SECRET_ARN",
        "RM_PUBLIC_BASE_URL",
        "RM_CONSENT_TOKEN_TTL_HOURS",  # how long a send waits for a pending consent
    },
    "email": {"RM_SENDER_EMAIL", "RM_SES_CONFIGURATION_SET"},
    "export": {"RM_EXPORTS_BUCKET", "RM_EXPORT_LINK_TTL_SECONDS"},
    "ses_events": {"RM_EVENT_BUS_NAME"},  # ConsentChanged
}
WRITE_ACTIONS = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


def _function(synth: Synth, name: str) -> dict[str, Any]:
    resource: dict[str, Any] = synth.resources[synth.logical_id(synth.stack.factory.functions[name].function)]
    return resource


def _env(synth: Synth, name: str) -> dict[str, Any]:
    variables: dict[str, Any] = _function(synth, name)["Properties"]["Environment"]["Variables"]
    return variables


def test_every_function_is_defined(dev: Synth) -> None:
    assert sorted(dev.stack.factory.functions) == sorted(FUNCTIONS)
    assert len(of_type(dev.resources, "AWS::Lambda::Function")) == len(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_runtime(dev: Synth, name: str) -> None:
    props = _function(dev, name)["Properties"]
    assert props["Handler"] == f"functions.{name}.handler.handler"
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogGroup"] == ref(
        dev.logical_id(dev.stack.factory.functions[name].log_group)
    )
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "RelationshipMarketing"


def test_layers(dev: Synth) -> None:
    base = ref(dev.logical_id(dev.stack.factory.base_layer))
    science = ref(dev.logical_id(dev.stack.factory.science_layer))
    for name in FUNCTIONS:
        layers = _function(dev, name)["Properties"]["Layers"]
        assert layers == ([base, science] if name == "score" else [base]), name
    for layer in of_type(dev.resources, "AWS::Lambda::LayerVersion").values():
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_score_and_track_sizes(dev: Synth) -> None:
    score = _function(dev, "score")["Properties"]
    assert (score["MemorySize"], score["Timeout"]) == (2048, 900)
    assert _function(dev, "track")["Properties"]["MemorySize"] == 512


@pytest.mark.parametrize("name", FUNCTIONS)
def test_environment_names_exactly_the_resources_used(dev: Synth, name: str) -> None:
    env = _env(dev, name)
    specs = {s.logical_name: s for s in table_specs()}
    expected = {specs[t].env_var for t in TABLE_ACCESS[name]} | OTHER_ENV[name]
    assert {k for k in env if k.startswith("RM_")} == expected

    stack = dev.stack
    for table_name in TABLE_ACCESS[name]:
        assert env[specs[table_name].env_var] == ref(dev.logical_id(stack.data.tables[table_name]))
    targets = {
        "RM_EVENT_BUS_NAME": ref(dev.logical_id(stack.routing.bus)),
        "RM_EXPORTS_BUCKET": ref(dev.logical_id(stack.exports.bucket)),
        "RM_TOKEN_SECRET_ARN": ref(dev.logical_id(stack.token_secret)),
        "RM_SCORING_STATE_MACHINE_ARN": ref(dev.logical_id(stack.scoring.state_machine)),
        "RM_EXPORT_FUNCTION_NAME": ref(dev.logical_id(stack.exports.export.function)),
    }
    for key, target in targets.items():
        if key in env:
            assert env[key] == target, key
    if "RM_PUBLIC_BASE_URL" in env:
        url = flatten_join(env["RM_PUBLIC_BASE_URL"])
        api_id = dev.logical_id(stack.api.rest_api)
        assert url == f"https://<{api_id}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/dev"


def test_environment_values_from_config(dev: Synth) -> None:
    config = dev.stack.config
    track = _env(dev, "track")
    assert track["RM_WRITE_KEYS"] == ",".join(config.write_keys)
    assert track["RM_ALLOWED_ORIGINS"] == ",".join(config.allowed_origins)
    assert track["RM_ALLOWED_REDIRECT_HOSTS"] == ",".join(config.allowed_redirect_hosts)
    assert track["RM_INTERACTION_TTL_DAYS"] == str(config.interaction_ttl_days)
    assert _env(dev, "admin_api")["RM_EXPORT_LINK_TTL_SECONDS"] == "900"
    assert _env(dev, "email")["RM_SENDER_EMAIL"] == config.sender_email


def test_rm_variables_are_settings_fields(dev: Synth) -> None:
    """Every RM_* variable the stack sets is read by shared.settings.Settings (no typos, nothing unused)."""
    settings_vars = {f"RM_{name.upper()}" for name in Settings.model_fields}
    used = {k for name in FUNCTIONS for k in _env(dev, name) if k.startswith("RM_")}
    assert used <= settings_vars, used - settings_vars


def _role_statements(synth: Synth, name: str) -> list[dict[str, Any]]:
    role = _function(synth, name)["Properties"]["Role"]["Fn::GetAtt"][0]
    return policy_statements_for_role(synth.resources, role)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_table_grants_match_environment(dev: Synth, name: str) -> None:
    """A function may touch a table iff it is told the table's name; writes only where expected."""
    by_arn = {dev.logical_id(t): logical for logical, t in dev.stack.data.tables.items()}
    granted: dict[str, str] = {}
    for statement in _role_statements(dev, name):
        actions = set(as_list(statement["Action"]))
        if not any(a.startswith("dynamodb:") and a != "dynamodb:ListStreams" for a in actions):
            continue
        if actions <= {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}:
            continue  # the stream event source (checked in test_messaging)
        for resource in as_list(statement["Resource"]):
            text = flatten_join(resource)
            logical = text[1:].split(".", 1)[0]
            assert logical in by_arn, f"{name}: dynamodb grant on unexpected resource {text}"
            assert "*" not in text, f"{name}: wildcard in {text}"
            level = W if actions & WRITE_ACTIONS else R
            table = by_arn[logical]
            granted[table] = W if W in (granted.get(table), level) else level
    assert granted == TABLE_ACCESS[name]


def test_only_admin_and_state_machine_can_start_or_invoke(dev: Synth) -> None:
    for name in FUNCTIONS:
        actions = {a for s in _role_statements(dev, name) for a in as_list(s["Action"])}
        assert ("states:StartExecution" in actions) == (name == "admin_api")
        assert ("lambda:InvokeFunction" in actions) == (name == "admin_api")
        assert ("ses:SendEmail" in actions) == (name == "email")
        # ses_events: ConsentChanged for the suppressions and revocations SES feedback makes (issue 17).
        publishes = name in ("track", "aggregate", "score", "campaigns", "ses_events")
        assert ("events:PutEvents" in actions) == publishes, name
    invoke = next(
        s for s in _role_statements(dev, "admin_api") if "lambda:InvokeFunction" in as_list(s["Action"])
    )
    assert invoke["Resource"] == get_att(dev.logical_id(dev.stack.exports.export.function))


def test_ses_scoped_to_sender(dev: Synth) -> None:
    """Issue 13 adds the configuration set every send names (its ARN is a resource of SendRawEmail) to
    the sender's identities; nothing else, and never a wildcard."""
    statement = next(s for s in _role_statements(dev, "email") if "ses:SendEmail" in as_list(s["Action"]))
    resources = [flatten_join(r) for r in as_list(statement["Resource"])]
    assert all("*" not in r for r in resources)
    identities = [r for r in resources if ":identity/" in r]
    assert sorted(r.rsplit("/", 1)[1] for r in identities) == sorted(
        [dev.stack.config.sender_email, dev.stack.config.sender_domain]
    )
    assert [r for r in resources if r not in identities] == [
        f"arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:configuration-set/"
        f"{dev.stack.config.ses_configuration_set}"
    ]
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": dev.stack.config.sender_email}}


def test_roles_use_no_managed_policies(dev: Synth) -> None:
    for name in FUNCTIONS:
        role = _function(dev, name)["Properties"]["Role"]["Fn::GetAtt"][0]
        assert "ManagedPolicyArns" not in dev.resources[role]["Properties"], name
