"""Publish the console's pages to the deployed stack: ``python -m infra.publish_console [--stage dev]``.

Uploads ``infra/local/static`` (the same pages as local mode, without the local-only outbox and thank-you
pages) to the console bucket, writes ``config.json`` from the stack's outputs (Cognito authority, app
client, redirect URI), and invalidates the CloudFront cache. Kept out of the stack on purpose: a
BucketDeployment would add a custom-resource Lambda function with broad S3 rights to every deployment.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

STATIC_DIR = Path(__file__).resolve().parent / "local" / "static"
LOCAL_ONLY = frozenset({"outbox.html", "outbox.js", "thanks.html"})
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}


def console_config(outputs: Mapping[str, str]) -> dict[str, Any]:
    url = outputs["ConsoleUrl"]
    return {
        "authority": outputs["ConsoleAuthority"],
        "client_id": outputs["ConsoleClientId"],
        "redirect_uri": url,
    }


def stack_outputs(stack_name: str, cloudformation: Any | None = None) -> dict[str, str]:
    cloudformation = cloudformation or boto3.client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def publish(outputs: Mapping[str, str], s3: Any | None = None, cloudfront: Any | None = None) -> list[str]:
    """Upload the pages and config.json; returns the keys written."""
    s3 = s3 or boto3.client("s3")
    bucket = outputs["ConsoleBucketName"]
    written: list[str] = []
    for path in sorted(STATIC_DIR.iterdir()):
        if not path.is_file() or path.name in LOCAL_ONLY:
            continue
        kind = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        s3.put_object(
            Bucket=bucket, Key=path.name, Body=path.read_bytes(), ContentType=kind, CacheControl="no-cache"
        )
        written.append(path.name)
    s3.put_object(
        Bucket=bucket,
        Key="config.json",
        Body=json.dumps(console_config(outputs)).encode(),
        ContentType="application/json",
        CacheControl="no-store",
    )
    written.append("config.json")
    if cloudfront is not None or outputs.get("ConsoleDistributionId"):
        (cloudfront or boto3.client("cloudfront")).create_invalidation(
            DistributionId=outputs["ConsoleDistributionId"],
            InvalidationBatch={
                "Paths": {"Quantity": 1, "Items": ["/*"]},
                "CallerReference": f"console-{time.time_ns()}",
            },
        )
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    outputs = stack_outputs(f"RelationshipMarketing-{args.stage}")
    written = publish(outputs)
    print(f"published {len(written)} files; console at {outputs['ConsoleUrl']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
