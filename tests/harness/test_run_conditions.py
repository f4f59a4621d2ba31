"""The conditions of a run are part of its result: a run against equipment cannot be bent by a test fault,
and every report (console, report.html, JUnit properties, validation report) states each option that
differed from the defaults, from the run's settings, when it is written."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.equipment import load_equipment
from harness.reports import junit as junit_report
from harness.reports.record import RunSummary, ScenarioRecord
from harness.reports.run_report import write_report
from harness.reports.validation import EquipmentRunInfo, write_validation_report
from harness.settings import DEFAULTS_TEXT, FEATURES, RunSettings, console_lines, junit_properties
from reference_server.faults import Fault, InjectedFaults

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "equipment"


def trunkcheck_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", "run", "--output", str(tmp_path), "--run-id", "r",
                           *args], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("example", ["sipp-ua.toml", "kamailio-trunk.toml", "reference-trunk-image.toml"])
def test_a_fault_is_refused_with_equipment_before_anything_runs(tmp_path: Path, example: str) -> None:
    """A vendor's phone (or trunk) must not be validated against a trunk broken on purpose."""
    proc = trunkcheck_run(tmp_path, "--equipment", str(EXAMPLES / example), "--fault", "no-early-media")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--fault cannot be combined with --equipment" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "r").exists(), "nothing ran"


def test_an_unknown_fault_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    proc = trunkcheck_run(tmp_path, "--fault", "no-reason-relay")
    assert proc.returncode == 2
    assert "unknown fault 'no-reason-relay'; known: no-early-media, no-q850-reason, one-way-media, status-rewrite, srtp-cleartext" in proc.stderr
    assert "--fault" not in subprocess.run([sys.executable, "-m", "harness.cli", "run", "--help"], cwd=REPO,
                                           capture_output=True, text=True, timeout=30).stdout, "test only: hidden"


def test_the_command_line_maps_to_the_conditions_once() -> None:
    from harness.cli.run import build_parser, settings_from
    from harness.topology import LOOPBACK_ROLES

    args = build_parser().parse_args(["--fault", "status-rewrite", "--tags", "@status-relay", "--destination", "sipp"])
    shown = [str(c) for c in settings_from(args).conditions]
    assert shown == ["--fault status-rewrite", "--tags @status-relay", "--destination sipp"]
    assert settings_from(build_parser().parse_args([])).conditions == ()
    inner = build_parser().parse_args(["--topology", "local", "--interface", "eth0"])
    container = LOOPBACK_ROLES.with_roles({"UA": "198.18.60.10"})  # the harness container of the docker topology
    assert [str(c) for c in settings_from(inner, container_roles=container).conditions] == [
        "--topology docker", "--interface eth0"]


def settings(**changes: object) -> RunSettings:
    return RunSettings(**changes)  # type: ignore[arg-type]


def test_every_option_that_differs_from_its_default_is_a_condition() -> None:
    assert settings().conditions == ()
    assert settings(features=(FEATURES,), run_id="x", verbose=True, output=Path("/tmp")).conditions == ()
    changed = settings(faults=InjectedFaults(frozenset({Fault.STATUS_REWRITE})),
                       features=(FEATURES / "hangup_cause.feature",), tags=("not @wip",), destination="sipp",
                       interface="eth1", response_timeout=5.0, decode="file", topology="docker",
                       equipment=EXAMPLES / "kamailio-trunk.toml")
    shown = {c.option: (c.value, c.test_only) for c in changed.conditions}
    assert shown == {
        "--fault": ("status-rewrite", True), "--features": ("features/hangup_cause.feature", False),
        "--tags": ("not @wip", False), "--destination": ("sipp", False), "--interface": ("eth1", False),
        "--response-timeout": ("5", False), "--decode": ("file", False), "--topology": ("docker", False),
        "--equipment": ("examples/equipment/kamailio-trunk.toml", False)}
    lines = console_lines(changed.conditions)
    assert lines[0] == "trunkcheck: this run's conditions that differ from the defaults:"
    assert any("--tags 'not @wip'" in line and "only the scenarios matching" in line for line in lines)
    assert any("--fault status-rewrite" in line and "TEST ONLY" in line and "answered 500" in line for line in lines)
    assert console_lines(()) == []
    assert ("trunkcheck.fault", "status-rewrite") in junit_properties(changed.conditions)
    assert junit_properties(()) == [("trunkcheck.conditions", "defaults")]


