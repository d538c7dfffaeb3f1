"""Data access for segment exports: streamed S3 uploads and CSV files, joined score/customer records,
export records, and the asynchronous invocation of the export function.

:class:`StreamingUpload` keeps at most one part in memory: bytes are buffered until a part of
:data:`MIN_PART_SIZE` (S3's minimum for every part but the last) is full, then uploaded. An object that never
fills a part is written with one ``PutObject``; a failed upload is aborted (the bucket's lifecycle rule
also aborts incomplete uploads after a day).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3

from shared.dal import blobs
from shared.dal.models import CustomerModel, RunModel, ScoreModel
from shared.dal.records import RunRecord, record_of
from shared.exporting.rows import CONSENT_CHANNELS, CSV_COLUMNS, PROSPECTS, csv_cells, slug
from shared.settings import get_settings

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

logger = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024
_ROWS_PER_CHUNK = 1000
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
    "email_suppressed_address",
    "email_suppressed_reason",
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


def scored_records(segments: list[str]) -> Iterator[dict[str, Any]]:
    """Joined records of the wanted segments (one scan; narrowed by DynamoDB when a single segment).
    Merged-away profiles are left out: their history belongs to the surviving profile."""
    if segments == [PROSPECTS]:
        source = scored_customers(prospects_only=True)
    elif len(segments) == 1:
        source = scored_customers(segment=segments[0])
    else:
        source = scored_customers()
    for score, customer in source:
        if not customer.merged_into:
            yield joined_record(score, customer)


def joined_record(score: ScoreModel, customer: CustomerModel) -> dict[str, Any]:
    """Scores and profile of one customer, with typed values (what filters see)."""
    consent: dict[str, str | None] = {}
    for channel in CONSENT_CHANNELS:
        record = getattr(customer, f"consent_{channel}")
        status = record.as_dict().get("status") if record is not None else None
        consent[f"consent_{channel}"] = str(status) if status else None
    purchase_days = customer.purchase_days
    suppressed = (
        customer.email_suppressed_reason
        if customer.email and customer.email_suppressed_address == customer.email
        else None
    )
    return {
        "customer_id": customer.customer_id,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "company": customer.company,
        "job_title": customer.job_title,
        "timezone": customer.timezone,
        **consent,
        # A suppressed address (permanent bounce, complaint) is not reachable, whatever the consent says.
        "reachable_email": bool(customer.email)
        and consent["consent_email"] == "granted"
        and suppressed is None,
        "email_suppressed": suppressed,
        "segment": score.segment,
        "recency_score": _int(score.recency_score),
        "frequency_score": _int(score.frequency_score),
        "monetary_score": _int(score.monetary_score),
        "lead_score": _float(score.lead_score),
        "stage": score.stage,
        "p_alive": _float(score.p_alive),
        "churn_risk": _float(score.churn_risk),
        "expected_purchases": _float(score.expected_purchases),
        "expected_order_value": _float(score.expected_order_value),
        "clv": _float(score.clv),
        "last_purchase_date": max(purchase_days) if purchase_days else None,
        "total_spent": float(customer.total_spent or 0),
    }


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class CsvFile:
    """A CSV object in S3 written row by row: encoded in chunks, hashed, streamed in parts."""

    def __init__(self, key: str, segment: str, part_size: int = MIN_PART_SIZE) -> None:
        self.key = key
        self.segment = segment
        self.rows = 0
        self.revenue = 0.0
        self._upload = StreamingUpload(key, "text/csv; charset=utf-8", part_size)
        self._hash = hashlib.sha256()
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self._writer.writerow(CSV_COLUMNS)

    def write(self, record: Mapping[str, Any]) -> None:
        self._writer.writerow(csv_cells(record))
        self.rows += 1
        self.revenue += float(record.get("total_spent") or 0.0)
        if self.rows % _ROWS_PER_CHUNK == 0:
            self._flush()

    def _flush(self) -> None:
        data = self._text.getvalue().encode("utf-8")
        self._text.seek(0)
        self._text.truncate()
        if data:
            self._hash.update(data)
            self._upload.write(data)

    def close(self) -> dict[str, Any]:
        self._flush()
        self._upload.close()
        return {
            "segment": self.segment,
            "slug": slug(self.segment),
            "key": self.key,
            "rows": self.rows,
            "bytes": self._upload.bytes_written,
            "sha256": self._hash.hexdigest(),
            "parts": self._upload.parts,
        }

    def abort(self) -> None:
        """Abort the upload; never raises (it runs while another error is being raised)."""
        try:
            self._upload.abort()
        except Exception:  # the lifecycle rule aborts incomplete uploads after a day anyway
            logger.warning("could not abort the upload of %s", self.key, exc_info=True)


def write_csv(
    key: str, records: Iterable[Mapping[str, Any]], segment: str = "", part_size: int = MIN_PART_SIZE
) -> dict[str, Any]:
    """Stream ``records`` (dicts with the CSV columns) to one CSV object; returns its file entry."""
    target = CsvFile(key, segment, part_size)
    try:
        for record in records:
            target.write(record)
        return target.close()
    except BaseException:
        target.abort()
        raise


def export_runs(status: str = "succeeded") -> Iterator[RunRecord]:
    """Export records (kind ``export``) with a status: a scan, as for scoring runs (one item per run)."""
    for run in RunModel.scan((RunModel.kind == "export") & (RunModel.status == status)):
        yield record_of(RunRecord, run)


def restart_run(run_id: str, now: datetime, progress: Mapping[str, Any]) -> None:
    """Reset a failed export record to running (a retried invocation starts the export over)."""
    RunModel(
        run_id, kind="export", status="running", started_at=now.isoformat(), progress=dict(progress)
    ).save()


def invoke_async(function_name: str, payload: dict[str, Any]) -> None:
    """Invoke a Lambda function asynchronously (``InvocationType=Event``): Lambda retries and dead-letters."""
    client: Any = boto3.client("lambda", region_name=get_settings().region)
    client.invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(payload).encode())
