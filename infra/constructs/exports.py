"""The exports bucket (segment CSVs + manifests under ``exports/``, scoring intermediates under ``runs/``),
its access-log bucket, and the ``export`` function."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import EXPORTS_PREFIX, RUNS_PREFIX, StageConfig
from infra.constructs.bus import dead_letter_queue
from infra.constructs.data import DataTables
from infra.constructs.functions import EngineFunction, FunctionFactory


class Exports(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        factory: FunctionFactory,
        data: DataTables,
    ) -> None:
        super().__init__(scope, construct_id)
        # Server access logs of the exports bucket (cdk-nag's S1 accepts a bucket that is a log target).
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # log delivery cannot write to SSE-KMS buckets
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            removal_policy=config.removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(id="expire-access-logs", expiration=Duration.days(config.log_retention_days))
            ],
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=False,  # exports hold personal data: no lingering noncurrent versions after erasure
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="exports-bucket/",
            removal_policy=config.removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-exports",
                    prefix=EXPORTS_PREFIX,
                    expiration=Duration.days(config.export_retention_days),
                ),
                s3.LifecycleRule(
                    id="expire-scoring-runs",
                    prefix=RUNS_PREFIX,
                    expiration=Duration.days(config.runs_retention_days),
                ),
                s3.LifecycleRule(
                    id="abort-incomplete-uploads",
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
            ],
        )

        # Async invocations (admin API, state machine) that fail after Lambda's retries land here.
        self.export_dlq = dead_letter_queue(self, "ExportDlq")
        self.export: EngineFunction = factory.create(
            self,
            "export",
            description="Writes segment CSVs + manifest to S3 and records the export run",
            memory_size=1024,
            timeout=Duration.minutes(15),
            dead_letter_queue=self.export_dlq,
        )
        self.export.function.configure_async_invoke(retry_attempts=2, max_event_age=Duration.hours(6))
        (
            # A scan of Scores (the by-segment index misses scores stored before it, until they are rescored).
            self.export.use_table(data.table("Scores"), data.spec("Scores"), indexes=False)
            .use_table(data.table("Customers"), data.spec("Customers"))
            .use_table(data.table("Runs"), data.spec("Runs"), write=True)
            .use_bucket(self.bucket, write=[EXPORTS_PREFIX], read=[RUNS_PREFIX])
            .env("RM_EXPORT_LINK_TTL_SECONDS", str(config.export_link_ttl_seconds))
        )
