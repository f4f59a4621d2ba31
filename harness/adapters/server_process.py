"""The reference trunk server as a child process (``python -m reference_server``), for interop tests and
load benchmarks that must not share a CPU or a GIL with the code measuring it.

    config = trunk_config(sip=("127.0.0.20", 5060), destination=("127.0.0.22", 5080))
    with ReferenceServerProcess(config, log_level="WARNING") as server:   # waits for "listening on"
        ...                                                               # server.pid, server.usage()
    # stopped: SIGTERM, then SIGKILL (to its session) after a grace period

Start-up is bounded (``start_timeout``); a server that exits or stays silent raises
:class:`ServerStartError` with its stderr. Resource figures come from /proc: CPU seconds (utime + stime)
and the peak resident set (``VmHWM``). The lifecycle is :class:`harness.adapters.process.ChildProcess`'s.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from harness.adapters.process import ChildProcess

__all__ = ["ReferenceServerProcess", "ServerStartError", "Usage", "process_usage", "trunk_config", "tree_usage"]

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
    pss_kb: int = 0  # Pss (shared pages divided among the processes mapping them); 0 unless asked for


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


def process_pss(pid: int) -> int:
    """The process's proportional set size in KiB (``/proc/PID/smaps_rollup``, Linux >= 4.14), 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_usage(pid: int, *, pss: bool = False) -> Usage:
    """:func:`process_usage` summed over the process and its children (a server's ``--workers``, Kamailio's
    forked SIP workers); a child that ended meanwhile is left out. Summed RSS counts memory the processes
    share (Kamailio's shared memory) once per process; ``pss=True`` also sums their PSS, which counts it once."""
    total = process_usage(pid)
    if pss:
        total = Usage(total.cpu_seconds, total.peak_rss_kb, total.rss_kb, process_pss(pid))
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    for child in children:
        try:
            usage = process_usage(child)
        except (OSError, ValueError, IndexError):
            continue
        total = Usage(total.cpu_seconds + usage.cpu_seconds, total.peak_rss_kb + usage.peak_rss_kb,
                      total.rss_kb + usage.rss_kb, total.pss_kb + (process_pss(child) if pss else 0))
    return total


class ReferenceServerProcess(ChildProcess):
    """The reference server on ``config_text``; ready once it prints its "listening on ..." line (the
    sockets are bound then, whatever ports the configuration asks for). ``program`` is the command before
    the options, by default ``python -m reference_server``; ``["trunkcheck", "serve"]`` runs the CLI. ``args``
    go after ``--config`` and ``--log-level`` (``--workers 2`` ...)."""

    start_error = ServerStartError

    def __init__(self, config_text: str, *, log_level: str = "WARNING", python: str = sys.executable,
                 start_timeout: float = 15.0, stop_timeout: float = 5.0, workdir: Path | None = None,
                 program: Sequence[str] | None = None, args: Sequence[str] = ()) -> None:
        self.config_text = config_text
        self.log_level = log_level
        self.python = python
        self.listening = ""
        super().__init__([python], name="reference server", start_timeout=start_timeout,
                         stop_timeout=stop_timeout, workdir=workdir, tmp_prefix="trunkcheck-server-",
                         log_name="server.stderr", capture_stdout=True)
        self.command = [*(program or (python, "-m", "reference_server")),
                        "--config", str(self.workdir / "server.toml"), "--log-level", log_level, *args]

    @property
    def stderr_path(self) -> Path:
        return self.log_path

    def start(self) -> Self:
        (self.workdir / "server.toml").write_text(self.config_text)
        return super().start()

    def _wait_ready(self) -> None:
        """Read stdout up to its first line, "listening on udp:127.0.0.1:5060 ...", within the timeout."""
        assert self.proc is not None and self.proc.stdout is not None
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

    def stderr_tail(self, max_chars: int = 3000) -> str:
        return self.log_tail(max_chars)

    def usage(self) -> Usage:
        """The server's CPU and memory, its workers' included."""
        return tree_usage(self.pid)
