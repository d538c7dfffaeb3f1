"""The main job, as the README runs it: ``python -m infra.local --once`` (what ``make demo`` runs), here
with 20 CDNOW customers, in a process of its own with its own moto, worker processes and dispatcher."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_end_to_end_and_exits_0() -> None:
    # A clean environment: none of the tests' own stack settings (endpoint, origins...) leak into it.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RM_", "POWERTOOLS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "infra.local", "--once", "--port", "0", "--customers", "20", "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    signed_up = re.search(r"^2\. (\d+) newsletter sign-ups .*: (\d+) confirmations", out, re.M)
    assert signed_up is not None, out
    assert signed_up.group(1) == signed_up.group(2)  # every sign-up confirmed its address
    replayed = re.search(
        r"^3\. replayed (\d+) CDNOW orders of 20 customers through /v1/batch: (\d+) stored", out, re.M
    )
    assert replayed is not None, out
    assert replayed.group(1) == replayed.group(2)
    again = re.search(r"again: 0 stored, (\d+) duplicates \(exactly once\)", out)
    assert again is not None, out
    assert again.group(1) == replayed.group(1)
    assert re.search(r"^   \d+ customers scored in", out, re.M), out
    assert "Demo finished in" in out
    # No delivery failed (the dispatcher prints "  ! <function> failed ..." for each failure).
    assert not [line for line in out.splitlines() if line.lstrip().startswith("! ")], out
