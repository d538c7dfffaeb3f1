"""Small helpers to read a synthesised template."""

from __future__ import annotations

import json
from typing import Any


def of_type(resources: dict[str, Any], cfn_type: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == cfn_type}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str = "Arn") -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, attribute]}


def flatten_join(value: Any) -> str:
    """A CloudFormation string expression as text, tokens shown as <Ref> / <GetAtt.Attr>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(flatten_join(p) for p in parts)
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
    return json.dumps(value)


def state_machine_definition(resource: dict[str, Any]) -> dict[str, Any]:
    """The state machine's ASL with tokens replaced by placeholder strings."""
    definition = resource["Properties"]["DefinitionString"]
    parts = definition["Fn::Join"][1] if isinstance(definition, dict) else [definition]
    text = "".join(p if isinstance(p, str) else flatten_join(p).replace('"', "") for p in parts)
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def policy_statements_for_role(resources: dict[str, Any], role_logical_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        if ref(role_logical_id) in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
