"""One behave run of the suite in this process, with behave's Runner API: its scenarios' records and how it
ended. `trunkcheck run` does one (harness.suite.runner); with ``--jobs N`` each worker process does one,
taking its scenarios from the queue the workers share (harness.jobs).

    records, failed = run_behave(settings, run_dir)              # every scenario of the run, in run order
    records, failed = run_behave(settings, run_dir, scenario_filter=Only.of(...), junit_dir=...)
    result = summarise(run_dir, records, failed, started)          # the run's RunResult

A ``scenario_filter`` (harness.jobs.scenario_filter) leaves the scenarios it declines to others: they are
in neither the records nor the JUnit XML of this run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.jobs.selection import OUTLINE_NAMES, scenario_id
from harness.reports.record import NOT_APPLICABLE, RunSummary, ScenarioRecord, SuiteInfo, load_records
from harness.reports.write import SKIPPED
from harness.settings import RunSettings, dns_text
from harness.suite.hooks import failure_text
from harness.suite.progress import status_name

__all__ = ["PASSED", "RunResult", "behave_args", "load_steps", "run_behave", "summarise"]

PASSED = "passed"
_STEPS_LOADED: set[str] = set()
"""The steps folders whose step definitions this process has loaded into behave's registry (process-wide)."""


def _runner(config: Any) -> Any:
    """behave's Runner, loading a steps folder's definitions once per process: behave's step registry is
    process-wide, and loading them again only finds each definition there already. A --jobs run loads them
    before it forks its workers (load_steps), so each worker does not compile and run them again."""
    from behave.runner import Runner

    class _Runner(Runner):  # type: ignore[misc]  # behave has no annotations
        def load_step_definitions(self, extra_step_paths: Any = None) -> None:
            folder = os.path.join(self.base_dir, self.config.steps_dir)
            if folder in _STEPS_LOADED and not extra_step_paths:
                return
            super().load_step_definitions(extra_step_paths)
            _STEPS_LOADED.add(folder)

    return _Runner(config)


def _configuration(settings: RunSettings, run_dir: Path, junit_dir: Path | None = None) -> Any:
    from behave.configuration import Configuration

    return Configuration(  # type: ignore[no-untyped-call]  # behave's own code has no annotations
        behave_args(settings, run_dir, junit_dir),
        load_config=False,
        scenario_outline_annotation_schema=OUTLINE_NAMES,
    )


def load_steps(settings: RunSettings, run_dir: Path) -> None:
    """Load the suite's step definitions (and what they import) into this process now; a problem is left
    for the run itself to report."""
    try:
        runner = _runner(_configuration(settings, run_dir))
        with runner.path_manager:  # as behave's run does: the suite's root on sys.path meanwhile
            runner.setup_paths()
            runner.load_step_definitions()
    except Exception:  # noqa: BLE001, S110 - the workers' own behave runs say what is wrong
        pass


@dataclass
class RunResult:
    run_dir: Path
    summary: RunSummary
    records: list[ScenarioRecord]
    report: Path | None
    exit_code: int
    validation_report: Path | None = None
    suite: SuiteInfo | None = None  # what the run selected of the suite (run.json keeps it for trunkcheck merge)

    def summary_line(self) -> str:
        from harness.settings import display_path

        s = self.summary
        na = f", {s.not_applicable} not applicable" if s.not_applicable else ""
        skipped = f", {s.skipped} skipped" if s.skipped else ""
        where = self.validation_report or self.report or self.run_dir
        return (f"trunkcheck: {s.total} scenarios, {s.passed} passed, {s.failed} failed{na}{skipped} in "
                f"{s.seconds:.1f} s — {display_path(where)}")


