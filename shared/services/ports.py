"""Ports: the few places where the cloud and local mode differ, as small interfaces the services depend on.

The services ask a port to start long work (a scoring run, an export) and never ask where they run. The
AWS adapters live with the data access (``shared.dal.launchers``) and are the default; the local stack
installs in-process adapters (``infra.local.launchers``) with :func:`use` when it starts. Nothing here
imports numpy, so the API function can start a scoring run without the scoring maths.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol


class ScoringRunLauncher(Protocol):
    def start(self, run_id: str, as_of: date | None, total_segments: int) -> None:
        """Start every phase of scoring run ``run_id`` (it may finish before this returns)."""


class ExportLauncher(Protocol):
    def start(self, export_id: str) -> None:
        """Carry out the recorded export ``export_id`` (it may finish before this returns)."""


@dataclass(frozen=True)
class Ports:
    scoring_runs: ScoringRunLauncher
    exports: ExportLauncher


_installed: Ports | None = None


def use(ports: Ports | None) -> None:
    """Install the adapters this process uses (``None`` goes back to the AWS adapters)."""
    global _installed
    _installed = ports


def current() -> Ports:
    if _installed is not None:
        return _installed
    from shared.dal.launchers import LambdaExportLauncher, StepFunctionsScoringRunLauncher

    return Ports(scoring_runs=StepFunctionsScoringRunLauncher(), exports=LambdaExportLauncher())
