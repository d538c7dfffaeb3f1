"""CDK app entry point: ``cdk synth`` (cdk.json runs ``python -m infra.app``), ``-c stage=prod`` for prod.

Synth is offline: no lookups, no Docker bundling, no credentials. The stack is environment-agnostic unless
CDK_DEFAULT_ACCOUNT/CDK_DEFAULT_REGION are set (the CLI sets them when credentials are available).
cdk-nag's AwsSolutions pack runs as a CDK policy-validation plugin: any unacknowledged finding fails synth.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra import build_layers
from infra.config import StageConfig, load_config
from infra.stack import RelationshipMarketingStack, stack_name


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's ``context`` (feature flags + defaults), to build the app outside the CLI (tests)."""
    cdk_json = build_layers.ROOT / "cdk.json"
    context: dict[str, Any] = json.loads(cdk_json.read_text()).get("context", {})
    return context


def environment() -> Environment | None:
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    if account and region:
        return Environment(account=account, region=region)
    return None


def build_app(
    context: dict[str, Any] | None = None,
    *,
    outdir: str | None = None,
    nag: bool = True,
    app_dir: Path | None = None,
) -> tuple[App, RelationshipMarketingStack, AwsSolutionsChecks | None]:
    """The app with its one stack (and the cdk-nag pack, registered as a validation plugin).

    ``app_dir``: an already staged code asset; by default ``functions/`` and ``shared/`` are staged into
    ``build/app`` on every synth, so the asset never lags behind the sources.
    """
    app = App(context=context, outdir=outdir)
    try:
        config: StageConfig = load_config(node=app.node)
    except ValueError as exc:  # a one-line message for `cdk synth/deploy` rather than a traceback
        raise SystemExit(f"Invalid stage configuration: {exc}") from exc
    if app_dir is None:
        app_dir = build_layers.stage_app()
    if not build_layers.layers_ready():
        raise SystemExit("Lambda layers are missing or out of date: run `make layers` first.")
    stack = RelationshipMarketingStack(
        app,
        stack_name(config),
        config=config,
        app_dir=app_dir,
        layers_dir=build_layers.LAYERS_DIR,
        env=environment(),
        description=f"Relationship-marketing engine ({config.stage})",
        termination_protection=config.deletion_protection,
    )
    pack = None
    if nag:
        pack = AwsSolutionsChecks(app, verbose=True)
        Validations.of(app).add_plugins(pack)
    return app, stack, pack


def main() -> None:
    app, _, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
