"""`trunkcheck run --jobs N`: N worker processes (harness.suite.job_worker) share the run's scenarios, and their
results become one run folder with the reports a sequential run writes.

    result = run_parallel(settings, run_dir, suite, mine, out, started)

- Workers are forked from this process (the command line), else from multiprocessing's fork server
  (``worker_context``): either way behave and the harness are imported once, not once per worker.
- Each worker's roles live in a loopback /24 of their own: the run's block (``--loopback``, default
  127.0.0.0) for worker 0, the next /24 for worker 1 (127.0.1.10, .11, .12, .20, .30 ...), and so on. Each
  scenario's capture filters by its own addresses and ports (harness.topology), so no pcap holds another
  worker's traffic, and each worker has its ports, reference servers, simulators and decoder to itself.
- The workers take scenarios from one queue in the suite's order (harness.jobs.scenario_filter.Claims),
  each the next free one as soon as it is done: the order in which they finish does not matter.
- The run's folder is shared: each scenario's pcap, ladder and record go where a sequential run puts them
  (the stems are planned here, in the suite's order). The records come back over each worker's pipe; the
  run lists them in the suite's order, and joins the workers' JUnit XML into ``junit/``
  (harness.reports.junit_merge). The workers' own folders (``.jobs/``) are removed at the end.
- The workers decode their captures with one tshark, this process's (harness.capture.decode_relay): its
  start-up is paid once, not once per worker.
- A worker that dies leaves the scenario it was running with status "error" and the reason (those it
  had finished keep the records they wrote); the others go on. Every
  wait is bounded: past ``deadline`` the workers are stopped and what they had not finished is an error.

``--jobs N`` with equipment under test is refused (harness.jobs.refusal): equipment at fixed addresses is
one trunk or UA for every scenario, and its fixed destination address can be bound by one process only.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import fields, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TextIO

from harness.capture.decode_relay import serve
from harness.capture.decode_stream import StreamDecoder
from harness.jobs.refusal import worker_roles
from harness.jobs.selection import Suite, SuiteScenario
from harness.reports.junit_merge import merge_junit
from harness.reports.record import ScenarioRecord
from harness.settings import RunSettings, junit_properties
from harness.suite.behave_run import RunResult, load_steps, summarise
from harness.suite.job_worker import WorkerSpec, work
from harness.suite.session import slug
from harness.topology import SIP_PORT_RANGE

__all__ = ["SCENARIO_BOUND", "plan_stems", "run_decoder", "run_parallel", "start_fork_server", "worker_context"]

FIELDS = {f.name for f in fields(ScenarioRecord)}
SCENARIO_BOUND = 60.0
"""Seconds the run allows per scenario (on top of START_BOUND) before it stops its workers."""
START_BOUND = 60.0
JOIN_TIMEOUT = 10.0


def worker_context() -> Any:
    """How workers start: forked from this process when it has one thread only (the command line: nothing
    to import again, no lock another thread could hold across the fork), else from multiprocessing's fork
    server (a clean single-threaded process that imports the harness once for every worker it forks)."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return start_fork_server()


def start_fork_server() -> Any:
    """multiprocessing's fork server, started now (it imports the harness while this process goes on)."""
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["harness.suite.job_worker"])
    forkserver.ensure_running()
    return ctx


