"""The campaigns function parses every payload at the edge: SQS records into EventBridge envelopes
(``BatchProcessor(model=...)``), the scheduled input into ``ScheduledSweep``."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from functions.campaigns.handler import CampaignsQueueRecord, ScheduledSweep
from shared.events import SOURCE, CampaignSweepRequested, parse_detail


def _record(detail_type: str, detail: dict[str, object]) -> dict[str, object]:
    envelope = {
        "version": "0",
        "id": "7f0c1e2a",
        "detail-type": detail_type,
        "source": SOURCE,
        "account": "000000000000",
        "time": "2026-11-29T23:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }
    return {
        "messageId": "m-1",
        "receiptHandle": "r-1",
        "body": json.dumps(envelope),
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795993200000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1795993200001",
        },
        "messageAttributes": {},
        "md5OfBody": "0",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:000000000000:CampaignsQueue",
        "awsRegion": "eu-west-1",
    }


def test_a_sweep_segment_record_is_parsed_into_its_event() -> None:
    request = CampaignSweepRequested(segment=3, total_segments=16, start_key={"customer_id": {"S": "c-9"}})
    record = CampaignsQueueRecord.model_validate(
        _record("CampaignSweepRequested", json.loads(request.model_dump_json()))
    )
    assert record.body.detail_type == "CampaignSweepRequested"
    assert parse_detail(record.body.detail_type, record.body.detail) == request


def test_a_record_without_an_envelope_is_refused() -> None:
    bad = _record("SegmentChanged", {})
    bad["body"] = "not json"
    with pytest.raises(ValidationError):
        CampaignsQueueRecord.model_validate(bad)


@pytest.mark.parametrize("payload", [{"sweep": True}, {"sweep": "daily", "segments": 64}, {"sweep": "due"}])
def test_scheduled_inputs(payload: dict[str, object]) -> None:
    assert ScheduledSweep.model_validate(payload).sweep == payload["sweep"]


@pytest.mark.parametrize(
    "payload", [{"sweep": "weekly"}, {"sweep": "due", "extra": 1}, {"sweep": True, "segments": 0}]
)
def test_unknown_scheduled_inputs_are_refused(payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ScheduledSweep.model_validate(payload)
