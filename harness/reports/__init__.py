"""What a run leaves for people and CI servers: report.html, the validation report of equipment under test
(HTML and Markdown) and behave's JUnit XML with the run's conditions.

Every report is written once, from data: each scenario's record and the run's data (``run.json``,
:mod:`~harness.reports.record`), by :func:`write_reports` when the run is over (in the docker topology by
the host, with the equipment container's log); the JUnit XML as behave writes it.

- :mod:`~harness.reports.record`: what reports are written from (scenario records, summary, run data);
- :mod:`~harness.reports.write`: every report of a run from its data;
- :mod:`~harness.reports.run_report`: report.html, every scenario with its ladders side by side;
- :mod:`~harness.reports.validation`: the validation report for the equipment's vendor or customer;
- :mod:`~harness.reports.junit`: behave's JUnit XML, each suite opening with the run's conditions.
"""

from __future__ import annotations

from harness.reports.junit import ConditionsJUnitReporter
from harness.reports.record import NOT_APPLICABLE, RunData, RunSummary, ScenarioRecord, load_records
from harness.reports.run_report import write_report
from harness.reports.validation import EquipmentRunInfo, write_validation_report
from harness.reports.write import write_reports

__all__ = [
    "NOT_APPLICABLE",
    "ConditionsJUnitReporter",
    "EquipmentRunInfo",
    "RunData",
    "RunSummary",
    "ScenarioRecord",
    "load_records",
    "write_report",
    "write_reports",
    "write_validation_report",
]
