"""Make moto's DynamoDB behave atomically, as DynamoDB does, when several processes call one moto server.

moto's server answers each request on its own thread, and its DynamoDB backend is plain Python: a
conditional write evaluates its condition and then writes, and a table's stream numbers a record as
``len(records) + start`` before appending it. Two concurrent writes can therefore both pass
``attribute_not_exists`` (a duplicate AWS would refuse), or get the same stream sequence number (a
consumer that resumes "after" that number never sees the second record: an INSERT AWS would deliver is
lost). DynamoDB applies each item write atomically and numbers a shard's records strictly increasing.

:func:`install` closes both races in the local wrapper: every DynamoDB (and DynamoDB Streams) request is
handled under one lock, and the stream shard's ``add`` takes a lock too (for moto used in-process). The
lock costs no parallelism that matters: moto's backend runs under the GIL anyway, and the handlers still
run in parallel in their own threads or processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.dynamodb.models.table import StreamShard

from infra.local.faults import signing_service

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_DYNAMODB_LOCK = threading.RLock()
_SHARD_LOCK = threading.Lock()


class SerialDynamoDB:
    """WSGI wrapper: DynamoDB requests one at a time (each request is atomic, as in DynamoDB)."""

    def __init__(self, app: Wsgi) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # markers of the wrappers inside (e.g. presigned-link expiry)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if signing_service(environ) != "dynamodb":  # DynamoDB Streams signs as "dynamodb" too
            return self.app(environ, start_response)
        with _DYNAMODB_LOCK:
            return list(self.app(environ, start_response))


def _locked_add(original: Callable[..., None]) -> Callable[..., None]:
    def add(self: StreamShard, old: Any, new: Any) -> None:
        with _SHARD_LOCK:
            original(self, old, new)

    add.__wrapped__ = original  # type: ignore[attr-defined]
    return add


def install(server: Any) -> None:
    """Serialise a moto server's DynamoDB requests, and number stream records under a lock (idempotent)."""
    if not hasattr(StreamShard.add, "__wrapped__"):
        StreamShard.add = _locked_add(StreamShard.add)  # type: ignore[method-assign]
    if not isinstance(server.app, SerialDynamoDB):
        server.app = SerialDynamoDB(server.app)
