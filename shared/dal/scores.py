"""Scores table: latest scores per customer (with the by-segment index), and the ScoreHistory table: each
run's scores per customer (the profile's scores over runs)."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from shared.dal import customers
from shared.dal.models import ScoreHistoryModel, ScoreModel
from shared.dal.records import ScoreHistoryRecord, ScoreRecord, record_of
from shared.exporting.rows import PROSPECTS

# A segment's members are spread over this many index partitions ("<segment>#<shard>"): one big segment's
# writes during a scoring run never throttle on one partition of the index (DynamoDB's limit is per
# partition key). Reading a sample queries the shards in turn until the page is full.
SEGMENT_SHARDS = 16
# Score entries a scoring run writes (the history copies these; the segment key is derived).
HISTORY_FIELDS = tuple(name for name in ScoreHistoryRecord.model_fields if name not in {"expires_at"})


def segment_key(segment: str, customer_id: str) -> str:
    """The by-segment index key of a customer's scores (``segment`` is the segment name or prospects')."""
    return f"{segment}#{zlib.crc32(customer_id.encode()) % SEGMENT_SHARDS:02d}"


def get(customer_id: str) -> ScoreModel | None:
    """The stored item (data access only: :mod:`shared.dal.campaigns` builds its view from it)."""
    try:
        return ScoreModel.get(customer_id)
    except DoesNotExist:
        return None


def current(customer_id: str) -> ScoreRecord | None:
    """A customer's latest scores, if scored."""
    item = get(customer_id)
    return record_of(ScoreRecord, item) if item is not None else None


def delete(customer_id: str) -> None:
    """Delete a customer's scores and their history (erasure)."""
    ScoreModel(customer_id).delete()
    with ScoreHistoryModel.batch_write() as batch:
        for item in ScoreHistoryModel.query(
            customer_id, consistent_read=True, attributes_to_get=["customer_id", "run_id"]
        ):
            batch.delete(item)


def batch_get(customer_ids: list[str]) -> dict[str, ScoreRecord]:
    found: dict[str, ScoreRecord] = {}
    for start in range(0, len(customer_ids), 100):
        for item in ScoreModel.batch_get(customer_ids[start : start + 100]):
            found[item.customer_id] = record_of(ScoreRecord, item)
    return found


def save_all(records: Sequence[Mapping[str, Any]], now: datetime, history_ttl_days: int | None = None) -> int:
    """Write scores (and, with ``history_ttl_days``, their history entry for the run), keeping only those
    of customers still on record; returns how many were kept.

    Each record holds the :class:`ScoreRecord` fields. A scoring run reads the customers long before it
    writes: a person erased meanwhile must not get a score back. Write first, then check (see
    :mod:`shared.dal.customers`): a score written before the erasure started is deleted by the erasure,
    one written after it is deleted here. History entries are keyed by run: a retried run overwrites its
    own.
    """
    if not records:
        return 0
    expires_at = int((now + timedelta(days=history_ttl_days)).timestamp()) if history_ttl_days else None
    with ScoreModel.batch_write() as batch:
        for record in records:
            key = segment_key(record.get("segment") or PROSPECTS, str(record["customer_id"]))
            batch.save(ScoreModel(**{**record, "segment_key": key}))
    if expires_at is not None:
        with ScoreHistoryModel.batch_write() as batch:
            for record in records:
                entry: dict[str, Any] = {name: record.get(name) for name in HISTORY_FIELDS}
                batch.save(ScoreHistoryModel(**entry, expires_at=expires_at))
    ids = [str(record["customer_id"]) for record in records]
    live = customers.live_ids(ids)
    gone = [record for record in records if record["customer_id"] not in live]
    if gone:
        with ScoreModel.batch_write() as batch:
            for record in gone:
                batch.delete(ScoreModel(record["customer_id"]))
        if expires_at is not None:
            with ScoreHistoryModel.batch_write() as batch:
                for record in gone:
                    batch.delete(ScoreHistoryModel(record["customer_id"], record["run_id"]))
    return len(records) - len(gone)


def history(customer_id: str, limit: int = 100) -> list[ScoreHistoryRecord]:
    """A customer's scores over the latest ``limit`` runs, oldest first."""
    items = ScoreHistoryModel.query(customer_id, scan_index_forward=False, limit=limit)
    found = [record_of(ScoreHistoryRecord, item) for item in items]
    return sorted(found, key=lambda entry: entry.scored_at)


def segment_members(segment: str, limit: int) -> Iterator[ScoreRecord]:
    """Scores of one segment's members (``segment`` is a segment name or prospects'), by Query on the
    by-segment index, shard after shard, at most ``limit`` items read per shard."""
    for shard in range(SEGMENT_SHARDS):
        for item in ScoreModel.by_segment.query(f"{segment}#{shard:02d}", limit=limit, page_size=limit):
            yield record_of(ScoreRecord, item)


def scan_all(segment: int = 0, total_segments: int = 1) -> Iterator[ScoreRecord]:
    for item in ScoreModel.scan(segment=segment, total_segments=total_segments):
        yield record_of(ScoreRecord, item)
