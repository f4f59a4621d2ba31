"""The reference trunk server as a child process (``python -m reference_server``), for interop tests and
load benchmarks that must not share a CPU or a GIL with the code measuring it.

    config = trunk_config(sip=("127.0.0.20", 5060), destination=("127.0.0.22", 5080))
    with ReferenceServerProcess(config, log_level="WARNING") as server:   # waits for "listening on"
        ...                                                               # server.pid, server.usage()
    # stopped: SIGTERM, then SIGKILL after a grace period

Start-up is bounded (``start_timeout``); a server that exits or stays silent raises
:class:`ServerStartError` with its stderr. Resource figures come from /proc: CPU seconds (utime + stime)
and the peak resident set (``VmHWM``).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = ["ReferenceServerProcess", "ServerStartError", "Usage", "process_usage", "trunk_config"]

Address = tuple[str, int]


class ServerStartError(RuntimeError):
    pass


def trunk_config(sip: Address, destination: Address, *, media_address: str | None = None,
                 port_min: int = 30000, port_max: int = 30999, transports: tuple[str, ...] = ("udp",),
                 username: str = "alice", password: str = "secret", domain_name: str = "example",
                 registrar_domain: str = "example.registrar.voipbin.net",
                 extensions: dict[str, str] | None = None, extra: str = "") -> str:
    """A TOML configuration: one basic-auth trunk (alice/secret on example.trunk.voipbin.net) sending its
    calls to ``destination``, the registrar with extensions 1001/pass1001 and 1002/pass1002, listening on
    ``sip`` for each of ``transports``, relaying RTP on ``media_address`` (default: the SIP address)."""
    exts = extensions if extensions is not None else {"1001": "pass1001", "1002": "pass1002"}
    listen = ", ".join(f'"{t}:{sip[0]}:{sip[1]}"' for t in transports)
    text = f"""[server]
listen = [{listen}]

[media]
address = "{media_address or sip[0]}"
port_min = {port_min}
port_max = {port_max}

[[trunk]]
name = "{domain_name}"
domain_name = "{domain_name}"
username = "{username}"
password = "{password}"
destination = "sip:{destination[0]}:{destination[1]}"

[registrar]
domain = "{registrar_domain}"
"""
    for ext, pw in exts.items():
        text += f'\n[[extension]]\nextension = "{ext}"\npassword = "{pw}"\n'
    return text + extra


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float  # user + system, since the process started
    peak_rss_kb: int  # VmHWM
    rss_kb: int  # VmRSS


def process_usage(pid: int) -> Usage:
    """CPU seconds and memory of a live process, from /proc/PID/stat and /proc/PID/status."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime (fields 14 and 15 of stat)
    memory = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            memory[key] = int(value.split()[0])
    return Usage(cpu, memory.get("VmHWM", 0), memory.get("VmRSS", 0))


class ReferenceServerProcess:
    def __init__(self, config_text: str, *, log_level: str = "WARNING", python: str = sys.executable,
                 start_timeout: float = 15.0, stop_timeout: float = 5.0, workdir: Path | None = None) -> None:
        self.config_text = config_text
        self.log_level = log_level
        self.python = python
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._tmp = None if workdir is not None else tempfile.TemporaryDirectory(prefix="trunkcheck-server-")
        self.workdir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.proc: subprocess.Popen[bytes] | None = None
        self.listening = ""
        self.returncode: int | None = None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the reference server is not started")
        return self.proc.pid

    @property
    def stderr_path(self) -> Path:
        return self.workdir / "server.stderr"

    def start(self) -> ReferenceServerProcess:
        config = self.workdir / "server.toml"
        config.write_text(self.config_text)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [self.python, "-m", "reference_server", "--config", str(config), "--log-level", self.log_level],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, left))
            chunk = os.read(self.proc.stdout.fileno(), 4096) if ready else b""
            if not chunk:  # exited (EOF) or silent until the deadline
                self.stop()
                why = f"exited with {self.returncode}" if ready else f"printed nothing in {self.start_timeout} s"
                raise ServerStartError(f"reference server {why}: {self.stderr_tail()}")
            line += chunk
        self.listening = line.decode(errors="replace").strip()
        if not self.listening.startswith("listening on"):
            self.stop()
            raise ServerStartError(f"reference server said {self.listening!r}: {self.stderr_tail()}")
        return self

    def stderr_tail(self, max_chars: int = 3000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-max_chars:].strip()
        except FileNotFoundError:
            return ""

    def usage(self) -> Usage:
        return process_usage(self.pid)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after ``stop_timeout``; the exit status (negative: killed by a signal)."""
        proc = self.proc
        if proc is None:
            return self.returncode
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
        self.returncode = proc.returncode
        return self.returncode

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> ReferenceServerProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
