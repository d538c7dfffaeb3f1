"""Only the scoring function ships the science layer: every other handler must import without numpy/scipy.

Each handler is imported in a fresh, isolated interpreter (as a Lambda cold start would), and the test
reads which heavy packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCIENCE = ("numpy", "scipy", "pandas", "pyarrow")
WITHOUT_SCIENCE = ("track", "admin_api", "aggregate", "campaigns", "email", "export", "ses_events")

PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
__import__(f"functions.{sys.argv[2]}.handler")
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[3:]))))
"""


def heavy_modules_after_import(function: str) -> list[str]:
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-1", "POWERTOOLS_TRACE_DISABLED": "true"}
    result = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(ROOT), function, *SCIENCE],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("function", WITHOUT_SCIENCE)
def test_handler_imports_no_science_packages(function: str) -> None:
    assert heavy_modules_after_import(function) == []


def test_the_probe_sees_the_science_packages_of_the_scoring_handler() -> None:
    """The same probe finds numpy in the one handler that needs it: an empty answer above means something."""
    assert {"numpy", "scipy"} <= set(heavy_modules_after_import("score"))
