"""One worker of a ``trunkcheck run --jobs N``: a process (forked from multiprocessing's fork server, where
behave and the harness are imported once for all the workers) that runs behave over the run's features,
taking each scenario from the queue the workers share (harness.jobs.scenario_filter.Claims) and leaving
the others; its roles live in a loopback block of their own, its artifacts go to the run's folder under
the stems the run planned, its JUnit XML to a folder of its own (the run joins them).

What it prints (behave's progress lines) and, at its end, its records go back to the run over a pipe:

    ("out", text)                            progress, as each scenario ends
    ("done", records, behave_failed, why)    the records of the scenarios it took (as dicts)
    ("crash", traceback)                     it could not run behave at all
"""

from __future__ import annotations

import io
import os
import sys
import traceback
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from harness.capture.decode_relay import RemoteDecoder
from harness.jobs.scenario_filter import Claims
from harness.settings import RunSettings
from harness.suite.behave_run import run_behave

__all__ = ["WorkerSpec", "work"]


@dataclass(frozen=True)
class WorkerSpec:
    index: int
    settings: RunSettings  # the run's, the roles in this worker's loopback block
    run_dir: Path
    junit_dir: Path  # this worker's JUnit XML
    claims: Path  # the folder of the shared queue
    order: tuple[str, ...]  # behave locations of the scenarios to share out, in the suite's order
    stems: dict[str, str]  # behave location -> file stem in run_dir
    cwd: str  # behave names locations relative to it


class _Relay(io.TextIOBase):
    """A text stream whose flushes go to the run as ("out", text) messages."""

    encoding = "utf-8"

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self._conn = conn
        self._pending: list[str] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending.append(text)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            text, self._pending = "".join(self._pending), []
            self._conn.send(("out", text))


def work(spec: WorkerSpec, conn: Connection, decode: Connection | None = None) -> None:
    """The worker's body (multiprocessing's target): runs behave, reports on ``conn``; decodes its captures
    with the run's tshark over ``decode`` (harness.capture.decode_relay), else with one of its own."""
    try:
        os.chdir(spec.cwd)
        relay = _Relay(conn)
        sys.stdout = relay  # behave's progress formatter writes to the stdout of when its config is built
        records, failed, why = run_behave(spec.settings, spec.run_dir, junit_dir=spec.junit_dir,
                                          scenario_filter=Claims(spec.claims, spec.order), stems=spec.stems,
                                          worker=f"w{spec.index}",
                                          decoder=RemoteDecoder(decode) if decode is not None else None)
        relay.flush()
        conn.send(("done", [asdict(r) for r in records], failed, why))
    except BaseException:  # noqa: BLE001 - whatever it is, the run must hear of it, not a silent pipe
        try:
            conn.send(("crash", traceback.format_exc()))
        except OSError:
            pass
    finally:
        sys.stdout = sys.__stdout__
        conn.close()
