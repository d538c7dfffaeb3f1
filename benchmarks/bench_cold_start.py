"""Cold-start import time of every handler in a Lambda-like layout, with and without ``.pyc``.

The layout mirrors the sandbox: the code asset (``functions`` and ``shared``, as ``make layers`` stages
them) as ``/var/task``, the layers' ``python/`` directories as ``/opt/python``, and boto3/botocore as the
runtime provides them (compiled, as in Lambda's image), imported by a Python 3.12 interpreter in isolated
mode (``-I``: no user site, no ``PYTHON*`` variables, no current directory) with ``-B`` (Lambda cannot write
``.pyc`` under ``/opt`` or ``/var/task``). The layers in ``build/layers`` are built for linux/arm64 and do
not load on this machine, so the same requirement strings are installed here for this machine's platform
(``build/lambda-like``, kept between runs) in two copies: ``src/`` without ``.pyc`` and ``pyc/`` with the
``.pyc`` the layer build compiles.

Each figure is a time in a fresh interpreter (start-up excluded), as a ratio to ``import boto3`` in the
same layout. The rounds are interleaved: every round runs ``import boto3``, each handler and the other
rows once in each layout, in an order that rotates from round to round, and a row's ratio in a round is
its time over that round's ``import boto3``. A busy machine slows whole stretches of time, so ratios taken
seconds apart are far steadier than blocks of runs minutes apart. Printed: the median of the per-round
ratios (the headline) and their minimum, over ``--runs`` rounds, of the process's CPU time (which other
work on the machine inflates far less than wall-clock time; a Lambda sandbox has its vCPU to itself), and
the median CPU and wall-clock milliseconds.

Two rows besides the handlers:

- "track's libraries only" imports just the libraries the track handler uses (PynamoDB with botocore,
  powertools' logger, metrics and REST resolver, pydantic with one model) and none of this project's
  code: the floor under the track handler's figure.
- "track: import + 1st requests" is what a cold start really pays, the import then the first requests:
  the track handler answers a Segment ``track`` call and then a form post, in the same fresh interpreter,
  against a moto server (``infra.local.moto_process``) holding the stack's tables and bus. An import made
  cheaper by moving the cost into the first request does not make this row cheaper. (``--no-requests``
  leaves it out.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from infra import build_layers

LAYOUT = build_layers.BUILD / "lambda-like"
# Bump when the layout's shape changes (a new shape is installed again).
LAYOUT_FORMAT = 2
VARIANTS = ("src", "pyc")  # without and with .pyc
HANDLERS = ("track", "admin_api", "aggregate", "campaigns", "email", "export", "score")
SCIENCE_HANDLERS = frozenset({"score", "export"})
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer")
# What the functions find in their environment in the cloud (values are placeholders: nothing is called,
# except by the first-requests row, which points AWS_ENDPOINT_URL at a moto server).
LAMBDA_ENV = {
    "AWS_REGION": "eu-west-1",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "RelationshipMarketing",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "RM_EVENT_BUS_NAME": "rm-bus",
}


# The libraries the track handler imports, and one pydantic model (the first one built loads the rest of
# pydantic): what its import costs before any code of this project runs. Not boto3: the function reaches
# AWS through botocore (PynamoDB's, and a botocore client for the bus).
TRACK_LIBRARIES = (
    "import pynamodb.models\n"
    "from aws_lambda_powertools import Logger, Metrics\n"
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
    "from pydantic import BaseModel\n"
    "class Probe(BaseModel):\n"
    "    name: str\n"
)
TRACK_FLOOR = "track's libraries only"
TRACK_REQUESTS = "track: import + 1st requests"

# The first requests: import the handler, answer each event (a JSON list in the file named by argv[1]),
# fail on an unexpected status.
FIRST_REQUESTS = """
import functions.track.handler as module
class Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:bench"
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self): return 30000
for event in EVENTS:
    answer = module.handler(event, Context())
    if answer["statusCode"] != 200:
        raise SystemExit(f"{event['path']}: {answer['statusCode']} {answer.get('body')}")