def plan_stems(scenarios: Sequence[SuiteScenario]) -> dict[str, str]:
    """behave location -> ``<feature>/<scenario>`` stem, as a sequential run names them in this order."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for s in scenarios:
        base = f"{slug(s.feature, 60)}/{slug(s.name)}"
        stem, n = base, 2
        while stem in taken:
            stem, n = f"{base}-{n}", n + 1
        taken.add(stem)
        out[s.location] = stem
    return out


def _shares_decoder(settings: RunSettings) -> bool:
    """Whether the workers decode with this process's tshark: the long-lived decoder, no equipment (whose
    SIP ports the decoder would need to know; --jobs refuses equipment anyway)."""
    return settings.decode == "stream" and settings.equipment is None


def run_decoder(settings: RunSettings) -> StreamDecoder | None:
    """The tshark the workers will share, spawned now (no thread yet): its start-up overlaps the run's own
    before the workers start; None when the workers decode otherwise (--decode file)."""
    if settings.jobs <= 1 or not _shares_decoder(settings):
        return None
    decoder = StreamDecoder(sip_ports=[SIP_PORT_RANGE])
    decoder.spawn()
    return decoder


def shared_decoder(conns: Sequence[Connection], decoder: StreamDecoder | None = None) -> StreamDecoder | None:
    """The run's tshark (``decoder``, else one started now), serving each worker at the other end of
    ``conns`` on a thread of its own (harness.capture.decode_relay); None without workers to serve."""
    if not conns:
        if decoder is not None:
            decoder.close()
        return None
    decoder = decoder or StreamDecoder(sip_ports=[SIP_PORT_RANGE])
    decoder.warm_up()
    for k, conn in enumerate(conns):
        threading.Thread(target=serve, args=(conn, decoder), name=f"decode relay {k}", daemon=True).start()
    return decoder


def _written(path: Path) -> ScenarioRecord | None:
    """The record a scenario wrote as it ended (world.finish), or None."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ScenarioRecord(**{k: v for k, v in data.items() if k in FIELDS})
    except (OSError, ValueError, TypeError):
        return None


def _skipped(s: SuiteScenario) -> ScenarioRecord:
    return ScenarioRecord(s.feature, s.name, s.location, status="skipped", suite_id=s.id)


def run_parallel(settings: RunSettings, run_dir: Path, suite: Suite, mine: Sequence[SuiteScenario], out: TextIO,
                 started: float, decoder: StreamDecoder | None = None) -> RunResult:
    """Runs ``mine`` (the selected scenarios of this run, in the suite's order) on ``settings.jobs`` workers;
    ``decoder``: the run's tshark, spawned early (run_decoder), else started here."""
    jobs_dir = run_dir / ".jobs"
    (jobs_dir / "claims").mkdir(parents=True, exist_ok=True)
    stems, order = plan_stems(mine), tuple(s.location for s in mine)
    count = max(1, min(settings.jobs, len(mine)))
    ctx = worker_context()
    if ctx.get_start_method() == "fork":
        load_steps(settings, run_dir)  # once here, not once per worker
    workers: dict[Connection, tuple[int, Any]] = {}
    decodes: list[Connection] = []  # this process's ends of the workers' decode pipes (harness.capture.decode_relay)
    out.flush()
    for stream in (sys.stdout, sys.stderr):  # a forked worker must not write this process's buffers again
        stream.flush()
    for k in range(count if mine else 0):
        spec = WorkerSpec(k, replace(settings, roles=worker_roles(settings.roles, k), jobs=1), run_dir,
                          jobs_dir / f"w{k}" / "junit", jobs_dir / "claims", order, stems, str(Path.cwd()))
        reader, writer = ctx.Pipe(duplex=False)
        ours, theirs = ctx.Pipe() if _shares_decoder(settings) else (None, None)
        process = ctx.Process(target=work, args=(spec, writer, theirs), name=f"trunkcheck-job-{k}", daemon=True)
        process.start()
        writer.close()
        if ours is not None and theirs is not None:
            theirs.close()
            decodes.append(ours)
        workers[reader] = (k, process)
    decoder = shared_decoder(decodes, decoder)  # its threads once the workers are: they fork from one thread
    try:
        done, problems, failed = _gather(workers, out,
                                         time.monotonic() + START_BOUND + SCENARIO_BOUND * len(mine))
    finally:
        if decoder is not None:
            decoder.close()
        for conn in decodes:
            conn.close()
    for location, stem in stems.items():  # a worker that died: the scenarios it finished wrote their records
        if location not in done and (written := _written(run_dir / f"{stem}.json")) is not None:
            done[location] = written
    records = _records(suite, mine, done, problems, jobs_dir / "claims", workers)
    merge_junit([jobs_dir / f"w{k}" / "junit" for k in range(count)], run_dir / "junit",
                order=[s.id for s in suite.scenarios], properties=junit_properties(settings.conditions))
    shutil.rmtree(jobs_dir, ignore_errors=True)
    return summarise(run_dir, records, failed or bool(problems), started)


