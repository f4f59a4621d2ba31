"""behave's JUnit XML with the run's conditions: each ``<testsuite>`` (one per feature) starts with
``<properties>`` naming every option that differed from the defaults (harness.settings), as CI
servers show them next to the results; a scenario that does not apply to the equipment under test is
``<skipped>`` with the reason as its message (the reason harness.suite.hooks gave the scenario, as
``trunkcheck_not_applicable``). Each ``<testcase>`` says where its scenario is (``file`` relative to
the suite root, ``line``), as GitLab and Jenkins read it and as ``trunkcheck merge`` matches it; a
scenario another shard or worker ran (harness.jobs) is left out. Written once, as behave writes the file, from the run's settings.

    install(config, conditions)   # after behave's Configuration(..., "--junit") is built, before the run
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from behave.reporter.junit import JUnitReporter

from harness.jobs.selection import scenario_id
from harness.settings import Condition, junit_properties

__all__ = ["ConditionsJUnitReporter", "install"]


class ConditionsJUnitReporter(JUnitReporter):  # type: ignore[misc]  # behave has no annotations: an Any base class
    """behave's JUnit reporter, each test suite opening with the run's properties."""

    def __init__(self, config: Any, conditions: Sequence[Condition]) -> None:
        super().__init__(config)
        self.properties = junit_properties(conditions)

    def _process_scenario(self, scenario: Any, report: Any) -> None:
        if getattr(scenario, "trunkcheck_elsewhere", False):
            return  # another shard's or worker's scenario (harness.jobs): in that process's XML
        # behave appends each suite's children in report.testcases order: the properties go first
        if not getattr(report, "trunkcheck_properties", False):
            element = ET.Element("properties")
            for name, value in self.properties:
                ET.SubElement(element, "property", name=name, value=value)
            report.testcases.insert(0, element)
            report.trunkcheck_properties = True
        cases = len(report.testcases)
        super()._process_scenario(scenario, report)
        if len(report.testcases) > cases:  # where the scenario is, the same on every machine
            file, _, line = scenario_id(str(scenario.location)).rpartition(":")
            report.testcases[-1].set("file", file)
            report.testcases[-1].set("line", line)
        reason = getattr(scenario, "trunkcheck_not_applicable", None)
        skipped = report.testcases[-1].find("skipped") if reason and len(report.testcases) > cases else None
        if skipped is not None:
            skipped.set("message", reason)
            skipped.text = reason


def install(config: Any, conditions: Sequence[Condition]) -> None:
    """Replace behave's JUnit reporter in ``config.reporters`` (there with ``--junit``) with ours."""
    config.reporters = [ConditionsJUnitReporter(config, conditions) if type(r) is JUnitReporter else r
                        for r in config.reporters]
