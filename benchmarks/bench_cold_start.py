"""Cold-start import time of every handler in a Lambda-like layout, with and without ``.pyc``.

The layout mirrors the sandbox: the code asset (``build/app``, as ``make layers`` stages it) as
``/var/task``, the layers' ``python/`` directories as ``/opt/python``, and boto3/botocore as the runtime
provides them (compiled, as in Lambda's image), imported by a Python 3.12 interpreter in isolated mode
(``-I``: no user site, no ``PYTHON*`` variables, no current directory) with ``-B`` (Lambda cannot write
``.pyc`` under ``/opt`` or ``/var/task``). The layers in ``build/layers`` are built for linux/arm64 and do
not load on this machine, so the same requirement strings are installed here for this machine's platform
(``build/lambda-like``, kept between runs); their ``.pyc`` are compiled by the same step as the layers'.

Each figure is the time of the ``import`` statement alone (interpreter start-up excluded) over ``--runs``
fresh interpreters, and is printed as a ratio to ``import boto3`` in the same layout: the median (the
headline figure) and the minimum. The ratios use the process's CPU time, which other work on a busy machine
inflates far less than wall-clock time (a Lambda sandbox has its vCPU to itself); the median wall-clock
times are printed too. ``--stat min`` makes the minimum the headline.

A row "track's libraries only" imports just the libraries the track handler uses (boto3, PynamoDB,
powertools' logger, metrics, tracer and REST resolver, pydantic with one model) and none of this project's
code: the floor under the track handler's figure.
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
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

from infra import build_layers

LAYOUT = build_layers.BUILD / "lambda-like"
HANDLERS = ("track", "admin_api", "aggregate", "campaigns", "email", "export", "score")
SCIENCE_HANDLERS = frozenset({"score", "export"})
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer")
# What the functions find in their environment in the cloud (values are placeholders: nothing is called).
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
# pydantic): what its import costs before any code of this project runs.
TRACK_LIBRARIES = (
    "import boto3, pynamodb.models\n"
    "from aws_lambda_powertools import Logger, Metrics, Tracer\n"
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
    "from pydantic import BaseModel\n"
    "class Probe(BaseModel):\n"
    "    name: str\n"
)
TRACK_FLOOR = "track's libraries only"


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
    """``build/lambda-like/{opt,runtime}``: the layers and the runtime's SDK for this machine's platform."""
    layers = build_layers.read_layers()
    runtime_requirements = [f"{name}=={metadata.version(name)}" for name in RUNTIME_PACKAGES]
    stamp = LAYOUT / ".stamp"
    wanted = _fingerprint(
        [layer.fingerprint() for layer in layers], runtime_requirements, _host_platforms(), python
    )
    if stamp.is_file() and stamp.read_text().strip() == wanted:
        return LAYOUT
    if LAYOUT.exists():
        shutil.rmtree(LAYOUT)
    for layer in layers:
        target = LAYOUT / "layers" / layer.name
        print(f"[cold-start] installing the {layer.name} layer for {platform.machine()}", flush=True)
        _pip_target(target, layer.requirements)
        build_layers._remove_runtime_provided(target)
        build_layers._strip(target)
    print("[cold-start] installing the runtime's boto3 (compiled, as in Lambda's image)", flush=True)
    _pip_target(LAYOUT / "runtime", runtime_requirements)
    build_layers.compile_tree(LAYOUT / "runtime", "/var/runtime", python)
    stamp.write_text(wanted + "\n")
    return LAYOUT


def _set_pyc(root: Path, present: bool, mount: str, python: str) -> None:
    compiled = any(root.rglob("*.cpython-312.pyc"))
    if present and not compiled:
        build_layers.compile_tree(root, mount, python)
    if not present and compiled:
        for cache in list(root.rglob("__pycache__")):
            shutil.rmtree(cache)


_PROBE = """
import sys, time
sys.path[:0] = {paths!r}
cpu, wall = time.process_time(), time.perf_counter()
{statement}
print(time.process_time() - cpu, time.perf_counter() - wall)
"""


STAT: dict[str, Callable[[list[float]], float]] = {"median": statistics.median, "min": min}


def import_seconds(
    python: str, paths: list[str], module: str, runs: int, stat: str = "median"
) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of importing ``module``: ``stat`` (median or min) of each over ``runs``
    interpreters."""
    samples = import_samples(python, paths, module, runs)
    return STAT[stat]([c for c, _ in samples]), STAT[stat]([w for _, w in samples])


