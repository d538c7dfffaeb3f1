"""Generate the API's OpenAPI document from the routes of the public and private resolvers.

``python -m functions.openapi`` writes ``functions/openapi.json`` (served at GET /v1/openapi.json);
``--check`` fails when the file is out of date (the tests run it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import Server

from functions.common.responses import ERROR_DESCRIPTIONS, ErrorMessage

DOCUMENT = Path(__file__).with_name("openapi.json")
# Schemas powertools adds to both documents (dropped below unless referenced).
_POWERTOOLS_SCHEMAS = frozenset({"HTTPValidationError", "ValidationError"})
TITLE = "Relationship-marketing engine API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Public routes (tracking, forms, consent links) need no AWS credentials: Segment-style calls "
    "authenticate with HTTP Basic (source write key as user name). Every other route is private: "
    "machines call it with IAM (SigV4) in the cloud, the `x-api-key` header in local mode; people "
    "with the console's Cognito ID token in the `Authorization` header. `x-roles` names the "
    "Cognito groups allowed to call each private operation (IAM callers may call every one)."
)


def build() -> dict[str, Any]:
    from functions.admin_api.access import ROUTE_ROLES
    from functions.admin_api.handler import app as private_app
    from functions.track.handler import app as public_app

    servers = [Server(url="/")]
    public = public_app.get_openapi_schema(title=TITLE, version=VERSION, servers=servers).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    private = private_app.get_openapi_schema(title=TITLE, version=VERSION, servers=servers).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    for path, operations in private["paths"].items():
        for method, operation in operations.items():
            operation["security"] = [{"ApiKey": []}, {"ConsoleToken": []}]
            operation["x-roles"] = sorted(ROUTE_ROLES.get((method.upper(), path), ()))
            # Answered by API Gateway (IAM) / the local adapter (x-api-key) before the function runs.
            operation["responses"]["403"] = {
                "description": ERROR_DESCRIPTIONS[403],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}},
            }
    document = dict(public)
    document["info"]["description"] = DESCRIPTION
    document["paths"] = {**public["paths"], **private["paths"]}
    components: dict[str, Any] = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, schema in private.get("components", {}).get("schemas", {}).items():
        # One name, one schema: a private model named like a public one would silently replace it.
        if name in schemas and schemas[name] != schema and name not in _POWERTOOLS_SCHEMAS:
            raise ValueError(f"two different schemas are named {name}: rename one of the models")
        schemas[name] = schema
    schemas.setdefault("ErrorMessage", ErrorMessage.model_json_schema())  # the 403s added above
    # powertools always adds its own validation-error schemas; the routes document ours instead.
    components["schemas"] = {name: schemas[name] for name in sorted(_referenced(document["paths"], schemas))}
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
        "ConsoleToken": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "The console user's Cognito ID token (API Gateway's Cognito authorizer)",
        },
        "WriteKey": {"type": "http", "scheme": "basic"},
    }
    return document


def _referenced(node: Any, schemas: dict[str, Any], found: set[str] | None = None) -> set[str]:
    """Names of the component schemas ``node`` refers to, directly or through other schemas."""
    found = set() if found is None else found
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name not in found:
                found.add(name)
                _referenced(schemas[name], schemas, found)
        for value in node.values():
            _referenced(value, schemas, found)
    elif isinstance(node, list):
        for value in node:
            _referenced(value, schemas, found)
    return found


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if functions/openapi.json is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print("functions/openapi.json is out of date: run `python -m functions.openapi`", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT} ({len(build()['paths'])} paths)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
