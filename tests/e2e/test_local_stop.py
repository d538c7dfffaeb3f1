"""Stopping the local stack leaves no process behind: asked to stop (SIGTERM) in the middle of the demo,
or killed outright (SIGKILL), its worker processes and its moto process end too."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> set[int]:
    """Every thread's children (the workers are started by the threads that first needed them)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found |= {int(p) for p in (task / "children").read_text().split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def _demo_with_workers_running() -> tuple[subprocess.Popen[str], set[int]]:
    """The demo in its own process, once its first requests have run in its worker processes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RM_", "POWERTOOLS_"))}
    demo = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--once", "--port", "0", "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert demo.stdout is not None
    for line in demo.stdout:  # the first form post has been answered by a worker
        if line.startswith("1. "):
            break
    else:
        raise AssertionError(f"the demo ended early: exit {demo.wait()}")
    children = _children(demo.pid)
    assert len(children) >= 3, children  # moto's process and the workers (and the resource tracker)
    return demo, children


def _ended(pids: set[int], within: float) -> set[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    return {p for p in pids if _alive(p)}


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc")
def test_sigterm_stops_the_demo_and_every_process_it_started() -> None:
    demo, children = _demo_with_workers_running()
    demo.send_signal(signal.SIGTERM)
    assert demo.wait(timeout=60) == 128 + signal.SIGTERM
    assert _ended(children, within=10) == set()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc")
def test_a_killed_stack_takes_its_workers_and_moto_with_it() -> None:
    demo, children = _demo_with_workers_running()
    demo.kill()
    demo.wait(timeout=10)
    assert _ended(children, within=10) == set()
