"""One botocore session for every table's client and the bus client (shared.dal.session): built once per
set of AWS_* variables, each connection keeping its own client and settings."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from pynamodb.connection import Connection

from shared.dal import bus, session
from shared.dal.models import CustomerModel, IdentityModel, InteractionModel

MODELS = (CustomerModel, IdentityModel, InteractionModel)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached: no request is sent

    def forget() -> None:
        for model in MODELS:
            model._connection = None
        bus._client.cache_clear()
        session._session.cache_clear()

    forget()
    yield
    forget()


def test_every_table_and_the_bus_build_their_clients_in_one_session(fresh: None) -> None:
    connections = [model._get_connection().connection for model in MODELS]
    clients = [connection.client for connection in connections]
    assert len({id(c) for c in clients}) == len(MODELS)  # a client per connection, as before
    # Built with the settings PynamoDB gives a connection of its own.
    plain = Connection(region=CustomerModel.Meta.region).client.meta.config
    for client in clients:
        for setting in ("read_timeout", "connect_timeout", "max_pool_connections", "retries"):
            assert getattr(client.meta.config, setting) == getattr(plain, setting)
    assert {c.meta.endpoint_url for c in clients} == {"http://127.0.0.1:9"}
    shared = session.botocore_session()
    assert all(connection.session is shared for connection in connections)
    # The bus client: same session, so the endpoints data parsed for the tables is not parsed again.
    loader = shared.get_component("data_loader")
    assert bus._client().meta.service_model.service_name == "events"
    assert session.botocore_session().get_component("data_loader") is loader


def test_a_changed_aws_environment_gets_a_new_session(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    first = session.botocore_session()
    assert session.botocore_session() is first
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "rotated")
    second = session.botocore_session()
    assert second is not first
    assert second.get_credentials().access_key == "rotated"


def test_clients_built_from_several_threads_at_once(fresh: None) -> None:
    clients: dict[str, object] = {}
    errors: list[BaseException] = []

    def build(model: type[CustomerModel] | type[IdentityModel] | type[InteractionModel]) -> None:
        try:
            clients[model.__name__] = model._get_connection().connection.client
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(model,)) for model in MODELS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({id(c) for c in clients.values()}) == len(MODELS)
