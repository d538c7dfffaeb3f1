"""moto's server with keep-alive connections: the local stack's stand-in for AWS, without the per-request
TCP connection and thread that moto's own ``ThreadedMotoServer`` costs.

moto serves its WSGI app on werkzeug's development server, which answers every request with
``Connection: close`` (werkzeug cannot drain an unread request body before the next request line). So
every AWS call of the local stack opened a TCP connection and started a server thread, and moto looked up
its service list on disk for each request (``list_of_moto_modules`` lists its package directory). Here:

- the request handler is moto's own (``MotoRequestHandler``, werkzeug's environ), but reads each body
  completely before the app runs, so the connection can safely serve the next request: keep-alive, with
  ``TCP_NODELAY`` (headers and body are separate writes);
- moto's service list is read once (it is the installed package: it cannot change while we run);
- DynamoDB requests are served one at a time. moto is not thread-safe: two concurrent writes could be
  given the same stream sequence number, or an ``ADD`` could read the item before the other one wrote it,
  and a record or an increment was lost. Faster connections made those windows easier to hit; DynamoDB
  requests in moto never block, so the lock only orders them;
- a DynamoDB ``Query`` on a table's own key reads the item collection of its partition key, as DynamoDB
  does: moto sorts and walks every item of the table for each query, so a query's cost grew with the table
  (the Interactions and CampaignDecisions tables grow with every event). An index query sorts only the
  items whose attributes match its hash key conditions (moto sorted the whole table, then filtered).

The app is moto's ``DomainDispatcherApplication``, exactly what ``ThreadedMotoServer`` serves;
``._server.app`` can be wrapped (fault injection, presigned-link expiry) as before.
"""

from __future__ import annotations

import io
import logging
import threading
import time
import types
from typing import Any

from moto import backends
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import ThreadedWSGIServer

from infra.local import moto_direct, moto_http, moto_speedups

_MOTO_MODULES = tuple(backends.list_of_moto_modules())


def _cached_moto_modules() -> tuple[str, ...]:
    return _MOTO_MODULES


class _Partition:
    """A table seen through one partition key: ``all_items`` yields that item collection only."""

    def __init__(self, table: Table, hash_key: Any) -> None:
        self._table = table
        self._hash_key = hash_key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Any]:
        collection = self._table.items.get(self._hash_key)
        if collection is None:
            return []
        return list(collection.values()) if self._table.range_key_attr else [collection]


class _IndexCandidates:
    """The part of a table an index query can match: its items whose attributes equal the query's hash
    key conditions (moto's own test, applied again by moto), in ``Table.all_items``'s order."""

    def __init__(self, table: Table, conditions: list[tuple[str, Any]]) -> None:
        self._table = table
        self._conditions = conditions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def _matches(self, item: Any) -> bool:
        for name, expected in self._conditions:
            value = item.attrs.get(name) if hasattr(item, "attrs") else None
            if not value or value != expected:
                return False
        return True

    def all_items(self) -> list[Any]:
        table = self._table
        if table.range_key_attr:
            items: dict[Any, Any] = {}
            for hash_value, collection in table.items.items():
                kept = {key: item for key, item in collection.items() if self._matches(item)}
                if kept:
                    items[hash_value] = kept
        else:
            items = {key: item for key, item in table.items.items() if self._matches(item)}
        # moto's own sort of a table's items, over the candidates only (a stable sort of a subsequence).
        view = types.SimpleNamespace(items=items, range_key_attr=table.range_key_attr)
        return Table.all_items(view)  # type: ignore[arg-type]


_table_query = Table.query
# One DynamoDB request at a time in moto (see the module docstring).
_DYNAMODB_LOCK = threading.Lock()


