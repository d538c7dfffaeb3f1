"""cdk-nag (v3) acknowledgements: every suppression in the stack goes through :func:`acknowledge`.

cdk-nag 3 reads acknowledgements recorded with ``Validations.of(construct).acknowledge`` on a resource or any
of its ancestors. Rules that report several findings per resource (IAM4/IAM5) need one acknowledgement per
finding, in the form ``AwsSolutions-IAM5[Resource::<Logical.Arn>/prefix/*]``: :func:`finding` builds that
string from a CDK token exactly the way cdk-nag flattens CloudFormation references.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

# Context key that turns acknowledgements off (tests use it to prove every acknowledgement is still needed).
SKIP_ACKNOWLEDGEMENTS = "rm:skip-nag-acknowledgements"


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    if len(reason) < 40:
        raise ValueError(f"acknowledgement of {rule_id} needs a specific reason")
    if scope.node.try_get_context(SKIP_ACKNOWLEDGEMENTS):
        return
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))


def flatten(reference: Any) -> str:
    """Port of cdk-nag's ``flattenCfnReference``."""
    if reference is None:
        return ""
    if isinstance(reference, str):
        return reference.replace("${", "<").replace("}", ">")
    if isinstance(reference, dict) and len(reference) == 1:
        ((key, value),) = reference.items()
        if key == "Fn::Join":
            delimiter, items = value
            return str(delimiter).join(flatten(item) for item in items)
        if key == "Fn::Sub":
            return flatten(value)
        if key == "Fn::GetAtt":
            return f"<{flatten(value[0])}.{flatten(value[1])}>"
        if key == "Fn::ImportValue":
            return flatten(value)
        if key == "Ref":
            return f"<{flatten(value)}>"
    return json.dumps(reference, separators=(",", ":"))


def finding(scope: IConstruct, kind: str, value: str) -> str:
    """``<kind>::<flattened value>`` for a token-bearing string, e.g. ``Resource::<Bucket.Arn>/runs/*``."""
    return f"{kind}::{flatten(Stack.of(scope).resolve(value))}"


def acknowledge_wildcard(scope: IConstruct, resource: str, reason: str) -> None:
    """Acknowledge the AwsSolutions-IAM5 finding for one wildcard resource ARN (token or literal)."""
    acknowledge(scope, f"AwsSolutions-IAM5[{finding(scope, 'Resource', resource)}]", reason)
