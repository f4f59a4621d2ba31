"""What a run leaves for people and CI servers: report.html, the validation report of equipment under test
(HTML and Markdown) and behave's JUnit XML with the run's conditions.

- :mod:`~harness.reports.run_report`: report.html, every scenario with its ladders side by side;
- :mod:`~harness.reports.validation`: the validation report for the equipment's vendor or customer;
- :mod:`~harness.reports.junit`: behave's JUnit XML, each suite opening with the run's conditions.
"""

from __future__ import annotations

from harness.reports.junit import ConditionsJUnitReporter
from harness.reports.record import NOT_APPLICABLE, RunSummary, ScenarioRecord, load_records
from harness.reports.run_report import write_report
from harness.reports.validation import EquipmentRunInfo, write_validation_report

__all__ = [
    "NOT_APPLICABLE",
    "ConditionsJUnitReporter",
    "EquipmentRunInfo",
    "RunSummary",
    "ScenarioRecord",
    "load_records",
    "write_report",
    "write_validation_report",
]
