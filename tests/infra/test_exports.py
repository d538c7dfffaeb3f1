"""The exports bucket: private, TLS-only, encrypted, access-logged, with expiring prefixes."""

from __future__ import annotations

from infra.config import EXPORTS_PREFIX, RUNS_PREFIX

from .conftest import Synth
from .helpers import of_type, ref


def test_bucket_is_private_encrypted_and_logged(dev: Synth) -> None:
    buckets = of_type(dev.resources, "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    exports = dev.resources[dev.logical_id(dev.stack.exports.bucket)]["Properties"]
    logs_bucket = dev.logical_id(dev.stack.exports.access_logs_bucket)
    assert exports["LoggingConfiguration"]["DestinationBucketName"] == ref(logs_bucket)


def test_buckets_enforce_tls(dev: Synth) -> None:
    ssl_only: set[str] = set()
    for policy in of_type(dev.resources, "AWS::S3::BucketPolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement.get("Condition") == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                ssl_only.add(policy["Properties"]["Bucket"]["Ref"])
    assert ssl_only == set(of_type(dev.resources, "AWS::S3::Bucket"))


def test_lifecycle_rules(dev: Synth) -> None:
    rules = dev.resources[dev.logical_id(dev.stack.exports.bucket)]["Properties"]["LifecycleConfiguration"][
        "Rules"
    ]
    by_prefix = {r.get("Prefix"): r for r in rules}
    assert by_prefix[EXPORTS_PREFIX]["ExpirationInDays"] == dev.stack.config.export_retention_days == 30
    assert by_prefix[RUNS_PREFIX]["ExpirationInDays"] == 7
    assert all(r["Status"] == "Enabled" for r in rules)


def test_export_function_dead_letter_queue(dev: Synth) -> None:
    export = dev.resources[dev.logical_id(dev.stack.exports.export.function)]["Properties"]
    assert export["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0] == dev.logical_id(
        dev.stack.exports.export_dlq
    )