"""


@dataclass(frozen=True)
class Row:
    label: str
    statement: str
    science: bool = False  # needs the science layer
    events: bool = False  # first requests: fresh events per run, moto endpoint in the environment


def _host_platforms() -> list[str]:
    machine = platform.machine()
    return [p.replace("aarch64", machine) for p in build_layers.PLATFORMS]


def _pip_target(target: Path, requirements: Sequence[str]) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    cmd += ["--target", str(target), "--implementation", "cp"]
    cmd += ["--python-version", build_layers.PYTHON_VERSION]
    cmd += ["--only-binary=:all:", "--upgrade"]
    for name in _host_platforms():
        cmd += ["--platform", name]
    subprocess.run(cmd + list(requirements), check=True)


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def prepare(python: str) -> Path:
    """``build/lambda-like/{src,pyc}/layers`` and ``runtime``: the layers, without and with ``.pyc``, and
    the runtime's SDK for this machine's platform."""
    layers = build_layers.read_layers()
    runtime_requirements = [f"{name}=={metadata.version(name)}" for name in RUNTIME_PACKAGES]
    stamp = LAYOUT / ".stamp"
    wanted = _fingerprint(
        [layer.fingerprint() for layer in layers],
        runtime_requirements,
        _host_platforms(),
        python,
        LAYOUT_FORMAT,
    )
    if stamp.is_file() and stamp.read_text().strip() == wanted:
        return LAYOUT
    if LAYOUT.exists():
        shutil.rmtree(LAYOUT)
    for layer in layers:
        source = LAYOUT / "src" / "layers" / layer.name
        print(f"[cold-start] installing the {layer.name} layer for {platform.machine()}", flush=True)
        _pip_target(source, layer.requirements)
        build_layers._remove_runtime_provided(source)
        build_layers._strip(source)
        compiled = LAYOUT / "pyc" / "layers" / layer.name
        shutil.copytree(source, compiled)
        build_layers.compile_tree(compiled, build_layers.LAYER_MOUNT, python)
    print("[cold-start] installing the runtime's boto3 (compiled, as in Lambda's image)", flush=True)
    _pip_target(LAYOUT / "runtime", runtime_requirements)
    build_layers.compile_tree(LAYOUT / "runtime", "/var/runtime", python)
    stamp.write_text(wanted + "\n")
    return LAYOUT


def stage_code(python: str) -> None:
    """The code asset as it is now, in both layouts (always fresh: it is small)."""
    build_layers.stage_app(LAYOUT / "src" / "task", compile_pyc=False)
    build_layers.stage_app(LAYOUT / "pyc" / "task", compile_pyc=False)
    build_layers.compile_tree(LAYOUT / "pyc" / "task", build_layers.APP_MOUNT, python)


def paths(variant: str, row: Row) -> list[str]:
    """``sys.path`` of a row: code asset, layers, runtime (boto3 alone: the runtime only)."""
    root = LAYOUT / variant
    runtime = str(LAYOUT / "runtime")
    if row.label == "boto3":
        return [runtime]
    found = [str(root / "task"), str(root / "layers" / "base")]
    if row.science:
        found.append(str(root / "layers" / "science"))
    return [*found, runtime]


_PROBE = """
import sys, time, json
sys.path[:0] = {paths!r}
EVENTS = json.load(open(sys.argv[1])) if len(sys.argv) > 1 else []
cpu, wall = time.process_time(), time.perf_counter()
{statement}
print(time.process_time() - cpu, time.perf_counter() - wall)
"""


def run_once(
    python: str, sys_path: list[str], statement: str, env: dict[str, str], argv: Sequence[str] = ()
) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``statement`` in a fresh isolated interpreter."""
    out = subprocess.run(
        [python, "-I", "-B", "-c", _PROBE.format(paths=sys_path, statement=statement), *argv],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(
            f"[cold-start] {statement.strip().splitlines()[0]} failed:\n"
            f"{out.stderr[-3000:]}{out.stdout[-1000:]}"
        )
    cpu, wall = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
    return cpu, wall


def lambda_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RM_", "POWERTOOLS_"))}
    return env | LAMBDA_ENV | (extra or {})


def first_request_events() -> list[dict[str, Any]]:
    """A Segment ``track`` call and a newsletter form post (fetch from an allowed origin), as the local
    HTTP adapter turns requests into API Gateway proxy events; fresh ids, so nothing is a duplicate."""
    from infra.local.http_adapter import ApiAdapter

    adapter = ApiAdapter("bench")
    person = uuid.uuid4().hex[:12]
    calls = [
        (
            "/v1/track",
            {"content-type": "application/json"},
            {
                "writeKey": "local-write-key",
                "type": "track",
                "userId": f"bench-{person}",
                "event": "Order Completed",
                "messageId": str(uuid.uuid4()),
                "properties": {"order_id": f"o-{person}", "revenue": 42.5, "currency": "EUR"},
            },
        ),
        (
            "/v1/forms/newsletter",
            {
                "content-type": "application/json",
                "origin": "http://localhost:8080",
                "accept": "application/json",
            },
            {"email": f"bench-{person}@example.com", "first_name": "Bench", "consent_email": "on"},
        ),
    ]
    events = []
    for path, headers, body in calls:
        event, _function, status, message = adapter.build_event(
            "POST", path, headers, json.dumps(body).encode(), "192.0.2.1", "127.0.0.1:8080"
        )
        if event is None:
            raise SystemExit(f"[cold-start] cannot build the event for {path}: {status} {message}")
        events.append(event)
    return events


@contextmanager
def moto_with_tables() -> Iterator[str]:
    """A moto server with the stack's tables, bus and queues (``infra.local.resources``); its URL."""
    from infra.local.moto_process import MotoProcess
    from infra.local.resources import create_all
    from shared.settings import Settings

    moto = MotoProcess().start()
    saved = dict(os.environ)
    try:
        os.environ.update(
            {"AWS_ENDPOINT_URL": moto.url, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
        )
        create_all(Settings.from_environment(LAMBDA_ENV))
        yield moto.url
    finally:
        os.environ.clear()
        os.environ.update(saved)
        moto.stop()


Samples = list[tuple[float, float]]


def rows_for(handlers: Sequence[str], requests: bool) -> list[Row]:
    rows = [Row("boto3", "import boto3")]
    for name in handlers:
        rows.append(
            Row(f"functions.{name}.handler", f"import functions.{name}.handler", name in SCIENCE_HANDLERS)
        )
        if name == "track":
            rows.append(Row(TRACK_FLOOR, TRACK_LIBRARIES))
            if requests:
                rows.append(Row(TRACK_REQUESTS, FIRST_REQUESTS, events=True))
    return rows


def measure(runs: int, rows: list[Row], endpoint: str | None) -> dict[str, dict[str, Samples]]:
    """Samples per row and layout (``src``, ``pyc``): ``runs`` interleaved rounds."""
    python = build_layers.find_runtime_python()
    if python is None:
        raise SystemExit(
            f"[cold-start] no Python {build_layers.PYTHON_VERSION} here (RM_RUNTIME_PYTHON, "
            f"python{build_layers.PYTHON_VERSION} or pyenv): the Lambda-like layout needs the runtime's "
            "version"
        )
    prepare(python)
    stage_code(python)
    env = lambda_env()
    request_env = lambda_env({"AWS_ENDPOINT_URL": endpoint} if endpoint else None)
    events_file = LAYOUT / "events.json"
    results: dict[str, dict[str, Samples]] = {row.label: {v: [] for v in VARIANTS} for row in rows}
    for round_ in range(runs):
        for variant in VARIANTS:
            shift = round_ % len(rows)
            for row in rows[shift:] + rows[:shift]:  # a rotating order: no row always first or last
                argv: list[str] = []
                if row.events:
                    events_file.write_text(json.dumps(first_request_events()))
                    argv = [str(events_file)]
                sample = run_once(
                    python, paths(variant, row), row.statement, request_env if row.events else env, argv
                )
                results[row.label][variant].append(sample)
        print(f"[cold-start] round {round_ + 1}/{runs} done", file=sys.stderr, flush=True)
    return results


def ratios(samples: Samples, boto3: Samples) -> list[float]:
    """The row's CPU time over ``import boto3``'s, round by round."""
    return [cpu / base for (cpu, _), (base, _) in zip(samples, boto3, strict=True)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="interleaved rounds (fresh interpreters per row)")
    parser.add_argument(
        "--no-requests", action="store_true", help="leave out the first-requests row (no moto)"
    )
    parser.add_argument("handlers", nargs="*", default=list(HANDLERS))
    args = parser.parse_args(argv)
    rows = rows_for(args.handlers, not args.no_requests)
    if any(row.events for row in rows):
        with moto_with_tables() as endpoint:
            results = measure(args.runs, rows, endpoint)
    else:
        results = measure(args.runs, rows, None)
    load = os.getloadavg()[0]
    print(
        f"Lambda-like layout, python{build_layers.PYTHON_VERSION} -I -B, {args.runs} interleaved rounds, "
        f"load {load:.1f} at the end"
    )
    print(f"{'':<30}{'-------- no .pyc --------':>26}  {'---------- .pyc ----------':>26}  wall (median)")
    print(f"{'':<30}{'CPU':>8}{'ratio':>9}{'(min)':>9}  {'CPU':>8}{'ratio':>9}{'(min)':>9}  no .pyc / .pyc")
    boto3 = results["boto3"]
    for label, timing in results.items():
        cells = []
        for variant in VARIANTS:
            cpu_ms = statistics.median(c for c, _ in timing[variant]) * 1000
            found = ratios(timing[variant], boto3[variant])
            cells.append(f"{cpu_ms:>6.0f}ms{statistics.median(found):>8.2f}x{min(found):>8.2f}x")
        walls = [statistics.median(w for _, w in timing[v]) * 1000 for v in VARIANTS]
        print(f"{label:<30}{cells[0]}  {cells[1]}  {walls[0]:>6.0f} / {walls[1]:.0f} ms")
    print(
        "(ratio: CPU time over the same round's `import boto3` in the same layout, median and minimum over "
        "the rounds; goal for the track handler: <= 1.5x with .pyc)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