def test_report_html_states_the_conditions_and_a_test_fault_in_its_title(tmp_path: Path) -> None:
    summary = RunSummary("r", 1, 1, 0, 0, 1.0)
    records = [ScenarioRecord("Hangup cause relay", "404", "f:1", status="passed", pcap="a.pcap", ladder="a.txt")]
    plain = write_report(tmp_path / "plain.html", summary, records).read_text()
    assert f"Run conditions: {DEFAULTS_TEXT}" in plain.replace("&#x27;", "'") and "TEST ONLY" not in plain
    faulty = settings(faults=InjectedFaults(frozenset({Fault.NO_Q850_REASON})), tags=("@status-relay",))
    page = write_report(tmp_path / "faulty.html", summary, records, faulty.conditions).read_text()
    assert "<title>TEST ONLY: trunkcheck run r: passed</title>" in page
    assert "<code>--fault no-q850-reason</code>" in page and "<code>--tags @status-relay</code>" in page
    assert "without a Q.850 Reason header" in page


def test_the_validation_report_states_the_conditions_and_a_narrowed_run_says_so(tmp_path: Path) -> None:
    eq_file = EXAMPLES / "kamailio-trunk.toml"
    summary = RunSummary("r", 1, 1, 0, 0, 1.0, not_applicable=0)
    records = [ScenarioRecord("Hangup cause relay", "404", "f:1", status="passed", pcap="a.pcap", ladder="a.txt")]
    now = time.time()
    narrowed = settings(equipment=eq_file, tags=("@status-relay",), destination="sipp", response_timeout=8.0)
    info = EquipmentRunInfo(load_equipment(eq_file), eq_file, now - 1, now, None, narrowed.conditions)
    page = write_validation_report(tmp_path, info, summary, records).read_text()
    md = (tmp_path / "validation-report.md").read_text()
    for text in (page, md):
        assert "Conforms in the scenarios selected (--tags @status-relay; not the whole suite" in text
        assert "Conforms for every feature it claims" not in text
        assert "Run conditions" in text and "--destination sipp" in text and "--response-timeout 8" in text
        assert "SIPp&#x27;s UAS scenarios played the destination" in text or \
            "SIPp's UAS scenarios played the destination" in text
    assert "| `--tags @status-relay` | only the scenarios matching this tag expression ran (default: all) |" in md
    default = EquipmentRunInfo(load_equipment(eq_file), eq_file, now - 1, now, None,
                               settings(equipment=eq_file).conditions)
    write_validation_report(tmp_path, default, summary, records)
    md = (tmp_path / "validation-report.md").read_text()
    assert "Conforms for every feature it claims" in md and "Every option at its default (every feature file" in md


STEPS = """\
from behave import then

@then("it holds")
def step_holds(context):
    pass
"""


def test_junit_suites_carry_the_conditions_as_properties_when_written(tmp_path: Path) -> None:
    """behave writes the JUnit XML; our reporter puts the properties in as it does (nothing patched later)."""
    from behave.configuration import Configuration
    from behave.runner import Runner

    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "s.py").write_text(STEPS)
    (tmp_path / "a.feature").write_text("Feature: A\n  Scenario: one\n    Then it holds\n"
                                        "  Scenario: two\n    Then it holds\n")
    junit = tmp_path / "junit"
    conditions = settings(tags=("not @wip",), faults=InjectedFaults(frozenset({Fault.NO_EARLY_MEDIA}))).conditions
    config = Configuration([str(tmp_path / "a.feature"), "--junit", "--junit-directory", str(junit), "--format",
                            "null", "--no-summary"], load_config=False)
    junit_report.install(config, conditions)
    assert not Runner(config).run()
    suite = ET.parse(next(junit.glob("*.xml"))).getroot()
    assert [child.tag for child in suite][:2] == ["properties", "testcase"]
    properties = [(p.get("name"), p.get("value")) for p in suite.iter("property")]
    assert properties == [("trunkcheck.fault", "no-early-media"), ("trunkcheck.tags", "not @wip")]
    assert suite.get("tests") == "2"
