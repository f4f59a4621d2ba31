"""Run SIP equipment as a child process: Kamailio with the example trunk configuration, or any command
an equipment file gives in ``[equipment.process]``.

    with KamailioProcess("examples/kamailio/kamailio.cfg", listen=("127.0.0.50", 5060),
                         destination=("127.0.0.30", 5080), defines={"TRUSTED_PEER": "127.0.0.12"}) as k:
        ...                        # k.log_tail(), k.pid; Kamailio answers OPTIONS on 127.0.0.50:5060
    # stopped: SIGTERM, then SIGKILL after 3 s

    proc = SipProcess.for_equipment(load_equipment("examples/equipment/kamailio-trunk.toml")).start()

Start-up is bounded: the process is up once its SIP address answers (UDP: any response to an OPTIONS;
TCP: a connection is accepted), within ``start_timeout`` seconds; a process that exits or stays silent
raises :class:`EquipmentStartError` with the end of its log. stdout and stderr go to one log file in a
work directory (temporary unless given). The process gets its own session, so stopping it also stops the
children it forked (Kamailio forks its SIP workers), whatever happened. The lifecycle is
:class:`harness.adapters.process.ChildProcess`'s.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from harness.adapters.process import ChildProcess
from harness.equipment import Equipment, EquipmentError, sip_ping

__all__ = [
    "KAMAILIO_MISSING", "EquipmentStartError", "KamailioNotFound", "KamailioProcess", "SipProcess",
    "find_kamailio", "kamailio_command", "require_kamailio",
]

Address = tuple[str, int]
KAMAILIO_MISSING = ("Kamailio is not installed (no `kamailio` on PATH, in /usr/sbin or /usr/local/sbin): "
                    "install the Debian package kamailio (`apt-get install kamailio`, or run scripts/setup.sh), "
                    "or set TRUNKCHECK_KAMAILIO to the binary")
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class EquipmentStartError(RuntimeError):
    """The equipment process exited, or did not answer on its SIP address in time."""


class KamailioNotFound(EquipmentStartError):
    pass


def find_kamailio() -> str | None:
    """Path of the Kamailio binary (``$TRUNKCHECK_KAMAILIO``, else ``kamailio`` on PATH or in an sbin
    directory, where Debian puts it and where a non-root PATH does not look), or None."""
    name = os.environ.get("TRUNKCHECK_KAMAILIO", "kamailio")
    found = shutil.which(name)
    if found is None and os.sep not in name:
        found = shutil.which(name, path=os.pathsep.join(_SBIN))
    return found


def require_kamailio() -> str:
    path = find_kamailio()
    if path is None:
        raise KamailioNotFound(KAMAILIO_MISSING)
    return path


class SipProcess(ChildProcess):
    """A command whose SIP address (``transport``, ``address``) answers once it is up."""

    start_error = EquipmentStartError

    def __init__(self, command: Sequence[str], address: Address, *, transport: str = "udp",
                 start_timeout: float = 10.0, stop_timeout: float = 3.0, cwd: Path | str | None = None,
                 env: Mapping[str, str] | None = None, workdir: Path | None = None, name: str = "equipment") -> None:
        super().__init__(command, name=name, start_timeout=start_timeout, stop_timeout=stop_timeout, cwd=cwd,
                         env=env, workdir=workdir, tmp_prefix="trunkcheck-equipment-", log_name="equipment.log")
        self.address = address
        self.transport = transport.lower()

    @classmethod
    def for_equipment(cls, equipment: Equipment, *, workdir: Path | None = None) -> SipProcess:
        """The process ``[equipment.process]`` describes; its address is the equipment's address."""
        spec = equipment.process
        if spec is None:
            raise EquipmentError(f"{equipment.source}: equipment {equipment.name!r} has no [equipment.process] "
                                 "to start", filename=equipment.source)
        addr = equipment.address
        return cls(spec.command, (addr.host, addr.port), transport=addr.transport, start_timeout=spec.start_timeout,
                   stop_timeout=spec.stop_timeout, cwd=spec.cwd, env=spec.env, workdir=workdir, name=equipment.name)

    def start(self) -> Self:
        """Start the command and wait (bounded) until its address answers."""
        program = self.command[0]
        if os.sep not in program and shutil.which(program) is None:  # e.g. kamailio in /usr/sbin, not on PATH
            self.command[0] = shutil.which(program, path=os.pathsep.join(_SBIN)) or program
        return super().start()

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        host, port = self.address
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise EquipmentStartError(f"{self.name} exited with status {code} before answering on "
                                          f"{self.transport}:{host}:{port}:\n{self.log_tail()}")
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise EquipmentStartError(f"{self.name} did not answer on {self.transport}:{host}:{port} within "
                                          f"{self.start_timeout} s (command: {' '.join(self.command)}):\n"
                                          f"{self.log_tail()}")
            if sip_ping(self.address, self.transport, timeout=min(0.25, left)).answered:
                return
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def kamailio_command(cfg: Path | str, listen: Address, destination: Address, *,
                     defines: Mapping[str, str | int] | None = None, binary: str | None = None,
                     shm_mb: int = 64, pkg_mb: int = 8, run_dir: Path | str | None = None) -> list[str]:
    """The command line that runs ``cfg`` in the foreground with logs on stderr: ``-DD -E -m -M`` and one
    ``-A NAME=VALUE`` per define (LISTEN_IP, LISTEN_PORT, DEST_IP, DEST_PORT, then ``defines``)."""
    values: dict[str, str | int] = {"LISTEN_IP": listen[0], "LISTEN_PORT": listen[1],
                                    "DEST_IP": destination[0], "DEST_PORT": destination[1], **(defines or {})}
    command = [binary or require_kamailio(), "-f", str(cfg), "-DD", "-E", "-m", str(shm_mb), "-M", str(pkg_mb)]
    if run_dir is not None:
        command += ["-Y", str(run_dir)]
    for name, value in values.items():
        text = str(value)
        if not name.replace("_", "").isalnum() or not text or any(c in text for c in " \t\r\n\"'"):
            raise ValueError(f"Kamailio define {name}={text!r}: names are letters, digits and _, values plain "
                             "text without spaces or quotes")
        command += ["-A", f"{name}={text}"]
    return command


