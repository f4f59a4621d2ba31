"""Run the conformance suite with behave's Runner API and write the run's reports.

    result = run_suite(RunSettings(run_id="20261126-074512"))
    result.exit_code        # 0 only when every selected scenario passed

Output, in `captures/<run-id>/`: per scenario `<feature>/<scenario>.pcap`, `.ladder.txt` and `.json`;
`junit/TESTS-*.xml` (behave's JUnit reporter), `run.json` (the run's data: harness.reports.record.RunData) and
`report.html`, written from it once the run is over. Every report, and the console summary,
states the run's conditions that differ from the defaults (harness.settings: a test fault, --tags,
--features, another destination, interface or response timeout ...).

With ``settings.jobs`` > 1 the scenarios run on worker processes (harness.suite.jobs) and the run folder
is the one a sequential run leaves; ``settings.shard`` (I, N) runs the I-th of N round-robin slices of the
selected scenarios (harness.jobs.selection). ``run.json`` keeps the suite's digest, the selected scenarios'
ids and the shard, for ``trunkcheck merge``.

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
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from harness.adapters.kamailio import EquipmentStartError
from harness.capture.sniffer import CaptureError
from harness.capture.socket_capture import CANNOT_SEE, SEES
from harness.equipment import Equipment, EquipmentError, load_equipment, preflight
from harness.equipment.netif import InterfaceError, interface_addresses, is_loopback
from harness.jobs.refusal import jobs_refusal
from harness.jobs.scenario_filter import Only
from harness.jobs.selection import list_scenarios, shard_of
from harness.reports.record import RunData, RunSummary, SuiteInfo
from harness.reports.write import write_reports
from harness.settings import RunSettings, console_lines, display_path, dns_text, free_run_id
from harness.suite.behave_run import RunResult, run_behave, summarise
from harness.suite.equipment_setup import (
    ImageStarter,
    RunningEquipment,
    check_on_interface,
    check_usable,
    start_equipment,
)
from harness.suite.hooks import resolve_capture
from harness.suite.jobs import run_decoder, run_parallel

__all__ = ["RunResult", "run_suite"]

def _run_dir(settings: RunSettings) -> Path:
    run_dir = settings.output / free_run_id(settings.output, settings.run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


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
    refused = jobs_refusal(settings)
    if refused is not None:
        err.write(f"trunkcheck: {refused}\n")
        return _refused(settings, started)
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
        result = _run(settings, run_dir, out, started)
    finally:
        if running is not None:
            alive = running.running()
            running.stop()
            if not alive:
                out.write(f"trunkcheck: {running.name} had stopped before the end of the run\n")
    data = RunData(result.summary, result.records, settings.conditions, started_wall, time.time(),
                   str(settings.equipment) if settings.equipment is not None else None, result.suite)
    data.save(run_dir)
    if settings.topology != "docker":  # there the host writes them, with the equipment container's log
        result.report, result.validation_report = write_reports(
            run_dir, data, equipment, equipment_log=running.log_path if running is not None else None)
    for line in console_lines(settings.conditions):
        out.write(line + "\n")
    out.write(result.summary_line() + "\n")
    out.flush()
    return result


def _run(settings: RunSettings, run_dir: Path, out: TextIO, started: float) -> RunResult:
    """The scenarios run: in this process (--jobs 1), else by worker processes (harness.jobs)."""
    jobs = f" ({settings.jobs} jobs)" if settings.jobs > 1 else ""
    out.write(f"trunkcheck: running {', '.join(display_path(p) for p in settings.features)} -> "
              f"{display_path(run_dir)}{jobs}\n")
    out.flush()
    decoder = run_decoder(settings)  # tshark starts up while the run lists its scenarios
    try:
        suite = list_scenarios(settings.features, settings.tags)
    except ValueError as exc:
        if decoder is not None:
            decoder.close()
        out.write(f"trunkcheck: behave could not run the suite: {exc}\n")
        return summarise(run_dir, [], True, started)
    mine = suite.selected if settings.shard is None else tuple(shard_of(suite.selected, *settings.shard))
    if settings.jobs > 1:
        result = run_parallel(settings, run_dir, suite, mine, out, started, decoder)
    else:
        only = Only.of(s.location for s in mine) if settings.shard is not None else None
        records, failed, why = run_behave(settings, run_dir, scenario_filter=only)
        if why is not None:
            out.write(f"trunkcheck: behave could not run the suite: {why}\n")
        result = summarise(run_dir, records, failed, started)
    result.suite = SuiteInfo(suite.digest, [s.id for s in suite.selected], settings.shard)
    if result.summary.total == 0:
        out.write("trunkcheck: no scenario was selected (check --features, --tags and --shard)\n"
                  if not result.summary.not_applicable else
                  "trunkcheck: no selected scenario applies to the equipment under test\n")
    return result
