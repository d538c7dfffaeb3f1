"""One botocore session per process for the DynamoDB connections and the bus client.

PynamoDB gives every model class a connection of its own, and every connection a new botocore session
(``botocore.session.get_session()``). Each new session loads and parses botocore's data files again (the
endpoints, the service model, its endpoint rules) before it builds its client: the tracking function's
first requests reach three tables and the bus, four sessions, about 0.3 s of CPU added to its cold start.
In one session the first client costs about 0.09 s and each next one about 5 ms (measured in the
Lambda-like layout, ``benchmarks/bench_cold_start.py``).

The requests are the same: each connection still builds its own client with its own configuration. What
is shared is what a session caches: the parsed data files, and the credentials it resolves. The session is
kept per set of ``AWS_*`` environment variables, so a process whose environment changes (the local stack
pointing the functions at moto, tests) gets a new one, as it did with a session per connection. botocore
does not make creating clients in one session thread-safe, so that holds a lock.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

from botocore.session import Session, get_session
from pynamodb.connection import Connection

_CLIENTS = threading.Lock()


def botocore_session() -> Session:
    """The process's session for the current ``AWS_*`` environment."""
    return _session(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))))


@lru_cache(maxsize=1)
def _session(_environment: tuple[tuple[str, str], ...]) -> Session:
    return get_session()


def create_client(service: str, region_name: str, **kwargs: Any) -> Any:
    """A botocore client of the shared session (what ``boto3.client`` builds, without boto3's import)."""
    with _CLIENTS:
        return botocore_session().create_client(service, region_name=region_name, **kwargs)


class SharedSessionConnection(Connection):
    """A PynamoDB connection whose client is built in the process's session (see the module's doc)."""

    @property
    def session(self) -> Session:
        return botocore_session()

    @property
    def client(self) -> Any:
        with _CLIENTS:
            return super().client


def share_session(connection: Connection) -> None:
    """Make a connection PynamoDB built build its client in the shared session. The subclass adds
    behaviour only (no state), so the connection keeps every setting it was made with."""
    if not isinstance(connection, SharedSessionConnection):
        connection.__class__ = SharedSessionConnection
