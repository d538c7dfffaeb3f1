"""In-process adapters of the launch ports: local mode runs scoring and exports in this process."""

from __future__ import annotations

from datetime import date

from shared.services.ports import Ports


class InProcessScoringRunLauncher:
    """Every phase in order, then the export the state machine's last step makes in the cloud."""

    def start(self, run_id: str, as_of: date | None, total_segments: int) -> None:
        from shared.services import exports, scoring  # numpy/scipy: only when a run starts

        scoring.run_in_process(as_of, total_segments, run_id=run_id)
        exports.export_scoring_run(run_id)


class InProcessExportLauncher:
    def start(self, export_id: str) -> None:
        from shared.services import exports

        exports.run_export(export_id)


def in_process_ports() -> Ports:
    return Ports(scoring_runs=InProcessScoringRunLauncher(), exports=InProcessExportLauncher())
