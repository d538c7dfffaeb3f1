"""Four costs of moto that grow with the local stack's data, removed without changing what it answers.

Profiled on ``make demo`` (py-spy, samples holding the GIL), moto's own work was 58 % of the demo's CPU:

- ``TransactWriteItems`` deep-copies every table it touches, whole, before each transaction, so it can
  restore them if one condition fails: the cost of a transaction grew with the size of the tables (the
  Interactions and CampaignDecisions tables grow with every event). Here the backup is of the items the
  transaction names (and the length of the table's stream), restored the same way on failure: DynamoDB's
  all-or-nothing, at a cost that no longer depends on the table's size.
- Every DynamoDB response was walked member by member against the service model (``ResponseSerializer``,
  20 % of the demo's CPU), although the data-plane results moto builds (``dynamo_to_dict``) are already
  the wire format. For those operations the result is written as JSON directly;
  ``tests/integration/test_moto_speedups.py`` checks it is the JSON moto's serializer writes.
- An EventBridge rule's target compiled its JSONPath input paths (a PLY parser built from its grammar)
  for every event it delivered; compiled paths are cached now (they are immutable).
- SQS asked for all of a queue's attributes (which count its messages) for each message it considered
  for delivery, to read its retention period: a receive cost the square of the queue's length. The
  retention period is read directly.

:func:`install` applies them to this process's moto (idempotent); the local moto server calls it.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from collections.abc import Callable
from typing import Any

# The data-plane operations whose results are already DynamoDB's wire format (AttributeValue maps).
FAST_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.0"}


class _TablesByReference:
    """Stands in for the ``copy`` module inside ``moto.dynamodb.models``: a ``Table`` "copied" for a
    transaction's backup is the table itself (the transaction wrapper keeps the items it needs);
    everything else is deep-copied as before."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._table_type):
            return value
        return copy.deepcopy(value, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _item_key(table: Any, operation: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    key = operation.get("Key") or operation.get("Item") or {}
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _stored(table: Any, hash_value: Any, range_value: Any) -> Any:
    if range_value is None:
        return table.items.get(hash_value)
    collection = table.items.get(hash_value)
    return None if collection is None else collection.get(range_value)


def _restore(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    if range_value is None:
        if item is None:
            table.items.pop(hash_value, None)
        else:
            table.items[hash_value] = item
        return
    collection = table.items.get(hash_value)
    if item is None:
        if collection is not None:
            collection.pop(range_value, None)
            if not collection:
                table.items.pop(hash_value, None)
    else:
        table.items.setdefault(hash_value, {})[range_value] = item


def _transact_with_item_backup(original: Callable[..., None]) -> Callable[..., None]:
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: list[tuple[Any, Any, Any, Any]] = []
        stream_lengths: dict[int, tuple[Any, int]] = {}
        try:
            for entry in transact_items[:100]:
                operation: dict[str, Any] = next(iter(entry.values()), {})
                table = self.tables.get(operation.get("TableName"))
                if table is None:
                    continue  # no such table: nothing to back up (moto cancels the transaction)
                hash_value, range_value = _item_key(table, operation)
                backups.append(
                    (table, hash_value, range_value, copy.deepcopy(_stored(table, hash_value, range_value)))
                )
                if table.stream_shard is not None:
                    stream_lengths.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
        except (KeyError, TypeError, ValueError, StopIteration):
            backups = []  # a malformed key: moto refuses it while validating, before any write
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_value, range_value, item in reversed(backups):
                _restore(table, hash_value, range_value, item)
            for shard, length in stream_lengths.values():
                del shard.items[length:]  # the records of writes that were undone
            raise

    transact_write_items.__wrapped__ = original  # type: ignore[attr-defined]
    return transact_write_items


def _base64(value: Any) -> str:
    """Binary attribute values (``B``, ``BS``) are base64 on the wire."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(type(value).__name__)


@functools.cache
def _output_members(operation: str) -> frozenset[str]:
    from moto.core.utils import get_service_model

    output = get_service_model("dynamodb").operation_model(operation).output_shape
    return frozenset(output.members) if output is not None else frozenset()


def _fast_dynamodb_response(original: Callable[..., Any]) -> Callable[..., Any]:
    def serialized(self: Any, action_result: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.dynamodb.responses import DynamoResult

        result = action_result.result
        if (
            type(action_result) not in (ActionResult, DynamoResult)  # e.g. paginated: moto's own
            or isinstance(result, Exception)
            or self._get_action() not in FAST_OPERATIONS
        ):
            return original(self, action_result)
        members = _output_members(self._get_action())
        if isinstance(result, dict):  # moto's serializer writes only the output shape's members
            result = {name: value for name, value in result.items() if name in members}
        try:
            body = json.dumps(result, default=_base64)
        except TypeError:  # a value the wire format spells differently: moto's serializer knows it
            return original(self, action_result)
        headers = dict(_JSON_HEADERS)
        headers.update(self.response_headers)
        return 200, headers, body

    serialized.__wrapped__ = original  # type: ignore[attr-defined]
    return serialized


def _retention_from_queue(self: Any, queue_name: str, message: Any) -> bool:
    from moto.core.utils import unix_time

    retention_period = int(self.get_queue(queue_name).message_retention_period)
    return bool(retention_period + message.sent_timestamp / 1000 > unix_time())


def install() -> None:
    """Apply the four changes to moto in this process (idempotent)."""
    import jsonpath_ng.ext
    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.models import SQSBackend

    backend = dynamodb_models.DynamoDBBackend
    if hasattr(backend.transact_write_items, "__wrapped__"):
        return
    dynamodb_models.copy = _TablesByReference(Table)  # type: ignore[attr-defined,assignment]
    backend.transact_write_items = _transact_with_item_backup(backend.transact_write_items)  # type: ignore[method-assign]
    DynamoHandler.serialized = _fast_dynamodb_response(DynamoHandler.serialized)  # type: ignore[method-assign]
    # moto imports ``parse`` from the module at each call: the cached one is what it finds.
    jsonpath_ng.ext.parse = functools.lru_cache(maxsize=512)(jsonpath_ng.ext.parse)  # type: ignore[attr-defined]
    SQSBackend.is_message_valid_based_on_retention_period = _retention_from_queue  # type: ignore[method-assign]
