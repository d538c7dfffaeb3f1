"""Which function serves which route, read from the generated OpenAPI document.

The document (``functions/openapi.json``) is generated from the handlers' routes; an operation with a
``security`` requirement is private (the admin function behind IAM / an API key), the others are public
(the tracking function). The CDK stack and the local HTTP adapter both use this table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

OPENAPI_DOCUMENT = Path(__file__).resolve().parents[1] / "functions" / "openapi.json"
# Routes left out of the document itself.
EXTRA_PUBLIC_ROUTES: tuple[tuple[str, str], ...] = (("GET", "/v1/openapi.json"),)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # OpenAPI template, e.g. /v1/forms/{form_id}
    function: Literal["track", "admin_api"]

    @property
    def is_public(self) -> bool:
        return self.function == "track"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        pattern = "^" + re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.path)) + "$"
        found = re.match(pattern, path)
        return found.groupdict() if found else None


@lru_cache(maxsize=1)
def routes() -> tuple[Route, ...]:
    document = json.loads(OPENAPI_DOCUMENT.read_text())
    table = [Route(method, path, "track") for method, path in EXTRA_PUBLIC_ROUTES]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            function: Literal["track", "admin_api"] = "admin_api" if operation.get("security") else "track"
            table.append(Route(method.upper(), path, function))
    # Static paths before templated ones, as API Gateway does.
    return tuple(sorted(table, key=lambda r: (r.path.count("{"), r.path)))


def find(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in routes():
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def allowed_methods(path: str) -> list[str]:
    return sorted({r.method for r in routes() for m in [r.match(r.method, path)] if m is not None})
