"""Run the conformance suite with behave's Runner API and write the run's reports.

    result = run_suite(RunSettings(run_id="20261126-074512"))
    result.exit_code        # 0 only when every selected scenario passed

Output, in `captures/<run-id>/`: per scenario `<feature>/<scenario>.pcap`, `.ladder.txt` and `.json`;
`junit/TESTS-*.xml` (behave's JUnit reporter), `run.json` (the run's data: harness.reports.record.RunData) and
`report.html`, written from it once the run is over. Every report, and the console summary,
states the run's conditions that differ from the defaults (harness.settings: a test fault, --tags,
--features, another destination, interface or response timeout ...).

With equipment under test (`RunSettings(equipment=Path(...))`): the file is loaded, checked and the
equipment pre-flighted before anything else (a mistake: exit status 2, the message naming the file's line,
no scenario traffic); `[equipment.process]` is started (bounded) and stopped at the end, its log kept in
`equipment/`; scenarios that do not apply are reported "not applicable"; and `validation-report.html`
(and `.md`) is written for the customer. The run's roles live where `settings.roles` says; an
``[equipment.image]`` is started by the ``image_starter`` given (the docker topology's harness container
gives one). In the docker topology (`settings.topology == "docker"`) the host writes the reports from
`run.json`, once it has the equipment container's log.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from harness.adapters.kamailio import EquipmentStartError
from harness.capture.sniffer import CaptureError
from harness.capture.socket_capture import CANNOT_SEE, SEES
from harness.equipment import Equipment, EquipmentError, load_equipment, preflight
from harness.equipment.netif import InterfaceError, interface_addresses, is_loopback
from harness.reports.record import NOT_APPLICABLE, RunData, RunSummary, ScenarioRecord, load_records
from harness.reports.write import SKIPPED, write_reports
from harness.settings import RunSettings, console_lines, display_path, dns_text, free_run_id
from harness.suite.equipment_setup import (
    ImageStarter,
    RunningEquipment,
    check_on_interface,
    check_usable,
    start_equipment,
)
from harness.suite.hooks import failure_text, resolve_capture
from harness.suite.progress import status_name

__all__ = ["RunResult", "run_suite"]

PASSED = "passed"


@dataclass
class RunResult:
    run_dir: Path
    summary: RunSummary
    records: list[ScenarioRecord]
    report: Path | None
    exit_code: int
    validation_report: Path | None = None

    def summary_line(self) -> str:
        s = self.summary
        na = f", {s.not_applicable} not applicable" if s.not_applicable else ""
        skipped = f", {s.skipped} skipped" if s.skipped else ""
        where = self.validation_report or self.report or self.run_dir
        return (f"trunkcheck: {s.total} scenarios, {s.passed} passed, {s.failed} failed{na}{skipped} in "
                f"{s.seconds:.1f} s — {display_path(where)}")


def _run_dir(settings: RunSettings) -> Path:
    run_dir = settings.output / free_run_id(settings.output, settings.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def behave_args(settings: RunSettings, run_dir: Path) -> list[str]:
    args = [str(p) for p in settings.features]
    args += ["--format", "harness.suite.progress:ProgressFormatter", "--no-summary", "--no-snippets",
             "--color", "off"]
    args += ["--junit", "--junit-directory", str(run_dir / "junit")]
    args += ["-D", f"run_dir={run_dir}", "-D", f"decode={settings.decode}", "-D", f"capture={settings.capture}"]
    if settings.verbose:
        args += ["-D", "verbose=1"]
    if settings.equipment is not None:
        args += ["-D", f"equipment={settings.equipment}"]
    if settings.dns is not None:
        args += ["-D", f"dns={dns_text(settings.dns)}"]
    args += ["-D", f"interface={settings.interface}", "-D", f"destination={settings.destination}",
             "-D", f"response_timeout={settings.response_timeout:g}"]
    for expr in settings.tags:
        args += ["--tags", expr]
    return args


def _refused(settings: RunSettings, started: float, run_dir: Path | None = None) -> RunResult:
    if run_dir is not None:
        with contextlib.suppress(OSError):
            run_dir.rmdir()  # only if still empty
    where = run_dir or settings.output / settings.run_id
    return RunResult(where, RunSummary(where.name, 0, 0, 0, 0, time.monotonic() - started), [], None, 2)


def _load_equipment(settings: RunSettings, image_starter: ImageStarter | None) -> Equipment:
    """The equipment file, checked and pre-flighted (its address answers, the harness's addresses are
    free); EquipmentError (naming the line) when it cannot be tested as described."""
    assert settings.equipment is not None
    equipment = load_equipment(settings.equipment, dns=settings.dns)
    check_usable(equipment, settings.roles, image_starter)
    if settings.topology == "local" and not is_loopback(settings.interface):
        check_on_interface(equipment, settings.interface, interface_addresses(settings.interface), settings.roles)
    preflight(equipment)
    return equipment


def run_suite(settings: RunSettings, stream: TextIO | None = None, err: TextIO | None = None, *,
              image_starter: ImageStarter | None = None) -> RunResult:
    """Runs the suite as ``settings`` say, the console lines on ``stream`` (refusals on ``err``)."""
    out, err = stream or sys.stdout, err or sys.stderr
    started, started_wall = time.monotonic(), time.time()
    equipment: Equipment | None = None
    if settings.equipment is not None:
        try:
            equipment = _load_equipment(settings, image_starter)
        except (EquipmentError, InterfaceError) as exc:
            err.write(f"trunkcheck: equipment refused before any scenario traffic: {exc}\n")
            return _refused(settings, started)
        asked = (f"{dns_text(equipment.dns)}{' (--dns)' if settings.dns else ''}" if equipment.dns
                 else "the system resolver")
        for key, (written, found) in sorted(equipment.located.items(), key=lambda kv: equipment.lines.get(kv[0], 0)):
            out.write(f"trunkcheck: {equipment.where(key)} {written} is {found} (located through DNS, RFC 3263, "
                      f"asking {asked})\n")
    asked = settings.capture
    try:
        settings = replace(settings, capture=resolve_capture(asked, settings.interface))
    except CaptureError as exc:
        out.write(f"trunkcheck: cannot capture on {settings.interface}, so nothing can be asserted: {exc}\n")
        return _refused(settings, started)
    if settings.capture == "sockets":
        out.write(f"trunkcheck: capturing from trunkcheck's own sockets ({'no CAP_NET_RAW' if asked == 'auto' else '--capture sockets'}): "
                  f"the pcaps show {SEES}; they cannot show {CANNOT_SEE}\n")
    run_dir = _run_dir(settings)
    running: RunningEquipment | None = None
    if equipment is not None:
        try:
            running = start_equipment(equipment, run_dir / "equipment", image_starter)
            if running is not None and equipment.role == "trunk":
                preflight(equipment, started=True)
        except (EquipmentError, EquipmentStartError) as exc:
            err.write(f"trunkcheck: the equipment under test did not start: {exc}\n")
            if running is not None:
                running.stop()
            return _refused(settings, started)
        if running is not None:
            out.write(f"trunkcheck: started {equipment.name} (log: {display_path(running.log_path)})\n")
    try:
        result = _run_behave(settings, run_dir, out, started)
    finally:
        if running is not None:
            alive = running.running()
            running.stop()
            if not alive:
                out.write(f"trunkcheck: {running.name} had stopped before the end of the run\n")
    data = RunData(result.summary, result.records, settings.conditions, started_wall, time.time(),
                   str(settings.equipment) if settings.equipment is not None else None)
    data.save(run_dir)
    if settings.topology != "docker":  # there the host writes them, with the equipment container's log
        result.report, result.validation_report = write_reports(
            run_dir, data, equipment, equipment_log=running.log_path if running is not None else None)
    for line in console_lines(settings.conditions):
        out.write(line + "\n")
    out.write(result.summary_line() + "\n")
    out.flush()
    return result


def _run_behave(settings: RunSettings, run_dir: Path, out: TextIO, started: float) -> RunResult:

    from behave.configuration import Configuration
    from behave.runner import Runner

    from harness.reports import junit as junit_report

    config = Configuration(  # type: ignore[no-untyped-call]  # behave's own code has no annotations
        behave_args(settings, run_dir),
        load_config=False,
        scenario_outline_annotation_schema="{name} -- @{row.id}",
    )
    userdata = config.userdata
    assert userdata is not None  # behave fills it from the -D options
    if settings.faults:
        userdata["faults"] = settings.faults  # typed, for the scenarios' reference servers
    userdata["roles"] = settings.roles  # typed: where the harness's roles live
    junit_report.install(config, settings.conditions)
    runner = Runner(config)
    out.write(f"trunkcheck: running {', '.join(display_path(p) for p in settings.features)} -> {display_path(run_dir)}\n")
    out.flush()
    behave_failed = True
    try:
        behave_failed = bool(runner.run())
    except Exception as err:  # noqa: BLE001 - a parse or config error: say it, exit non-zero
        out.write(f"trunkcheck: behave could not run the suite: {type(err).__name__}: {err}\n")
    records = _collect(runner, run_dir)
    passed = sum(r.status == PASSED for r in records)
    skipped = sum(r.status in SKIPPED for r in records)
    na = sum(r.status == NOT_APPLICABLE for r in records)
    total = len(records) - skipped - na
    summary = RunSummary(run_dir.name, total, passed, total - passed, skipped, time.monotonic() - started,
                         not_applicable=na)
    exit_code = 0 if summary.ok and not behave_failed else 1
    result = RunResult(run_dir, summary, records, None, exit_code)
    if total == 0:
        out.write("trunkcheck: no scenario was selected (check --features and --tags)\n" if not na else
                  "trunkcheck: no selected scenario applies to the equipment under test\n")
    return result


def _collect(runner: Any, run_dir: Path) -> list[ScenarioRecord]:
    """Scenario records in run order: the behave model says what ran and how it ended, the `.json` files
    written after each scenario add ladders, notes and captures."""
    written = {r.location: r for r in load_records(run_dir)}
    out: list[ScenarioRecord] = []
    for feature in getattr(runner, "features", []) or []:
        for scenario in feature.walk_scenarios():
            status = status_name(scenario)
            rec = written.get(str(scenario.location))
            if rec is None:
                rec = ScenarioRecord(feature.name, scenario.name, str(scenario.location))
            if status not in SKIPPED or rec.status in SKIPPED:
                rec.status = status  # the model's final word (a failing after hook turns passed into hook_error)
            if rec.status not in (PASSED, NOT_APPLICABLE, *SKIPPED) and not rec.error:
                rec.error = failure_text(scenario)
            out.append(rec)
    return out
