"""The exports bucket: JSON blobs of scoring runs, CSV exports and presigned links."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@lru_cache(maxsize=1)
def client() -> S3Client:
    # SigV4 everywhere: botocore still signs S3 links with SigV2 in older regions, and buckets created
    # since mid-2020 refuse SigV2 links.
    return boto3.client("s3", region_name=get_settings().region, config=Config(signature_version="s3v4"))


def put_json(key: str, value: Any) -> None:
    client().put_object(
        Bucket=get_settings().exports_bucket,
        Key=key,
        Body=json.dumps(value, separators=(",", ":")).encode(),
        ContentType="application/json",
    )


def get_json(key: str) -> Any:
    body = client().get_object(Bucket=get_settings().exports_bucket, Key=key)["Body"].read()
    return json.loads(body)


def list_keys(prefix: str) -> list[str]:
    keys: list[str] = []
    paginator = client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=get_settings().exports_bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def presigned_get(key: str, ttl_seconds: int, filename: str | None = None) -> str:
    params: dict[str, Any] = {"Bucket": get_settings().exports_bucket, "Key": key}
    if filename:
        params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
    return client().generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_seconds)
