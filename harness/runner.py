"""Run the conformance suite with behave's Runner API and write the run's reports.

    result = run_suite(RunSettings(run_id="20261126-074512"))
    result.exit_code        # 0 only when every selected scenario passed

Output, in `captures/<run-id>/`: per scenario `<feature>/<scenario>.pcap`, `.ladder.txt` and `.json`;
`junit/TESTS-*.xml` (behave's JUnit reporter) and `report.html`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.behave_hooks import check_capture, failure_text
from harness.capture import CaptureError
from harness.progress import status_name
from harness.report import RunSummary, load_records, write_report
from harness.scenario import ScenarioRecord
from harness.session import REPO

__all__ = ["RunResult", "RunSettings", "run_suite"]

FEATURES = REPO / "features"
PASSED, SKIPPED = "passed", ("skipped", "untested")


@dataclass(frozen=True)
class RunSettings:
    run_id: str = field(default_factory=lambda: time.strftime("%Y%m%d-%H%M%S"))
    features: tuple[Path, ...] = (FEATURES,)
    tags: tuple[str, ...] = ()
    output: Path = REPO / "captures"
    verbose: bool = False
    faults: frozenset[str] = frozenset()  # test only: a deliberately broken reference server
    decode: str = "stream"


@dataclass
class RunResult:
    run_dir: Path
    summary: RunSummary
    records: list[ScenarioRecord]
    report: Path | None
    exit_code: int

    def summary_line(self) -> str:
        s = self.summary
        skipped = f", {s.skipped} skipped" if s.skipped else ""
        where = self.report or self.run_dir
        return (f"trunkcheck: {s.total} scenarios, {s.passed} passed, {s.failed} failed{skipped} in "
                f"{s.seconds:.1f} s — {_display(where)}")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _run_dir(settings: RunSettings) -> Path:
    base = settings.output / settings.run_id
    run_dir, n = base, 2
    while run_dir.exists() and any(run_dir.iterdir()):
        run_dir = base.with_name(f"{base.name}-{n}")
        n += 1
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def behave_args(settings: RunSettings, run_dir: Path) -> list[str]:
    args = [str(p) for p in settings.features]
    args += ["--format", "harness.progress:ProgressFormatter", "--no-summary", "--no-snippets", "--color", "off"]
    args += ["--junit", "--junit-directory", str(run_dir / "junit")]
    args += ["-D", f"run_dir={run_dir}", "-D", f"decode={settings.decode}"]
    if settings.faults:
        args += ["-D", f"faults={','.join(sorted(settings.faults))}"]
    if settings.verbose:
        args += ["-D", "verbose=1"]
    for expr in settings.tags:
        args += ["--tags", expr]
    return args


def run_suite(settings: RunSettings, stream: TextIO | None = None) -> RunResult:
    out = stream or sys.stdout
    started = time.monotonic()
    run_dir = _run_dir(settings)
    try:
        check_capture()
    except CaptureError as err:
        out.write(f"trunkcheck: cannot capture on loopback, so nothing can be asserted: {err}\n")
        with contextlib.suppress(OSError):
            run_dir.rmdir()  # only if still empty
        summary = RunSummary(run_dir.name, 0, 0, 0, 0, time.monotonic() - started)
        return RunResult(run_dir, summary, [], None, 2)

    from behave.configuration import Configuration
    from behave.runner import Runner

    config = Configuration(
        behave_args(settings, run_dir),
        load_config=False,
        scenario_outline_annotation_schema="{name} -- @{row.id}",
    )
    runner = Runner(config)
    out.write(f"trunkcheck: running {', '.join(_display(p) for p in settings.features)} -> {_display(run_dir)}\n")
    out.flush()
    behave_failed = True
    try:
        behave_failed = bool(runner.run())
    except Exception as err:  # noqa: BLE001 - a parse or config error: say it, exit non-zero
        out.write(f"trunkcheck: behave could not run the suite: {type(err).__name__}: {err}\n")
    records = _collect(runner, run_dir)
    passed = sum(r.status == PASSED for r in records)
    skipped = sum(r.status in SKIPPED for r in records)
    total = len(records) - skipped
    summary = RunSummary(run_dir.name, total, passed, total - passed, skipped, time.monotonic() - started)
    report = write_report(run_dir / "report.html", summary, [r for r in records if r.status not in SKIPPED])
    exit_code = 0 if summary.ok and not behave_failed else 1
    result = RunResult(run_dir, summary, records, report, exit_code)
    if total == 0:
        out.write("trunkcheck: no scenario was selected (check --features and --tags)\n")
    out.write(result.summary_line() + "\n")
    out.flush()
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
            if rec.status != PASSED and rec.status not in SKIPPED and not rec.error:
                rec.error = failure_text(scenario)
            out.append(rec)
    return out
