"""Data access for segment exports: streamed S3 uploads, joined score/customer pages, export records,
and the asynchronous invocation of the export function.

:class:`StreamingUpload` keeps at most one part in memory: bytes are buffered until a part of
:data:`MIN_PART_SIZE` (S3's minimum for every part but the last) is full, then uploaded. An object that never
fills a part is written with one ``PutObject``; a failed upload is aborted (the bucket's lifecycle rule
also aborts incomplete uploads after a day).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3

from shared.dal import blobs
from shared.dal.models import CustomerModel, RunModel, ScoreModel
from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000
# Customer attributes an export reads (not the aggregates' engagement counters, aliases, traits).
CUSTOMER_ATTRIBUTES = (
    "customer_id",
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "timezone",
    "consent_email",
    "consent_sms",
    "consent_phone",
    "consent_post",
    "merged_into",
    "purchase_days",
    "total_spent",
)


class StreamingUpload:
    """Write an S3 object in parts of at least ``part_size`` bytes, holding one part in memory at most."""

    def __init__(self, key: str, content_type: str, part_size: int = MIN_PART_SIZE) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum part size)")
        self.key = key
        self.content_type = content_type
        self.part_size = part_size
        self.bytes_written = 0
        self._bucket = get_settings().exports_bucket
        self._buffer = io.BytesIO()
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._single_put = False
        self._closed = False

    @property
    def parts(self) -> int:
        """Parts uploaded so far (a single ``PutObject`` counts as one)."""
        return 1 if self._single_put else len(self._parts)

    def write(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("upload already closed")
        self._buffer.write(data)
        self.bytes_written += len(data)
        if self._buffer.tell() >= self.part_size:
            self._upload_part()

    def _upload_part(self) -> None:
        s3 = blobs.client()
        if self._upload_id is None:
            created = s3.create_multipart_upload(
                Bucket=self._bucket, Key=self.key, ContentType=self.content_type
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise ValueError(f"{self.key}: more than {MAX_PARTS} parts; use a larger part size")
        self._buffer.seek(0)
        uploaded = s3.upload_part(
            Bucket=self._bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=self._buffer
        )
        self._parts.append({"ETag": uploaded["ETag"], "PartNumber": number})
        self._buffer = io.BytesIO()

    def close(self) -> None:
        """Upload what is buffered and complete the object."""
        if self._closed:
            return
        if self._upload_id is None:
            blobs.client().put_object(
                Bucket=self._bucket,
                Key=self.key,
                Body=self._buffer.getvalue(),
                ContentType=self.content_type,
            )
            self._single_put = True
        else:
            if self._buffer.tell() or not self._parts:
                self._upload_part()
            blobs.client().complete_multipart_upload(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer = io.BytesIO()
        self._closed = True

    def abort(self) -> None:
        """Give up: drop the buffered bytes and the parts already uploaded (a completed object stays)."""
        completed = self._closed
        self._closed = True
        self._buffer = io.BytesIO()
        if self._upload_id is not None and not completed:
            blobs.client().abort_multipart_upload(Bucket=self._bucket, Key=self.key, UploadId=self._upload_id)


def get_object(key: str) -> bytes:
    body: bytes = blobs.client().get_object(Bucket=get_settings().exports_bucket, Key=key)["Body"].read()
    return body


def scored_customers(
    segment: str | None = None,
    prospects_only: bool = False,
    scan_segment: int = 0,
    total_segments: int = 1,
    page_size: int = 500,
) -> Iterator[tuple[ScoreModel, CustomerModel]]:
    """Scores joined with their customers, page by page (bounded memory).

    ``segment`` narrows the scan to one RFM segment, ``prospects_only`` to scores without a segment (a
    DynamoDB filter: the scan still reads the whole table). Scores whose customer is gone (erased) are
    skipped here; merged profiles are left to the caller, which sees ``merged_into``.
    """
    condition: Any = None
    if prospects_only:
        condition = ScoreModel.segment.does_not_exist()
    elif segment is not None:
        condition = ScoreModel.segment == segment
    page: list[ScoreModel] = []
    for item in ScoreModel.scan(
        condition, segment=scan_segment, total_segments=total_segments, page_size=page_size
    ):
        page.append(item)
        if len(page) >= 100:
            yield from _join(page)
            page = []
    if page:
        yield from _join(page)


def _join(page: list[ScoreModel]) -> Iterator[tuple[ScoreModel, CustomerModel]]:
    found = {
        item.customer_id: item
        for item in CustomerModel.batch_get(
            [s.customer_id for s in page], attributes_to_get=list(CUSTOMER_ATTRIBUTES)
        )
    }
    for score in page:
        customer = found.get(score.customer_id)
        if customer is not None:
            yield score, customer


def export_runs(status: str = "succeeded") -> Iterator[RunModel]:
    """Export records (kind ``export``) with a status: a scan, as for scoring runs (one item per run)."""
    yield from RunModel.scan((RunModel.kind == "export") & (RunModel.status == status))


def restart_run(run_id: str, now: datetime, progress: Mapping[str, Any]) -> None:
    """Reset a failed export record to running (a retried invocation starts the export over)."""
    RunModel(
        run_id, kind="export", status="running", started_at=now.isoformat(), progress=dict(progress)
    ).save()


def invoke_async(function_name: str, payload: dict[str, Any]) -> None:
    """Invoke a Lambda function asynchronously (``InvocationType=Event``): Lambda retries and dead-letters."""
    client: Any = boto3.client("lambda", region_name=get_settings().region)
    client.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload).encode())
