"""SIPp processes started by :class:`harness.adapters.sipp.SippRun`: :class:`SippProcess` (a subprocess)
bounds every wait by the run's wall bound (SIPp's own ``-timeout`` plus a grace period), kills SIPp past it,
and turns what it wrote into a :class:`SippResult`; :class:`AsyncSippProcess` is the same process awaited
from asyncio code.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from .sipp_stats import SippResult, parse_stat_csv, read_excerpt

__all__ = ["POLL_INTERVAL", "AsyncSippProcess", "SippError", "SippInvocation", "SippProcess", "port_bound"]

POLL_INTERVAL = 0.02  # seconds between two looks at SIPp (its socket bound, its exit) while waiting


class SippInvocation(Protocol):
    """What a process reads of the run that started it (a :class:`harness.adapters.sipp.SippRun`): where
    SIPp binds, and how long it may take in all."""

    @property
    def local(self) -> tuple[str, int]: ...
    @property
    def transport(self) -> str: ...
    @property
    def wall_bound(self) -> float: ...


class SippError(RuntimeError):
    """SIPp could not be run as asked (missing binary, bad scenario, exited or did not bind at start-up)."""


def _proc_net_hex(ip: str) -> str:
    """An address as /proc/net/{udp,tcp}[6] write it: 32-bit words in host (little-endian) order."""
    packed = ipaddress.ip_address(ip.strip("[]")).packed
    return "".join(packed[i:i + 4][::-1].hex() for i in range(0, len(packed), 4)).upper()


def port_bound(ip: str, port: int, transport: str = "udp") -> bool:
    """Whether some socket is bound to ip:port (TCP: listening), read from /proc/net: no probe traffic."""
    address = _proc_net_hex(ip)
    v6 = "6" if len(address) > 8 else ""
    table = Path(f"/proc/net/udp{v6}" if transport == "udp" else f"/proc/net/tcp{v6}")
    wanted = {f"{address}:{port:04X}", f"{'0' * len(address)}:{port:04X}"}
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if len(fields) > 3 and fields[1] in wanted and (transport == "udp" or fields[3] == "0A"):
            return True
    return False


class SippProcess:
    """A running SIPp (subprocess.Popen). ``wait()``/``stop()`` return the :class:`SippResult`;
    :class:`AsyncSippProcess` is the same process awaited."""

    def __init__(self, run: SippInvocation, popen: subprocess.Popen[bytes], workdir: Path, owns_workdir: bool,
                 cmd: list[str], files: tuple[IO[bytes], IO[bytes]]) -> None:
        self.run = run
        self.popen = popen
        self.workdir = workdir
        self.command = cmd
        self._owns_workdir = owns_workdir
        self._files = files
        self._started = time.monotonic()
        self.result: SippResult | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def ready(self, deadline: float, timeout: float) -> bool:
        """Whether SIPp's SIP socket is bound (or listening, TCP) yet; SippError once it has exited, or
        when ``deadline`` (``timeout`` seconds after the wait began) has passed."""
        ip, port = self.run.local
        if port_bound(ip, port, self.run.transport):
            return True
        if not self.running():
            raise self._ready_error(f"exited with {self.popen.returncode} before binding {ip}:{port}")
        if time.monotonic() > deadline:
            raise self._ready_error(f"did not bind {ip}:{port} within {timeout} s")
        return False

    def wait_ready(self, timeout: float = 5.0) -> None:
        """Return once SIPp's SIP socket is bound (or listening, TCP); raise SippError if it exited or
        did not bind within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.ready(deadline, timeout):
            time.sleep(POLL_INTERVAL)

    def time_left(self, timeout: float | None) -> float:
        """How long a wait of ``timeout`` seconds (None: no limit of its own) may last: never past the run's
        wall bound."""
        left = self.run.wall_bound - (time.monotonic() - self._started)
        return max(0.0, left if timeout is None else min(timeout, left))

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for SIPp to exit, at most ``timeout`` s and never past the run's wall bound; then kill it."""
        if self.result is not None:
            return self.result
        timed_out = False
        try:
            self.popen.wait(self.time_left(timeout))
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill()
        return self._finish(self.popen.returncode, timed_out)

    def ask_to_finish(self) -> None:
        """SIGUSR1: no new calls, end when the current ones are done."""
        if self.running():
            try:
                self.popen.send_signal(signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def stop(self, grace: float = 5.0) -> SippResult:
        """Ask SIPp to finish (:meth:`ask_to_finish`), kill it after ``grace`` seconds."""
        if self.result is not None:
            return self.result
        self.ask_to_finish()
        return self.wait(grace)

    def abort(self) -> SippResult:
        """Kill SIPp now (its result counts as timed out), unless it has its result already."""
        if self.result is not None:
            return self.result
        self._kill()
        return self._finish(self.popen.returncode, True)

    def _kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
            pass

    def _ready_error(self, what: str) -> SippError:
        stderr = read_excerpt(self.workdir / "stderr.txt", 2000, tail=True).strip()
        return SippError(f"SIPp ({' '.join(self.command)}) {what}" + (f": {stderr}" if stderr else ""))

    def _finish(self, returncode: int | None, timed_out: bool) -> SippResult:
        for f in self._files:
            f.close()
        stats = parse_stat_csv(self.workdir / "stat.csv")
        result = SippResult(
            exit_code=returncode, successful=_int(stats.get("SuccessfulCall(C)")),
            failed=_int(stats.get("FailedCall(C)")), stats=stats,
            error_log_excerpt=read_excerpt(self.workdir / "errors.log"), timed_out=timed_out,
            command=self.command, workdir=self.workdir,
            screen_excerpt=read_excerpt(self.workdir / "screen.txt", 12000, tail=True),
            stderr_excerpt=read_excerpt(self.workdir / "stderr.txt", 2000, tail=True))
        if self._owns_workdir and result.ok:
            shutil.rmtree(self.workdir, ignore_errors=True)
            result.workdir = None
        self.result = result
        return result

    def __enter__(self) -> SippProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.stop()
        else:
            self.abort()


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


class AsyncSippProcess:
    """A :class:`SippProcess` awaited: the same methods, each waiting in steps of ``POLL_INTERVAL`` without
    blocking the event loop; the process itself kills SIPp and reads its result."""

    def __init__(self, process: SippProcess) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def result(self) -> SippResult | None:
        return self.process.result

    def running(self) -> bool:
        return self.process.running()

    async def wait_ready(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.process.ready(deadline, timeout):
            await asyncio.sleep(POLL_INTERVAL)

    async def wait(self, timeout: float | None = None) -> SippResult:
        end = time.monotonic() + self.process.time_left(timeout)
        while self.process.result is None and self.running() and time.monotonic() < end:
            await asyncio.sleep(POLL_INTERVAL)
        return self.process.wait(0)

    async def stop(self, grace: float = 5.0) -> SippResult:
        if self.process.result is None:
            self.process.ask_to_finish()
        return await self.wait(grace)

    async def __aenter__(self) -> AsyncSippProcess:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc_type is None:
            await self.stop()
        else:
            self.process.abort()