def _partition_query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    conditions = kwargs.get("hash_key_conditions")
    if index_name and conditions:
        # moto sorts the whole table for an index query, then keeps the items of the index's hash key:
        # here it sorts (and filters again) only those.
        return _table_query(_IndexCandidates(self, list(conditions)), hash_key, *args, **kwargs)  # type: ignore[arg-type]
    if index_name or hash_key is None:
        return _table_query(self, hash_key, *args, **kwargs)
    # moto compares each item's hash key with hash_key and sorts by range key itself: same results.
    return _table_query(_Partition(self, hash_key), hash_key, *args, **kwargs)  # type: ignore[arg-type]


class _KeepAliveHandler(MotoRequestHandler):
    """moto's environ (werkzeug's plus its header fixes); the response is written here, not by werkzeug's
    ``run_wsgi``, which closes every connection and then drains the socket for 10 ms."""

    disable_nagle_algorithm = True
    _date: tuple[int, str] = (0, "")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug formats its request log line before its logger drops it: skip both when the
        # werkzeug logger's own level is above INFO (the moto process sets ERROR).
        if logging.getLogger("werkzeug").level <= logging.INFO:
            super().log_request(code, size)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header has a resolution of one second: formatted once per second, not per response.
        if timestamp is not None:
            return super().date_time_string(timestamp)
        now = int(time.time())
        cached = _KeepAliveHandler._date
        if cached[0] != now:
            cached = _KeepAliveHandler._date = (now, super().date_time_string(now))
        return cached[1]

    def run_wsgi(self) -> None:
        environ = self.make_environ()
        if environ.get("wsgi.input_terminated"):
            self.close_connection = True  # a chunked upload: keep-alive only for bodies of known length
        else:
            # The whole body now, so nothing of it is left on the connection for the next request line.
            environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(environ.get("CONTENT_LENGTH") or 0)))
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return chunks.append

        serialised = str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB")
        try:
            if serialised:
                _DYNAMODB_LOCK.acquire()
            try:
                result = self.server.app(environ, start_response)
                try:
                    chunks.extend(result)
                finally:
                    if hasattr(result, "close"):
                        result.close()
            finally:
                if serialised:
                    _DYNAMODB_LOCK.release()
        except Exception:
            logging.getLogger(__name__).exception("moto failed on a request")
            started[:] = ["500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")]]
            chunks[:] = [b"moto failed on this request"]
        status, headers = started
        body = b"".join(chunks)
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        with_body = self.command != "HEAD" and int(code) not in (204, 304)
        if self.request_version == "HTTP/0.9":  # no header block (http.server writes none)
            if with_body:
                self.wfile.write(body)
            return
        # The header lines as ``send_header`` encodes them (it would only look at Connection, left
        # out), then the blank line and the body: one write, one segment for a small answer.
        lines = self._headers_buffer
        length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered in ("connection", "transfer-encoding"):
                continue
            length = length or lowered == "content-length"
            lines.append(f"{name}: {value}\r\n".encode("latin-1", "strict"))
        if not length:
            lines.append(f"Content-Length: {len(body)}\r\n".encode("latin-1", "strict"))
        lines.append(b"\r\n")
        if with_body:
            lines.append(body)
        self.flush_headers()


class KeepAliveMotoServer:
    """``ThreadedMotoServer``'s interface (start, stop, get_host_and_port, ``_server.app``)."""

    def __init__(self, ip_address: str = "127.0.0.1", port: int = 0, direct: bool = True) -> None:
        backends.list_of_moto_modules = _cached_moto_modules
        Table.query = _partition_query  # type: ignore[method-assign]
        moto_speedups.install()
        moto_http.install()
        app = DomainDispatcherApplication(create_backend_app)
        # A thread per connection (as moto's server), each kept for its connection's life.
        self._server = ThreadedWSGIServer(ip_address, port, app, handler=_KeepAliveHandler)
        if direct:  # JSON-protocol requests straight to moto's response classes (``moto_direct``)
            moto_direct.install(self._server)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="moto", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        # ``shutdown`` waits for the loop to look at its flag: every 50 ms, not the default 0.5 s.
        self._server.serve_forever(poll_interval=0.05)

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
