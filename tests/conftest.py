"""Shared fixtures: one local stack (moto server + HTTP adapter + dispatcher) for the whole session."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from infra.local.demo import Client
from infra.local.stack import LocalStack
from tests.site import Site


@pytest.fixture(scope="session")
def site() -> Iterator[Site]:
    """A web site on its own local port (another origin than the API), allow-listed for CORS."""
    served = Site().start()
    yield served
    served.stop()


@pytest.fixture(scope="session")
def stack(site: Site) -> Iterator[LocalStack]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    local = LocalStack(api_port=0, verbose=False, extra_origins=(site.origin,))
    local.start(background_dispatch=False)  # tests drain the dispatcher when they want delivery
    yield local
    local.stop()


@pytest.fixture(scope="session")
def client(stack: LocalStack) -> Client:
    return Client(stack.api_url, stack.api_key)
