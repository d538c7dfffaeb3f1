"""Local mode as people use it: the outbox (route, page, command), the thank-you page, metrics kept off the
terminal, the API answering only once the stack is ready, configurable origins, and the keep-alive moto
server the stack runs on."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib import request
from urllib.parse import urlsplit

import boto3
import pytest

from infra.local import outbox
from infra.local.demo import Client
from infra.local.output import MetricsRouter
from infra.local.stack import LocalStack
from shared.settings import Settings
from tests.helpers import daytime_zone, new_champions, unique


def _signup(stack: LocalStack, client: Client) -> str:
    address = f"{unique('outbox')}@example.com"
    status, _, _ = client.call(
        "POST",
        "/v1/identify",
        {"userId": unique("u"), "traits": {"email": address, "timezone": daytime_zone()}},
    )
    assert status == 200
    status, _, _ = client.call("POST", "/v1/forms/newsletter", form={"email": address})
    assert status == 200
    stack.drain()
    return address


def test_outbox_lists_sent_emails_with_links_and_raw_headers(stack: LocalStack, client: Client) -> None:
    address = _signup(stack, client)
    req = request.Request(f"{stack.api_url}/local/outbox", headers={"x-api-key": stack.api_key})
    with request.urlopen(req, timeout=30) as response:
        assert response.headers["Content-Type"] == "application/json"
        emails = json.loads(response.read())["emails"]
    mine = [e for e in emails if e["to"] == address]
    assert len(mine) == 1
    mail = mine[0]
    assert "confirm" in mail["subject"].lower()
    assert any("/v1/consent/confirm?token=" in link for link in mail["links"])
    assert f"To: {address}" in mail["headers"]
    assert "Subject:" in mail["headers"]
    # The confirmation link in the outbox works.
    link = urlsplit(next(link for link in mail["links"] if "/v1/consent/confirm" in link))
    assert client.call("GET", f"{link.path}?{link.query}")[0] == 200


def test_outbox_needs_the_api_key(stack: LocalStack) -> None:
    with pytest.raises(request.HTTPError) as refused:
        request.urlopen(f"{stack.api_url}/local/outbox", timeout=30)
    assert refused.value.code == 403


def test_outbox_command_prints_the_emails(
    stack: LocalStack, client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    address = _signup(stack, client)
    assert outbox.main(["--url", stack.api_url, "--key", stack.api_key, "--headers"]) == 0
    printed = capsys.readouterr().out
    assert f"to {address}" in printed
    assert "link: http" in printed
    assert "List-Unsubscribe" in printed or "Content-Type: text/plain" in printed


def test_outbox_page_and_thanks_page_are_served(stack: LocalStack) -> None:
    with request.urlopen(f"{stack.api_url}/dashboard/outbox.html", timeout=30) as page:
        html = page.read().decode()
    assert "outbox.js" in html
    with request.urlopen(f"{stack.api_url}/dashboard/outbox.js", timeout=30) as script:
        assert "/local/outbox" in script.read().decode()
    with request.urlopen(f"{stack.api_url}/thanks", timeout=30) as thanks:
        assert thanks.status == 200
        assert "Thank you" in thanks.read().decode()


def test_form_redirect_lands_on_a_real_page(stack: LocalStack, client: Client) -> None:
    status, _, headers = client.call(
        "POST",
        "/v1/forms/newsletter",
        form={"email": f"{unique('thanks')}@example.com", "redirect": f"{stack.api_url}/thanks"},
    )
    assert status == 303
    with request.urlopen(headers["Location"], timeout=30) as landing:
        assert landing.status == 200


def test_metrics_router_keeps_emf_lines_off_the_terminal() -> None:
    terminal, metrics = io.StringIO(), io.StringIO()
    router = MetricsRouter(terminal, metrics)
    emf = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "Hits": [1.0]})

    def worker(n: int) -> None:
        for _ in range(50):
            print(emf, file=router)
            print(f"line {n}", file=router)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    router.write("progress 10%\r")  # a progress bar's redraw shows at once
    assert router.metric_lines == 200
    assert metrics.getvalue().count('{"_aws"') == 200
    shown = terminal.getvalue()
    assert '{"_aws"' not in shown
    assert shown.count("line ") == 200
    assert shown.endswith("progress 10%\r")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_mode_with_seed(tmp_path: Path) -> None:
    """``python -m infra.local --seed`` in its own process: requests sent while the demo data loads are
    answered only after "Serving on" is printed; metrics go to the log file, not the terminal; the allowed
    origins come from the command line."""
    port = _free_port()
    metrics_log = tmp_path / "metrics.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RM_", "POWERTOOLS_"))}
    command = [sys.executable, "-m", "infra.local", "--seed", "--customers", "3", "--port", str(port)]
    command += ["--score-every", "0", "--metrics-log", str(metrics_log)]
    command += ["--allowed-origins", "https://shop.example.com"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    answered_at: list[float] = []
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):  # the port is bound first
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

        def early_request() -> None:
            with request.urlopen(f"{base}/thanks", timeout=600) as response:
                assert response.status == 200
                answered_at.append(time.monotonic())

        waiting = threading.Thread(target=early_request)
        waiting.start()
        output: list[str] = []
        assert process.stdout is not None
        serving_at = None
        for line in process.stdout:
            output.append(line)
            if line.startswith("Serving on"):
                serving_at = time.monotonic()
                break
        assert serving_at is not None, "".join(output)
        waiting.join(timeout=60)
        assert answered_at, "the early request was never answered"
        assert answered_at[0] >= serving_at - 0.5, "answered before the stack was ready"
        assert "loading the demo data" in "".join(output)
        assert not [line for line in output if line.startswith('{"_aws"')]
        assert "UserWarning" not in "".join(output)
        assert '{"_aws"' in metrics_log.read_text()
        preflight = request.Request(
            f"{base}/v1/forms/newsletter",
            method="OPTIONS",
            headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"},
        )
        with request.urlopen(preflight, timeout=60) as response:
            assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_settings_read_from_the_environment() -> None:
    settings = Settings.from_environment(
        {
            "RM_CUSTOMERS_TABLE": "t-customers",
            "aws_default_region": "us-east-2",
            "RM_EXPORT_LINK_TTL_SECONDS": "120",
            "RM_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:x",
            "UNRELATED": "x",
        }
    )
    assert settings.customers_table == "t-customers"
    assert settings.region == "us-east-2"
    assert settings.export_link_ttl_seconds == 120
    assert settings.token_secret_arn == "arn:aws:secretsmanager:x"
    assert Settings.from_environment({}).interactions_table == "rm-interactions"


def test_moto_keeps_connections_alive(stack: LocalStack) -> None:
    """One TCP connection serves many AWS calls (moto's own server closes each one)."""
    assert stack.moto is not None
    host, port = stack.moto.get_host_and_port()
    connections: list[int] = []
    original = socket.create_connection

    def counting(*args: Any, **kwargs: Any) -> socket.socket:
        connections.append(1)
        return original(*args, **kwargs)

    import urllib3.util.connection

    dynamodb = boto3.client("dynamodb", endpoint_url=f"http://{host}:{port}")
    dynamodb.list_tables()  # the pool's connection exists now
    saved = urllib3.util.connection.socket.create_connection
    urllib3.util.connection.socket.create_connection = counting  # type: ignore[assignment]
    try:
        for _ in range(20):
            assert dynamodb.list_tables()["TableNames"]
    finally:
        urllib3.util.connection.socket.create_connection = saved  # type: ignore[assignment]
    assert connections == []


def test_dispatcher_empties_the_queue_at_once_and_delivers_everything(stack: LocalStack) -> None:
    """A burst of bus events (as a scoring run publishes) leaves the queue on the first pass; every message
    is still delivered to the campaigns function, in batches of at most 10."""
    from shared.dal.bus import publish

    assert stack.dispatcher is not None
    stack.drain()
    sqs = boto3.client("sqs")
    url = stack.resources.queue_urls["CampaignsQueue"]  # type: ignore[union-attr]
    assert publish(new_champions("burst", 35)) == 35
    delivered_before = stack.dispatcher.log.queue_messages
    handled = stack.dispatcher.pump()
    assert 0 < handled <= 10
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    stack.drain()
    assert stack.dispatcher.log.queue_messages - delivered_before >= 35