def _gather(workers: dict[Connection, tuple[int, Any]], out: TextIO,
            deadline: float) -> tuple[dict[str, ScenarioRecord], dict[int, str], bool]:
    """Relays the workers' progress until each has ended (or ``deadline``): their records by location,
    what went wrong with each worker that did not end well, whether behave reported a failure."""
    done: dict[str, ScenarioRecord] = {}
    problems: dict[int, str] = {}
    failed = False
    open_ = dict(workers)
    while open_:
        ready = wait(list(open_), timeout=max(0.0, deadline - time.monotonic()))
        if not ready:
            for k, process in open_.values():
                problems[k] = "did not finish within the run's bound; stopped"
                process.kill()
            break
        for conn in ready:
            assert isinstance(conn, Connection)
            k, process = open_[conn]
            try:
                message = conn.recv()
            except (EOFError, OSError):
                process.join(JOIN_TIMEOUT)
                problems.setdefault(k, f"ended (exit status {process.exitcode}) without its results")
                del open_[conn]
                continue
            if message[0] == "out":
                out.write(message[1])
                out.flush()
            elif message[0] == "done":
                for data in message[1]:
                    done[data["location"]] = ScenarioRecord(**data)
                failed = failed or bool(message[2])
                if message[3]:
                    problems[k] = f"behave could not run: {message[3]}"
                _close(conn, process, open_)
            elif message[0] == "crash":
                problems[k] = f"crashed:\n{message[1]}"
                _close(conn, process, open_)
    for _, process in workers.values():
        process.join(JOIN_TIMEOUT)
        if process.is_alive():
            process.kill()
            process.join(JOIN_TIMEOUT)
    for k, why in sorted(problems.items()):
        out.write(f"trunkcheck: worker {k} {why.rstrip()}\n")
    return done, problems, failed


def _close(conn: Connection, process: Any, open_: dict[Connection, tuple[int, Any]]) -> None:
    conn.close()
    del open_[conn]
    process.join(JOIN_TIMEOUT)


def _records(suite: Suite, mine: Sequence[SuiteScenario], done: dict[str, ScenarioRecord], problems: dict[int, str],
             claims: Path, workers: dict[Connection, tuple[int, Any]]) -> list[ScenarioRecord]:
    """Every scenario of the suite this run has, in the suite's order: what its worker recorded, an error
    saying why when no worker finished it, and those --tags did not select as skipped (as a sequential run
    lists them)."""
    pids = {process.pid: k for k, process in workers.values()}
    position = {s.location: k for k, s in enumerate(mine)}
    wanted = set(position)
    out: list[ScenarioRecord] = []
    for s in suite.scenarios:
        if not s.selected:
            out.append(_skipped(s))
            continue
        if s.location not in wanted:
            continue  # another shard's
        rec = done.get(s.location)
        if rec is None or rec.status in ("skipped", "untested"):
            rec = ScenarioRecord(s.feature, s.name, s.location, status="error", suite_id=s.id,
                                 error=_why_missing(claims / str(position[s.location]), pids, problems))
        rec.suite_id = s.id
        out.append(rec)
    return out


def _why_missing(claim: Path, pids: dict[int | None, int], problems: dict[int, str]) -> str:
    try:
        pid = int(claim.read_text().strip())
    except (OSError, ValueError):
        return "no worker took this scenario: every worker had stopped (see the run's output)"
    k = pids.get(pid)
    return (f"worker {k} took this scenario and stopped before it ended: "
            f"{problems.get(k, 'no reason given') if k is not None else 'unknown worker'}")
