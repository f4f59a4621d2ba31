"""Every report of a run, written once, from the run's data (:class:`harness.reports.record.RunData`):
report.html and, with equipment under test, the validation report (HTML and Markdown).

    data = RunData(summary, records, conditions, started, ended, equipment_file)
    report, validation = write_reports(run_dir, data, equipment, equipment_log=run_dir / "equipment" / "x.log")

The run writes them when it ends; in the docker topology the host does, once the equipment's container
has stopped, so that they hold its log (``log_in_run_report``: its end closes report.html too).
"""

from __future__ import annotations

from pathlib import Path

from harness.equipment import Equipment
from harness.reports.record import RunData
from harness.reports.run_report import write_report
from harness.reports.validation import EquipmentRunInfo, write_validation_report

__all__ = ["SKIPPED", "write_reports"]

SKIPPED = ("skipped", "untested")  # behave's statuses of scenarios the run did not select


def write_reports(run_dir: Path, data: RunData, equipment: Equipment | None = None, *,
                  equipment_file: Path | None = None, equipment_log: Path | None = None,
                  log_in_run_report: bool = False) -> tuple[Path, Path | None]:
    """report.html, and the validation report when ``equipment`` was under test (``equipment_file``: its
    file, default the run's; ``equipment_log``: the log of the process or container it ran in)."""
    shown = [r for r in data.records if r.status not in SKIPPED]
    appendix = (equipment, equipment_log) if log_in_run_report and equipment and equipment_log else None
    report = write_report(run_dir / "report.html", data.summary, shown, data.conditions, appendix)
    if equipment is None:
        return report, None
    file = equipment_file or Path(data.equipment_file or "")
    info = EquipmentRunInfo(equipment, file, data.started, data.ended, equipment_log, data.conditions)
    return report, write_validation_report(run_dir, info, data.summary, data.records)
