"""SIPp processes started by :class:`harness.adapters.sipp.SippRun`: :class:`SippProcess` (subprocess)
and :class:`AsyncSippProcess` (asyncio). Both bound every wait by the run's wall bound (SIPp's own
``-timeout`` plus a grace period), kill SIPp past it, and turn what it wrote into a :class:`SippResult`.
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

__all__ = ["AsyncSippProcess", "SippError", "SippInvocation", "SippProcess", "port_bound"]


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


class _Base:
    def __init__(self, run: SippInvocation, workdir: Path, owns_workdir: bool, cmd: list[str],
                 files: tuple[IO[bytes], IO[bytes]]) -> None:
        self.run = run
        self.workdir = workdir
        self.command = cmd
        self._owns_workdir = owns_workdir
        self._files = files
        self._started = time.monotonic()
        self.result: SippResult | None = None

    def _deadline_left(self, timeout: float | None) -> float:
        left = self.run.wall_bound - (time.monotonic() - self._started)
        return max(0.0, left if timeout is None else min(timeout, left))

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


def _int(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


class SippProcess(_Base):
    """A running SIPp (subprocess.Popen). ``wait()``/``stop()`` return the :class:`SippResult`."""

    def __init__(self, run: SippInvocation, popen: subprocess.Popen[bytes], workdir: Path, owns_workdir: bool,
                 cmd: list[str], files: tuple[IO[bytes], IO[bytes]]) -> None:
        super().__init__(run, workdir, owns_workdir, cmd, files)
        self.popen = popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def wait_ready(self, timeout: float = 5.0) -> None:
        """Return once SIPp's SIP socket is bound (or listening, TCP); raise SippError if it exited or
        did not bind within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        ip, port = self.run.local
        while not port_bound(ip, port, self.run.transport):
            if not self.running():
                raise self._ready_error(f"exited with {self.popen.returncode} before binding {ip}:{port}")
            if time.monotonic() > deadline:
                raise self._ready_error(f"did not bind {ip}:{port} within {timeout} s")
            time.sleep(0.02)

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for SIPp to exit, at most ``timeout`` s and never past the run's wall bound; then kill it."""
        if self.result is not None:
            return self.result
        timed_out = False
        try:
            self.popen.wait(self._deadline_left(timeout))
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill()
        return self._finish(self.popen.returncode, timed_out)

    def stop(self, grace: float = 5.0) -> SippResult:
        """Ask SIPp to finish (SIGUSR1: no new calls, end when the current ones are done), kill it after
        ``grace`` seconds."""
        if self.result is not None:
            return self.result
        if self.running():
            try:
                self.popen.send_signal(signal.SIGUSR1)
            except ProcessLookupError:
                pass
        return self.wait(grace)

    def _kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
            pass

    def __enter__(self) -> SippProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.result is None:
            if exc_type is None:
                self.stop()
            else:
                self._kill()
                self._finish(self.popen.returncode, True)


class AsyncSippProcess(_Base):
    """A running SIPp under asyncio; same methods as :class:`SippProcess`, awaitable."""

    def __init__(self, run: SippInvocation, proc: asyncio.subprocess.Process, workdir: Path, owns_workdir: bool,
                 cmd: list[str], files: tuple[IO[bytes], IO[bytes]]) -> None:
        super().__init__(run, workdir, owns_workdir, cmd, files)
        self.proc = proc

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.returncode is None

    async def wait_ready(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        ip, port = self.run.local
        while not port_bound(ip, port, self.run.transport):
            if not self.running():
                raise self._ready_error(f"exited with {self.proc.returncode} before binding {ip}:{port}")
            if time.monotonic() > deadline:
                raise self._ready_error(f"did not bind {ip}:{port} within {timeout} s")
            await asyncio.sleep(0.02)

    async def wait(self, timeout: float | None = None) -> SippResult:
        if self.result is not None:
            return self.result
        timed_out = False
        try:
            await asyncio.wait_for(self.proc.wait(), self._deadline_left(timeout))
        except TimeoutError:
            timed_out = True
            await self._kill()
        return self._finish(self.proc.returncode, timed_out)

    async def stop(self, grace: float = 5.0) -> SippResult:
        if self.result is not None:
            return self.result
        if self.running():
            try:
                self.proc.send_signal(signal.SIGUSR1)
            except ProcessLookupError:
                pass
        return await self.wait(grace)

    async def _kill(self) -> None:
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:  # pragma: no cover
            pass

    async def __aenter__(self) -> AsyncSippProcess:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self.result is None:
            if exc_type is None:
                await self.stop()
            else:
                await self._kill()
                self._finish(self.proc.returncode, True)
