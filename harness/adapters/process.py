"""The lifecycle shared by the child processes the harness runs (SIP equipment, the reference server):
start a command in its own session with its output in a log file in a work directory (temporary unless
given), wait (bounded) until it is ready, stop it with SIGTERM, then SIGKILL to its whole session.

    class Server(ChildProcess):
        def _wait_ready(self) -> None:          # raise (after self.stop()) if it never gets ready
            ...

    with Server(["my-server", "--port", "5060"], name="my-server", start_timeout=10.0,
                stop_timeout=3.0) as server:
        ...                                     # server.pid, server.log_tail()

Subclasses say what "ready" means (:mod:`harness.adapters.kamailio`: its SIP address answers;
:mod:`harness.adapters.server_process`: a line on stdout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["ChildProcess", "workdir_or_temporary"]


def workdir_or_temporary(workdir: Path | str | None,
                         prefix: str) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    """``workdir`` as given, else a new temporary directory (returned too: its owner removes it)."""
    if workdir is not None:
        return Path(workdir), None
    tmp = tempfile.TemporaryDirectory(prefix=prefix)
    return Path(tmp.name), tmp


class ChildProcess:
    """``command`` in its own session; stdout (unless ``capture_stdout``: a pipe) and stderr go to
    ``workdir / log_name``. ``start_error`` is the exception raised when the command cannot run."""

    start_error: type[Exception] = RuntimeError

    def __init__(self, command: Sequence[str], *, name: str, start_timeout: float, stop_timeout: float,
                 cwd: Path | str | None = None, env: Mapping[str, str] | None = None,
                 workdir: Path | None = None, tmp_prefix: str = "trunkcheck-process-",
                 log_name: str = "process.log", capture_stdout: bool = False) -> None:
        if not command:
            raise ValueError("an empty command")
        self.command = [str(part) for part in command]
        self.name = name
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.cwd = None if cwd is None else Path(cwd)
        self.env = dict(env or {})
        self.log_name = log_name
        self.capture_stdout = capture_stdout
        self.workdir, self._tmp = workdir_or_temporary(workdir, tmp_prefix)
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / self.log_name

    def start(self) -> Self:
        """Start the command and wait (bounded, :meth:`_wait_ready`) until it is ready."""
        if self.proc is not None:
            raise RuntimeError(f"{self.name} is already started")
        env = {**os.environ, **self.env}
        with open(self.log_path, "wb") as log:
            try:
                self.proc = subprocess.Popen(
                    self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if self.capture_stdout else log,
                    stderr=log, cwd=self.cwd, env=env, start_new_session=True)
            except OSError as exc:
                raise self.start_error(f"{self.name}: cannot run {self.command[0]!r}: "
                                       f"{exc.strerror or exc}") from None
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        """Return once the started process is ready; otherwise stop it and raise ``start_error``."""

    def log_tail(self, max_chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-max_chars:].strip()
        except FileNotFoundError:
            return ""

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM to the process, SIGKILL to its whole session ``stop_timeout`` s later if it is still
        there; children it forked that outlive it are killed too. The exit status (negative: a signal)."""
        proc = self.proc
        if proc is None:
            return self.returncode
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill_session(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
        self.returncode = proc.returncode
        return self.returncode

    @staticmethod
    def _kill_session(pgid: int) -> None:
        """SIGKILL what is left of the process group this process leads (its forked workers)."""
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        return self.start() if self.proc is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
