"""The local stack: moto server, resources, HTTP adapter and dispatcher, wired like the cloud stack."""

from __future__ import annotations

import hmac
import importlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from infra.local import local_signing, moto_http
from infra.local.console_auth import DEFAULT_PASSWORD, USERS, HostedUiStandIn, LocalCognito, TokenVerifier
from infra.local.dispatcher import Dispatcher
from infra.local.http_adapter import ApiAdapter, make_server
from infra.local.moto_process import MotoProcess, RemoteFaults
from infra.local.outbox import read_outbox
from infra.local.output import METRICS_LOG_VARIABLE, route_metrics
from infra.local.resources import LocalResources, create_all

LOCAL_API_KEY = "local-api-key"
# The functions' metrics (EMF lines) in local mode: a file, not the terminal.
METRICS_LOG = Path(__file__).resolve().parents[2] / "build" / "local" / "metrics.log"
# What the start imports once moto answers, imported while moto starts instead.
MODULES_USED_AT_START = (
    "shared.settings",
    "infra.local.channels",
    "shared.services.campaigns",
    "infra.local.launchers",
)
# How often the API servers look for a stop request (socketserver's default, 0.5 s, is what a stop waits).
STOP_POLL_SECONDS = 0.05


def reset_clients() -> None:
    """Forget cached settings and AWS clients (after the environment changed)."""
    from shared.dal import blobs, bus
    from shared.dal.models import ALL_MODELS
    from shared.settings import get_settings

    get_settings.cache_clear()
    bus._client.cache_clear()
    blobs.client.cache_clear()
    for model in ALL_MODELS:
        model._connection = None


