"""A SIPp process, waited on from plain code and from asyncio: one implementation, so both faces start,
wait, stop and kill alike. A small stand-in program plays SIPp (no SIPp needed): it binds the ``-i``/``-p``
address it is given and ends on SIPp's stop signal, or never binds and ignores that signal (born ignoring
it, so no stop can come before it does), or exits at once with a complaint."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.adapters.sipp import SippError, SippResult, SippRun

from ..addresses import loopback

ADDRESS = (loopback(51, subnet=4), 5090)

BINDS = f"""#!{sys.executable}
import signal, socket, sys, time
args = sys.argv[1:]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((args[args.index("-i") + 1], int(args[args.index("-p") + 1])))
signal.signal(signal.SIGUSR1, lambda *_: sys.exit(0))  # as SIPp: no new calls, end when the current ones end
time.sleep(30)
"""
DEAF = "#!/bin/sh\nexec sleep 30\n"  # run with SIGUSR1 ignored: see the fixture `deaf`
COMPLAINS = "#!/bin/sh\necho 'sipp: unknown option -xyz' >&2\nexit 3\n"

Outcome = tuple[str | None, SippResult]  # what wait_ready raised (None: SIPp bound), what stop returned


def fake_sipp(tmp_path: Path, script: str) -> SippRun:
    program = tmp_path / "sipp"
    program.write_text(script)
    program.chmod(0o755)
    return SippRun("uac", ADDRESS, ("127.0.0.1", 5060), timeout=20, sipp=str(program))


def plain(run: SippRun, ready_timeout: float, grace: float) -> Outcome:
    with run.start() as proc:
        try:
            proc.wait_ready(ready_timeout)
            error = None
        except SippError as exc:
            error = str(exc)
        return error, proc.stop(grace)


def awaited(run: SippRun, ready_timeout: float, grace: float) -> Outcome:
    async def scenario() -> Outcome:
        async with await run.start_async() as proc:
            try:
                await proc.wait_ready(ready_timeout)
                error = None
            except SippError as exc:
                error = str(exc)
            return error, await proc.stop(grace)

    return asyncio.run(scenario())


FACES: dict[str, Callable[[SippRun, float, float], Outcome]] = {"sync": plain, "async": awaited}


@pytest.fixture
def deaf(tmp_path: Path) -> Iterator[SippRun]:
    """A SIPp that never binds and ignores the stop signal from its first instruction on: started while this
    process ignores SIGUSR1, a disposition a child inherits through fork and exec."""
    previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        yield fake_sipp(tmp_path, DEAF)
    finally:
        signal.signal(signal.SIGUSR1, previous)


@pytest.mark.parametrize("face", FACES)
def test_a_sipp_that_binds_is_ready_and_ends_on_the_stop_signal(tmp_path: Path, face: str) -> None:
    error, result = FACES[face](fake_sipp(tmp_path, BINDS), 5.0, 5.0)
    assert error is None
    assert result.exit_code == 0 and not result.timed_out, result.describe()


@pytest.mark.parametrize("face", FACES)
def test_a_sipp_that_exits_at_start_is_reported_with_its_code_and_complaint(tmp_path: Path, face: str) -> None:
    error, result = FACES[face](fake_sipp(tmp_path, COMPLAINS), 5.0, 1.0)
    assert error is not None
    assert f"exited with 3 before binding {ADDRESS[0]}:{ADDRESS[1]}: sipp: unknown option -xyz" in error
    assert result.exit_code == 3


@pytest.mark.parametrize("face", FACES)
def test_a_sipp_that_never_binds_nor_stops_is_refused_then_killed(deaf: SippRun, face: str) -> None:
    error, result = FACES[face](deaf, 0.3, 0.3)
    assert error is not None and f"did not bind {ADDRESS[0]}:{ADDRESS[1]} within 0.3 s" in error
    assert result.timed_out and result.exit_code == -signal.SIGKILL
    assert "killed at its time bound" in result.describe()


def test_awaiting_a_sipp_lets_the_event_loop_run_other_tasks(deaf: SippRun) -> None:
    async def scenario() -> tuple[bool, SippResult]:
        async with await deaf.start_async() as proc:
            stopping = asyncio.create_task(proc.stop(grace=2.0))
            await asyncio.sleep(0.1)  # a loop blocked by the stop would only get here once SIPp was killed
            pending_meanwhile = not stopping.done()
            return pending_meanwhile, await stopping

    pending_meanwhile, result = asyncio.run(scenario())
    assert pending_meanwhile, "stopping SIPp blocked the event loop"
    assert result.timed_out and result.exit_code == -signal.SIGKILL