def behave_args(settings: RunSettings, run_dir: Path, junit_dir: Path | None = None) -> list[str]:
    args = [str(p) for p in settings.features]
    args += ["--format", "harness.suite.progress:ProgressFormatter", "--no-summary", "--no-snippets",
             "--color", "off"]
    args += ["--junit", "--junit-directory", str(junit_dir or run_dir / "junit")]
    args += ["-D", f"run_dir={run_dir}", "-D", f"decode={settings.decode}", "-D", f"capture={settings.capture}"]
    if settings.verbose:
        args += ["-D", "verbose=1"]
    if settings.equipment is not None:
        args += ["-D", f"equipment={settings.equipment}"]
    if settings.dns is not None:
        args += ["-D", f"dns={dns_text(settings.dns)}"]
    args += ["-D", f"interface={settings.interface}", "-D", f"destination={settings.destination}",
             "-D", f"response_timeout={settings.response_timeout:g}"]
    for name, value in settings.defines:  # scenario durations (harness.suite.durations)
        args += ["-D", f"{name}={value}"]
    for expr in settings.tags:
        args += ["--tags", expr]
    return args


def run_behave(settings: RunSettings, run_dir: Path, *, scenario_filter: Any = None, junit_dir: Path | None = None,
               stems: dict[str, str] | None = None, worker: str = "",
               decoder: Any = None) -> tuple[list[ScenarioRecord], bool, str | None]:
    """Runs behave as ``settings`` say: the records of the scenarios it ran (or skipped), whether behave
    reported a failure, and why behave could not run at all (None when it could). ``stems``: behave
    location -> the scenario's file stem in the run folder (the workers of one run share a folder); ``worker``:
    this process's name among them ("w1"), for what it makes for the whole run (Session.own_folder); ``decoder``:
    the run's decoder, which the workers share (harness.capture.decode_relay.RemoteDecoder)."""
    from harness.reports import junit as junit_report

    config = _configuration(settings, run_dir, junit_dir)
    userdata = config.userdata
    assert userdata is not None  # behave fills it from the -D options
    if settings.faults:
        userdata["faults"] = settings.faults  # typed, for the scenarios' reference servers
    userdata["roles"] = settings.roles  # typed: where the harness's roles live
    if scenario_filter is not None:
        userdata["scenario_filter"] = scenario_filter
    if stems:
        userdata["stems"] = stems
    if worker:
        userdata["worker"] = worker
    if decoder is not None:
        userdata["decoder"] = decoder
    junit_report.install(config, settings.conditions)
    runner = _runner(config)
    behave_failed, why = True, None
    try:
        behave_failed = bool(runner.run())
    except Exception as err:  # noqa: BLE001 - a parse or config error: say it, exit non-zero
        why = f"{type(err).__name__}: {err}"
    return collect(runner, run_dir), behave_failed, why


def summarise(run_dir: Path, records: list[ScenarioRecord], behave_failed: bool, started: float) -> RunResult:
    """The run's result from its records: counts, and exit status 0 only when every scenario selected
    that applies passed (and behave reported no failure)."""
    passed = sum(r.status == PASSED for r in records)
    skipped = sum(r.status in SKIPPED for r in records)
    na = sum(r.status == NOT_APPLICABLE for r in records)
    total = len(records) - skipped - na
    summary = RunSummary(run_dir.name, total, passed, total - passed, skipped, time.monotonic() - started,
                         not_applicable=na)
    exit_code = 0 if summary.ok and not behave_failed else 1
    return RunResult(run_dir, summary, records, None, exit_code)


def collect(runner: Any, run_dir: Path) -> list[ScenarioRecord]:
    """Scenario records in run order: the behave model says what ran and how it ended, the `.json` files
    written after each scenario add ladders, notes and captures. Scenarios the run's filter left to another
    process are not in it."""
    written = {r.location: r for r in load_records(run_dir)}
    out: list[ScenarioRecord] = []
    for feature in getattr(runner, "features", []) or []:
        for scenario in feature.walk_scenarios():
            if getattr(scenario, "trunkcheck_elsewhere", False):
                continue
            status = status_name(scenario)
            rec = written.get(str(scenario.location))
            if rec is None:
                rec = ScenarioRecord(feature.name, scenario.name, str(scenario.location))
            if status not in SKIPPED or rec.status in SKIPPED:
                rec.status = status  # the model's final word (a failing after hook turns passed into hook_error)
            if rec.status not in (PASSED, NOT_APPLICABLE, *SKIPPED) and not rec.error:
                rec.error = failure_text(scenario)
            rec.suite_id = scenario_id(str(scenario.location))
            out.append(rec)
    return out