class KamailioProcess(SipProcess):
    """Kamailio running ``cfg`` (the example: ``examples/kamailio/kamailio.cfg``) on ``listen`` (UDP and
    TCP), relaying trunk calls to ``destination``. ``defines`` adds or overrides ``-A`` defines
    (TRUNK_USER, TRUNK_PASS, TRUSTED_PEER, RING_TIMEOUT ...: see the cfg's header)."""

    def __init__(self, cfg: Path | str, *, listen: Address, destination: Address,
                 defines: Mapping[str, str | int] | None = None, binary: str | None = None,
                 start_timeout: float = 10.0, stop_timeout: float = 3.0, shm_mb: int = 64, pkg_mb: int = 8,
                 workdir: Path | None = None) -> None:
        if not Path(cfg).is_file():
            raise EquipmentStartError(f"Kamailio configuration {cfg} does not exist")
        binary = binary or require_kamailio()
        super().__init__([binary], listen, transport="udp", start_timeout=start_timeout,
                         stop_timeout=stop_timeout, workdir=workdir, name="kamailio")
        self.cfg = Path(cfg)
        self.command = kamailio_command(cfg, listen, destination, defines=defines, binary=binary,
                                        shm_mb=shm_mb, pkg_mb=pkg_mb, run_dir=self.workdir)

    def check_config(self, timeout: float = 10.0) -> str:
        """``kamailio -c`` on the same command line: its output; EquipmentStartError when it fails."""
        try:
            done = subprocess.run([*self.command, "-c"], stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            raise EquipmentStartError(f"kamailio -c {self.cfg} took more than {timeout} s") from None
        output = (done.stdout + done.stderr).decode(errors="replace")
        if done.returncode != 0:
            raise EquipmentStartError(f"kamailio -c rejects {self.cfg}:\n{output[-4000:]}")
        return output