def import_samples(
    python: str, paths: list[str], module: str, runs: int, statement: str | None = None
) -> list[tuple[float, float]]:
    """(CPU seconds, wall seconds) of importing ``module`` (or running ``statement``) in each of ``runs``
    fresh interpreters."""
    statement = statement or f"import {module}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RM_", "POWERTOOLS_"))}}
    env |= LAMBDA_ENV
    samples: list[tuple[float, float]] = []
    for _ in range(runs):
        out = subprocess.run(
            [python, "-I", "-B", "-c", _PROBE.format(paths=paths, statement=statement)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if out.returncode != 0:
            raise SystemExit(f"[cold-start] import {module} failed:\n{out.stderr[-3000:]}")
        cpu, wall = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
        samples.append((cpu, wall))
    return samples


Samples = list[tuple[float, float]]


def measure(runs: int, handlers: Sequence[str]) -> dict[str, dict[str, Samples]]:
    python = build_layers.find_runtime_python()
    if python is None:
        raise SystemExit(
            f"[cold-start] no Python {build_layers.PYTHON_VERSION} here (RM_RUNTIME_PYTHON, "
            f"python{build_layers.PYTHON_VERSION} or pyenv): the Lambda-like layout needs the runtime's "
            "version"
        )
    layout = prepare(python)
    task = LAYOUT / "task"
    build_layers.stage_app(task, compile_pyc=False)
    runtime = str(layout / "runtime")
    results: dict[str, dict[str, Samples]] = {}
    for with_pyc in (False, True):
        label = "pyc" if with_pyc else "no pyc"
        _set_pyc(task, with_pyc, build_layers.APP_MOUNT, python)
        for layer in ("base", "science"):
            _set_pyc(layout / "layers" / layer, with_pyc, build_layers.LAYER_MOUNT, python)
        results.setdefault("boto3", {})[label] = import_samples(python, [runtime], "boto3", runs)
        for name in handlers:
            paths = [str(task), str(layout / "layers" / "base")]
            if name in SCIENCE_HANDLERS:
                paths.append(str(layout / "layers" / "science"))
            samples = import_samples(python, [*paths, runtime], f"functions.{name}.handler", runs)
            results.setdefault(name, {})[label] = samples
            if name == "track":
                # The floor under the track handler: only the libraries it uses, with no project code.
                floor = import_samples(python, [*paths, runtime], "", runs, TRACK_LIBRARIES)
                results.setdefault(TRACK_FLOOR, {})[label] = floor
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per figure")
    parser.add_argument("--stat", choices=sorted(STAT), default="median", help="the headline statistic")
    parser.add_argument("handlers", nargs="*", default=list(HANDLERS))
    args = parser.parse_args(argv)
    results = measure(args.runs, args.handlers)
    stat, other = STAT[args.stat], STAT["min" if args.stat == "median" else "median"]
    other_name = "min" if args.stat == "median" else "median"

    def cpu(samples: Samples, of: Callable[[list[float]], float] = stat) -> float:
        return float(of([c for c, _ in samples]))

    def wall(samples: Samples) -> float:
        return float(stat([w for _, w in samples]))

    boto3 = results["boto3"]
    print(f"Lambda-like layout, python{build_layers.PYTHON_VERSION} -I -B, {args.stat} of {args.runs} runs")
    print(
        f"{'import':<28}{'CPU no .pyc':>12}{'ratio':>7}{'CPU .pyc':>10}{'ratio':>7}"
        f"{'ratio (' + other_name + ')':>14}  wall no .pyc / .pyc"
    )
    for name, timing in results.items():
        label = name if name in ("boto3", TRACK_FLOOR) else f"functions.{name}.handler"
        src, pyc = timing["no pyc"], timing["pyc"]
        print(
            f"{label:<28}{cpu(src) * 1000:>10.0f}ms{cpu(src) / cpu(boto3['no pyc']):>6.2f}x"
            f"{cpu(pyc) * 1000:>8.0f}ms{cpu(pyc) / cpu(boto3['pyc']):>6.2f}x"
            f"{cpu(pyc, other) / cpu(boto3['pyc'], other):>13.2f}x"
            f"  {wall(src) * 1000:>6.0f} / {wall(pyc) * 1000:.0f} ms"
        )
    print("(ratio: CPU time over `import boto3` in the same layout; goal for the track handler: <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
