"""The local stack: moto server, resources, HTTP adapter and dispatcher, wired like the cloud stack."""

from __future__ import annotations

import logging
import os
import socket
import threading
from types import TracebackType

from moto.server import ThreadedMotoServer

from infra.local import faults, moto_atomic
from infra.local.dispatcher import Dispatcher
from infra.local.http_adapter import ApiAdapter, make_server
from infra.local.presigned import enforce_link_expiry
from infra.local.resources import LocalResources, create_all

LOCAL_API_KEY = "local-api-key"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


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
    def __init__(
        self,
        host: str = "127.0.0.1",
        api_port: int = 8080,
        verbose: bool = True,
        extra_origins: tuple[str, ...] = (),
        workers: int = 0,
    ) -> None:
        """``workers``: API worker processes, each its own Lambda container (0: in this process, one
        request per function at a time, so tests can patch the handlers' code)."""
        self.host = host
        # Sites (origins) allowed to call the public API from a browser, besides the API's own.
        self.extra_origins = extra_origins
        self.workers = workers
        self.api_port = api_port
        self.verbose = verbose
        self.moto: ThreadedMotoServer | None = None
        self.moto_url = ""
        self.api_url = ""
        self.api_key = os.environ.get("RM_LOCAL_API_KEY", LOCAL_API_KEY)
        self.resources: LocalResources | None = None
        self.dispatcher: Dispatcher | None = None
        self._server_thread: threading.Thread | None = None

    def _say(self, line: str) -> None:
        if self.verbose:
            print(line, flush=True)

    def start(self, background_dispatch: bool = True) -> LocalStack:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
        moto_port = _free_port(self.host)
        self.moto = ThreadedMotoServer(ip_address=self.host, port=moto_port, verbose=False)
        self.moto.start()
        enforce_link_expiry(self.moto._server)
        moto_atomic.install(self.moto._server)  # before the fault injector, which must wrap it
        self.faults = faults.install(self.moto._server)  # tests inject AWS faults through it
        self.moto_url = f"http://{self.host}:{moto_port}"
        self.server = make_server(
            ApiAdapter(self.api_key, on_request=self._say if self.verbose else None, workers=self.workers),
            self.host,
            self.api_port,
        )
        self.api_url = f"http://{self.host}:{self.server.server_address[1]}"
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.moto_url,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
                "RM_PUBLIC_BASE_URL": self.api_url,
                "RM_ALLOWED_ORIGINS": ",".join(
                    (self.api_url, f"http://localhost:{self.server.server_address[1]}", *self.extra_origins)
                ),
                "POWERTOOLS_SERVICE_NAME": "relationship-marketing-local",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        reset_clients()
        from shared.settings import get_settings

        settings = get_settings()
        self.resources = create_all(settings)
        from shared.services.campaigns import sync_catalogue

        catalogue = sync_catalogue()
        from infra.local.launchers import in_process_ports
        from shared.services import ports

        ports.use(in_process_ports())  # scoring runs and exports run in this process, not on AWS
        self.dispatcher = Dispatcher(self.resources, settings.region)
        self._server_thread = threading.Thread(target=self.server.serve_forever, name="api", daemon=True)
        self._server_thread.start()
        if background_dispatch:
            self.dispatcher.start()
        self._say(f"moto server on {self.moto_url}; tables, bus, queues and bucket created")
        self._say(f"campaign catalogue {catalogue.version} loaded: {len(catalogue.campaigns)} campaigns")
        self._say(f"API on {self.api_url} (private routes: header x-api-key: {self.api_key})")
        return self

    def drain(self) -> int:
        assert self.dispatcher is not None
        return self.dispatcher.drain()

    def sent_emails(self) -> list[dict[str, str]]:
        """Emails SES accepted (moto keeps them in memory; the server runs in this process)."""
        from email import message_from_string, policy

        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        from shared.settings import get_settings

        backend = ses_backends[DEFAULT_ACCOUNT_ID][get_settings().region]
        emails: list[dict[str, str]] = []
        for sent in backend.sent_messages:
            raw = getattr(sent, "raw_data", None)
            if raw is None:
                continue
            message = message_from_string(raw, policy=policy.default)
            body = message.get_body(preferencelist=("plain",))
            emails.append(
                {
                    **{k: str(v) for k, v in message.items()},
                    "Body": body.get_content() if body is not None else "",
                }
            )
        return emails

    def stop(self) -> None:
        if self.dispatcher:
            self.dispatcher.stop()
        if self._server_thread:
            self.server.shutdown()
            self.server.server_close()
            self.server.adapter.close()
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
