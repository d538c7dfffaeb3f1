"""Build the Lambda layers and the function code asset, without Docker.

Run as ``python -m infra.build_layers`` (``make layers``). It produces::

    build/layers/base/python/...      runtime dependencies from [project.dependencies] (minus boto3/botocore)
    build/layers/science/python/...   [project.optional-dependencies].science (numpy, scipy)
    build/app/{functions,shared}/     the one code asset every function uses
    build/layers/.built               stamp the Makefile tracks

Wheels are fetched for the Lambda target (CPython 3.12, linux/arm64) with pip's ``--platform`` options, so
only binary wheels are used, at the exact versions of ``requirements.lock`` (the versions the tests run
with). A layer is rebuilt only when its stamp (a hash of the requirement strings, the lock file and
the pip target options) changes.

Every layer and the code asset ship ``__pycache__/*.cpython-312.pyc`` compiled by a Python 3.12 interpreter
(the runtime's version: a ``.pyc`` of another version is ignored). Lambda cannot write under ``/opt`` or
``/var/task``, so without them every cold start compiles every module it imports. They are
``unchecked-hash`` ``.pyc`` files (PEP 552): valid whatever the file times in the zip, never checked
against the source (the asset is immutable). Without a Python 3.12 on this machine (``RM_RUNTIME_PYTHON``,
``python3.12`` on the PATH, or pyenv) the build says so and ships sources only.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"
LAYERS_DIR = BUILD / "layers"
APP_DIR = BUILD / "app"
BUILT_STAMP = LAYERS_DIR / ".built"

PYTHON_VERSION = "3.12"
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34): every manylinux tag up to 2_34 loads.
PLATFORMS = (
    "manylinux2014_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux_2_24_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_34_aarch64",
)
# In the Lambda runtime already: never shipped in a layer (pulled in transitively by pynamodb/x-ray).
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
# Directories dropped from installed packages to keep the layers small.
STRIP_DIRS = ("__pycache__", "tests")
STRIP_SUFFIXES = (".pyc", ".pyo")
# Lambda limit: function code + all its layers, unzipped.
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
APP_PACKAGES = ("functions", "shared")
# Exact versions (the ones the tests run with): pip constraints for every layer (``make lock`` writes it).
LOCK_FILE = ROOT / "requirements.lock"
# Bump to force a rebuild of every layer when this script's output format changes.
BUILD_FORMAT = 2
# Where each tree lives in the Lambda sandbox: the file names recorded in the .pyc (tracebacks).
LAYER_MOUNT = "/opt/python"
APP_MOUNT = "/var/task"
COMPILED_STAMP = ".compiled"


@dataclass(frozen=True)
class Layer:
    name: str
    requirements: tuple[str, ...]

    @property
    def directory(self) -> Path:
        return LAYERS_DIR / self.name

    @property
    def site_packages(self) -> Path:
        return self.directory / "python"

    @property
    def stamp_file(self) -> Path:
        return self.directory / ".stamp"

    def fingerprint(self) -> str:
        payload = {
            "requirements": sorted(self.requirements),
            "python": PYTHON_VERSION,
            "platforms": PLATFORMS,
            "runtime_provided": RUNTIME_PROVIDED,
            "strip": STRIP_DIRS,
            "format": BUILD_FORMAT,
            "lock": hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest(),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot parse requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def read_layers(pyproject: Path = ROOT / "pyproject.toml") -> list[Layer]:
    """The layers, with their requirement strings read from pyproject.toml."""
    project = tomllib.loads(pyproject.read_text())["project"]
    base = tuple(r for r in project["dependencies"] if _requirement_name(r) not in RUNTIME_PROVIDED)
    science = tuple(project["optional-dependencies"]["science"])
    return [Layer("base", base), Layer("science", science)]


def _pip_install(layer: Layer) -> None:
    target = layer.site_packages
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
        "--upgrade",
        "--constraint",
        str(LOCK_FILE),
    ]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    cmd += list(layer.requirements)
    print(f"[layers] {layer.name}: pip install {' '.join(layer.requirements)}", flush=True)
    result = subprocess.run(cmd, check=False)
    if result.returncode != 0:
        raise SystemExit(
            f"[layers] pip failed for layer {layer.name!r} (exit {result.returncode}); "
            "check network access to PyPI and that every requirement has a cp312/aarch64 or pure wheel"
        )


def _remove_runtime_provided(site_packages: Path) -> list[str]:
    removed: list[str] = []
    for entry in sorted(site_packages.iterdir()):
        name = entry.name.lower()
        for package in RUNTIME_PROVIDED:
            if name == package or (name.startswith(f"{package}-") and name.endswith(".dist-info")):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                removed.append(entry.name)
    return removed


def _strip(root: Path) -> None:
    for dirpath, dirnames, filenames in os.walk(root, topdown=True):
        for dirname in list(dirnames):
            if dirname in STRIP_DIRS:
                shutil.rmtree(Path(dirpath, dirname))
                dirnames.remove(dirname)
        for filename in filenames:
            if filename.endswith(STRIP_SUFFIXES):
                Path(dirpath, filename).unlink()
    bin_dir = root / "bin"  # console scripts with this machine's shebang: useless in a layer
    if bin_dir.is_dir():
        shutil.rmtree(bin_dir)


def find_runtime_python() -> str | None:
    """A Python interpreter of the runtime's version (``PYTHON_VERSION``), or None.

    ``RM_RUNTIME_PYTHON`` wins; then ``python3.12`` on the PATH (a pyenv shim only counts if it runs), then
    pyenv's installed versions."""
    candidates = [os.environ.get("RM_RUNTIME_PYTHON"), shutil.which(f"python{PYTHON_VERSION}")]
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}"))[
        ::-1
    ]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            found = subprocess.run(
                [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except OSError:
            continue
        if found.returncode == 0 and found.stdout.strip() == PYTHON_VERSION:
            return candidate
    return None


def compile_tree(root: Path, mount: str, python: str | None = None) -> str | None:
    """Compile every ``.py`` under ``root`` to ``__pycache__/*.cpython-312.pyc`` (unchecked-hash), recording
    ``mount`` as the source directory; returns the interpreter used, or None if there is no Python 3.12.

    The stamp file ``root/.compiled`` names the interpreter, or says that none was found."""
    python = python or find_runtime_python()
    stamp = root / COMPILED_STAMP
    if python is None:
        print(
            f"[layers] WARNING: no Python {PYTHON_VERSION} found (set RM_RUNTIME_PYTHON, or install "
            f"python{PYTHON_VERSION}, e.g. with pyenv): {root.name} ships without .pyc, so every cold start "
            "compiles what it imports",
            flush=True,
        )
        stamp.write_text("none\n")
        return None
    cmd = [
        python,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        str(root),
        "-p",
        mount,
        str(root),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        # A file that does not compile (a template or test data with a .py name) is imported by nobody.
        failed = [line for line in result.stdout.splitlines() if line.startswith("***")]
        print(f"[layers] {root.name}: {len(failed)} files did not compile (left as sources)", flush=True)
    stamp.write_text(f"{python}\n")
    return python


def dir_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def build_layer(layer: Layer, *, force: bool = False) -> bool:
    """Build one layer; returns True if pip ran, False if it was up to date."""
    fingerprint = layer.fingerprint()
    if (
        not force
        and layer.stamp_file.is_file()
        and layer.stamp_file.read_text().strip() == fingerprint
        and layer.site_packages.is_dir()
    ):
        print(f"[layers] {layer.name}: up to date", flush=True)
        return False
    if layer.directory.exists():
        shutil.rmtree(layer.directory)
    layer.site_packages.mkdir(parents=True)
    _pip_install(layer)
    removed = _remove_runtime_provided(layer.site_packages)
    if removed:
        print(f"[layers] {layer.name}: removed (in the Lambda runtime): {', '.join(removed)}", flush=True)
    _strip(layer.site_packages)
    compile_tree(layer.site_packages, LAYER_MOUNT)
    layer.stamp_file.write_text(fingerprint + "\n")
    return True


def _ensure_compiled(layer: Layer, python: str | None) -> None:
    """Compile a layer built before this script compiled (or without a Python 3.12 then, and with one now)."""
    stamp = layer.site_packages / COMPILED_STAMP
    if python is not None and (not stamp.is_file() or stamp.read_text().strip() == "none"):
        print(f"[layers] {layer.name}: compiling .pyc with {python}", flush=True)
        compile_tree(layer.site_packages, LAYER_MOUNT, python)


def _ignore_build_junk(_dir: str, names: list[str]) -> Iterable[str]:
    return [n for n in names if n == "__pycache__" or n.endswith(STRIP_SUFFIXES)]


def stage_app(destination: Path = APP_DIR, *, compile_pyc: bool = True) -> Path:
    """Copy ``functions/`` and ``shared/`` into the code asset directory (always fresh, it is cheap), then
    compile it for the runtime's Python."""
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for package in APP_PACKAGES:
        source = ROOT / package
        if not source.is_dir():
            raise SystemExit(f"[layers] missing package directory {source}")
        shutil.copytree(source, destination / package, ignore=_ignore_build_junk)
    if compile_pyc:
        compile_tree(destination, APP_MOUNT)
    return destination


def check_sizes(layers: list[Layer], app_dir: Path = APP_DIR) -> dict[str, int]:
    sizes = {layer.name: dir_size(layer.directory) for layer in layers}
    sizes["app"] = dir_size(app_dir)
    for name, size in sizes.items():
        print(f"[layers] {name:<8} {_mb(size):>10} unzipped", flush=True)
    # The heaviest function (score) uses the code asset and every layer.
    total = sum(sizes.values())
    print(f"[layers] total    {_mb(total):>10} unzipped (limit {_mb(MAX_UNZIPPED_BYTES)})", flush=True)
    if total > MAX_UNZIPPED_BYTES:
        raise SystemExit(
            f"[layers] code + layers are {_mb(total)} unzipped, over Lambda's {_mb(MAX_UNZIPPED_BYTES)} limit"
        )
    return sizes


def layers_ready() -> bool:
    """True when every layer directory exists with a current stamp (used by the CDK app and tests)."""
    return all(
        layer.stamp_file.is_file() and layer.stamp_file.read_text().strip() == layer.fingerprint()
        for layer in read_layers()
    )


def build_all(*, force: bool = False) -> dict[str, int]:
    layers = read_layers()
    python = find_runtime_python()
    for layer in layers:
        if not build_layer(layer, force=force):
            _ensure_compiled(layer, python)
    stage_app()
    sizes = check_sizes(layers)
    BUILT_STAMP.write_text(json.dumps({layer.name: layer.fingerprint() for layer in layers}, indent=2) + "\n")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--force", action="store_true", help="reinstall every layer even if up to date")
    parser.add_argument("--app-only", action="store_true", help="only stage build/app")
    args = parser.parse_args(argv)
    if args.app_only:
        stage_app()
        print(f"[layers] staged {APP_DIR.relative_to(ROOT)}", flush=True)
        return 0
    build_all(force=args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