class LocalStack:
    """``metrics_log``: the file for the functions' EMF metric lines (they stay off the terminal; None:
    they go to stdout). Metrics stay on, as in the cloud: powertools only clears a disabled Metrics when
    it reaches 100 values, and then prints them anyway."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        api_port: int = 8080,
        verbose: bool = True,
        extra_origins: tuple[str, ...] = (),
        workers: int = 0,
        metrics_log: Path | None = METRICS_LOG,
    ) -> None:
        """``workers``: API worker processes, each its own Lambda container (0: in this process, one
        request per function at a time, so tests can patch the handlers' code)."""
        self.host = host
        # Sites (origins) allowed to call the public API from a browser, besides the API's own.
        self.extra_origins = extra_origins
        self.workers = workers
        self.api_port = api_port
        self.verbose = verbose
        self.metrics_log = metrics_log
        self.moto: MotoProcess | None = None
        self.moto_url = ""
        self.api_url = ""
        self.api_key = os.environ.get("RM_LOCAL_API_KEY", LOCAL_API_KEY)
        self.resources: LocalResources | None = None
        self.dispatcher: Dispatcher | None = None
        self._server_thread: threading.Thread | None = None
        self._sent: list[dict[str, str]] = []  # sent_emails(), parsed
        self._sent_seen = 0
        self._sent_lock = threading.Lock()

    def _say(self, line: str) -> None:
        if self.verbose:
            print(line, flush=True)

    def start(self, background_dispatch: bool = True, serve: bool = True) -> LocalStack:
        """``serve=False``: the API port is bound but not answered until :meth:`serve` (requests wait in
        the backlog), e.g. while demo data is loaded through :meth:`private_api`."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        # Header blocks read here (the functions' SDK clients reading moto's answers, the API adapter
        # reading requests) are parsed without the email parser, as in the moto process.
        moto_http.install_client()
        moto_http.install()
        local_signing.install()  # moto reads the credential scope of a request, never its signature
        if self.metrics_log is not None:
            route_metrics(self.metrics_log)
            os.environ[METRICS_LOG_VARIABLE] = str(self.metrics_log)  # the adapter's worker processes too
        # moto in its own process (S3 link expiry, atomic DynamoDB, fault injection wrapped around it),
        # launched first: it imports itself (about half a second) while this process does its own start.
        self.moto = MotoProcess(self.host, 0).launch()
        self._sent, self._sent_seen = [], 0  # a new moto has sent nothing
        self.adapter = ApiAdapter(
            self.api_key, on_request=self._say if self.verbose else None, workers=self.workers
        )
        self.adapter.extra_pages = {"/local/outbox": self._outbox_page}
        self.server = make_server(self.adapter, self.host, self.api_port)
        for module in MODULES_USED_AT_START:
            importlib.import_module(module)
        self.moto.wait_until_ready()
        self.faults: RemoteFaults = self.moto.faults  # tests inject AWS faults through it
        self.moto_url = self.moto.url
        self.api_url = f"http://{self.host}:{self.server.server_address[1]}"
        port = self.server.server_address[1]
        # Configurable like every other setting (RM_ALLOWED_ORIGINS in the environment wins).
        configured = os.environ.get("RM_ALLOWED_ORIGINS") or f"{self.api_url},http://localhost:{port}"
        # Sites the tests serve pages from are allowed too.
        origins = ",".join(dict.fromkeys([*configured.split(","), *self.extra_origins]))
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
                "RM_PUBLIC_BASE_URL": self.api_url,
                "RM_ALLOWED_ORIGINS": origins,
                "POWERTOOLS_SERVICE_NAME": "relationship-marketing-local",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "false",
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        reset_clients()
        from shared.settings import get_settings

        settings = get_settings()
        self.resources = create_all(settings)
        self._start_console_sign_in(settings.region)
        from infra.local import channels

        channels.create_channel_resources(self.resources, settings)
        from shared.services.campaigns import sync_catalogue

        catalogue = sync_catalogue()
        from infra.local.launchers import in_process_ports
        from shared.services import ports

        ports.use(in_process_ports())  # scoring runs and exports run in this process, not on AWS
        # With API worker processes, the queue and stream deliveries run in them too (each a Lambda
        # container, as the API's requests), as many batches of a queue at once as there are workers:
        # this process only moves records and messages.
        self.dispatcher = Dispatcher(
            self.resources,
            settings.region,
            invoke=self.adapter.invoke if self.workers > 0 else None,
            queue_concurrency=max(1, self.workers),
        )
        # Each API request (workers' too: their answers come back through the adapter here) wakes it.
        self.adapter.activity = self.dispatcher.activity
        # The CRM receiver, webhook delivery and SES event injection (infra/local/channels.py).
        self.channels = channels.attach(
            self.resources, self.dispatcher, self.adapter, self.host, self.api_key, settings
        )
        if serve:
            self.serve()
        if background_dispatch:
            self.dispatcher.start()
        self._say(f"moto server on {self.moto_url}; tables, bus, queues and bucket created")
        self._say(f"campaign catalogue {catalogue.version} loaded: {len(catalogue.campaigns)} campaigns")
        self._say(f"API on {self.api_url} (private routes: header x-api-key: {self.api_key})")
        self._say(
            f"console on {self.api_url}/dashboard/ - sign in as {' or '.join(USERS)}, "
            f"password {self.cognito.password}"
        )
        return self

    def _start_console_sign_in(self, region: str) -> None:
        """The console's user pool on moto (groups marketing/admin, one user each), the hosted-UI stand-in
        and the token check of private routes (see :mod:`infra.local.console_auth`)."""
        port = self.server.server_address[1]
        console = (f"{self.api_url}/dashboard/", f"http://localhost:{port}/dashboard/")
        password = os.environ.get("RM_LOCAL_CONSOLE_PASSWORD", DEFAULT_PASSWORD)
        self.cognito = LocalCognito(region, self.moto_url, password).create(console)
        self.adapter.verify_token = TokenVerifier(self.cognito).claims
        self.adapter.local_routes.update(HostedUiStandIn(self.cognito).routes())
        self.adapter.extra_pages["/dashboard/config.json"] = self._console_config

    def _console_config(self, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """The console's settings (the deployed console has the same file, written by the stack)."""
        origin = f"http://{headers['host']}" if headers.get("host") else self.api_url
        body = json.dumps(self.cognito.console_config(origin, f"{origin}/dashboard/")).encode()
        return 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}, body

    def serve(self) -> None:
        """Answer requests on the API port (from now on)."""
        if self._server_thread is None:
            self._server_thread = threading.Thread(
                target=self.server.serve_forever, args=(STOP_POLL_SECONDS,), name="api", daemon=True
            )
            self._server_thread.start()

    @contextmanager
    def private_api(self) -> Iterator[str]:
        """A second API server on a free port, for the stack's own use (loading demo data) while the public
        port does not answer yet; yields its URL."""
        server = make_server(self.adapter, self.host, 0)
        thread = threading.Thread(
            target=server.serve_forever, args=(STOP_POLL_SECONDS,), name="api-private", daemon=True
        )
        thread.start()
        try:
            yield f"http://{self.host}:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()

    def drain(self) -> int:
        assert self.dispatcher is not None
        return self.dispatcher.drain()

    def sent_emails(self) -> list[dict[str, str]]:
        """Emails SES accepted, as raw emails (their headers, and ``Body``: the plain-text part)."""
        from email import message_from_string, policy

        from shared.settings import get_settings

        assert self.moto is not None
        # SES's list only grows: each message is fetched and parsed once.
        with self._sent_lock:
            new = self.moto.sent_messages(get_settings().region, start=self._sent_seen)
            self._sent_seen += len(new)
            for sent in new:
                if sent.raw_data is None:
                    continue
                message = message_from_string(sent.raw_data, policy=policy.default)
                body = message.get_body(preferencelist=("plain",))
                self._sent.append(
                    {
                        **{k: str(v) for k, v in message.items()},
                        "Body": body.get_content() if body is not None else "",
                    }
                )
            return [dict(email) for email in self._sent]

    def outbox(self) -> list[dict[str, Any]]:
        """The emails sent so far, with links and raw headers (:mod:`infra.local.outbox`)."""
        from shared.settings import get_settings

        return read_outbox(get_settings().region)

    def _outbox_page(self, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        claims = (
            self.adapter.verify_token(headers.get("authorization", "")) if self.adapter.verify_token else None
        )
        is_admin = claims is not None and "admin" in str(claims.get("cognito:groups", "")).split(",")
        if not is_admin and not hmac.compare_digest(
            headers.get("x-api-key", "").encode(), self.api_key.encode()
        ):
            return 403, {"Content-Type": "application/json"}, b'{"message": "needs the x-api-key header"}'
        body = json.dumps({"emails": self.outbox()}).encode()
        return 200, {"Content-Type": "application/json", "Cache-Control": "no-store"}, body

    def stop(self) -> None:
        if self.dispatcher:
            self.dispatcher.close()
        if getattr(self, "channels", None) is not None:
            self.channels.stop()
        if self._server_thread:
            self.server.shutdown()
        if self.moto:  # started: the API socket was bound
            self.server.server_close()
            self.adapter.close()
        if self.moto:
            self.moto.stop()
        from shared.services import ports

        ports.use(None)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
