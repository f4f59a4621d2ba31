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
children it forked (Kamailio forks its SIP workers), whatever happened.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

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


class SipProcess:
    """A command whose SIP address (``transport``, ``address``) answers once it is up."""

    def __init__(self, command: Sequence[str], address: Address, *, transport: str = "udp",
                 start_timeout: float = 10.0, stop_timeout: float = 3.0, cwd: Path | str | None = None,
                 env: Mapping[str, str] | None = None, workdir: Path | None = None, name: str = "equipment") -> None:
        if not command:
            raise ValueError("an empty command")
        self.command = [str(part) for part in command]
        self.address = address
        self.transport = transport.lower()
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.cwd = None if cwd is None else Path(cwd)
        self.env = dict(env or {})
        self.name = name
        self._tmp = None if workdir is not None else tempfile.TemporaryDirectory(prefix="trunkcheck-equipment-")
        self.workdir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None

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

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / "equipment.log"

    def start(self) -> SipProcess:
        """Start the command and wait (bounded) until its address answers."""
        if self.proc is not None:
            raise RuntimeError(f"{self.name} is already started")
        env = {**os.environ, **self.env}
        program = self.command[0]
        if os.sep not in program and shutil.which(program) is None:  # e.g. kamailio in /usr/sbin, not on PATH
            self.command[0] = shutil.which(program, path=os.pathsep.join(_SBIN)) or program
        with open(self.log_path, "wb") as log:
            try:
                self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             cwd=self.cwd, env=env, start_new_session=True)
            except OSError as exc:
                raise EquipmentStartError(f"{self.name}: cannot run {self.command[0]!r}: "
                                          f"{exc.strerror or exc}") from None
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
                return self
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

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

    def __enter__(self) -> SipProcess:
        return self.start() if self.proc is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


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

    def __enter__(self) -> KamailioProcess:
        super().__enter__()
        return self
