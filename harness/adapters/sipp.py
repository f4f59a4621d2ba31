"""Drive SIPp (Debian package ``sip-tester``) as a caller or a destination, from tests, benchmarks and
equipment-under-test runs.

    uas = SippRun("uas.xml", ("127.0.0.31", 5080), calls=200, timeout=60)       # shipped scenario file
    uac = SippRun.uac_auth(("127.0.0.30", 5070), ("127.0.0.20", 5060), user="alice", password="secret",
                           domain="example.trunk.voipbin.net", calls=200, rate=50)
    with uas.start() as dest:          # SippProcess: killed on leaving the block, whatever happens
        dest.wait_ready()
        caller = uac.run()             # SippResult(exit_code, successful, failed, stats, ...)
        destination = dest.wait()

``scenario`` is a SIPp built-in name (``uac``, ``uas``, ... : ``-sn``), else the name of a file shipped
in ``sipp_scenarios/`` (``uac_auth``, ``uas.xml`` ...; note that plain ``uas`` is SIPp's built-in),
else a path to an XML file (``-sf``). Every run is bounded: SIPp gets ``-timeout Ns -timeout_error`` and
the process is killed ``KILL_GRACE`` seconds after that. Each run writes its files (statistics CSV, error
log, screen) into a work directory: a temporary one, removed when the run was ``ok`` and kept (its path
in the result) otherwise.

Shipped scenarios use ``[domain]`` (passed as ``-key domain``, by default the remote ``ip:port``) for the
Request-URI host. :meth:`SippRun.uac_auth` / :meth:`SippRun.register` leave the digest ``uri`` to SIPp,
as engineers run it: without ``-auth_uri`` SIPp's ``[authentication]`` sends ``uri="sip:REMOTE_IP:PORT"``
(the server's address, not the Request-URI), which a trunk must accept as designating itself (RFC 7616
§3.4.6; Kamailio and the reference server do). ``auth_uri`` is there for a scenario that wants another.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Literal, TypedDict, Unpack

from .sipp_process import AsyncSippProcess, SippError, SippProcess, port_bound
from .sipp_stats import SippResult

__all__ = [
    "SCENARIO_DIR", "SIPP_BUILTIN_SCENARIOS", "AsyncSippProcess", "SippError", "SippNotFound", "SippOptions",
    "SippProcess", "SippResult", "SippRun", "find_sipp", "port_bound", "require_sipp", "shipped_scenario",
]

SCENARIO_DIR = Path(__file__).with_name("sipp_scenarios")
SIPP_BUILTIN_SCENARIOS = frozenset({"uac", "uas", "regexp", "branchc", "branchs", "3pcc-C-A", "3pcc-C-B",
                                    "3pcc-A", "3pcc-B", "uac_pcap"})
SIPP_MISSING = ("SIPp is not installed (no `sipp` on PATH): install the Debian package sip-tester "
                "(`apt-get install sip-tester`, or run scripts/setup.sh), or set TRUNKCHECK_SIPP to the binary")
KILL_GRACE = 10.0  # seconds after SIPp's own -timeout before the process is killed

Address = tuple[str, int]


class SippNotFound(SippError):
    pass


def find_sipp() -> str | None:
    """Path of the SIPp binary (``$TRUNKCHECK_SIPP`` or ``sipp`` on PATH), or None: see ``SIPP_MISSING``."""
    return shutil.which(os.environ.get("TRUNKCHECK_SIPP", "sipp"))


def require_sipp() -> str:
    path = find_sipp()
    if path is None:
        raise SippNotFound(SIPP_MISSING)
    return path


def shipped_scenario(name: str) -> Path:
    """A scenario file shipped with trunkcheck, by name with or without ``.xml``."""
    path = SCENARIO_DIR / (name if name.endswith(".xml") else f"{name}.xml")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.xml")))
        raise SippError(f"no shipped SIPp scenario {name!r} in {SCENARIO_DIR} (known: {known})")
    return path


def _scenario_args(scenario: str | Path) -> list[str]:
    if isinstance(scenario, str) and scenario in SIPP_BUILTIN_SCENARIOS:
        return ["-sn", scenario]
    if isinstance(scenario, str) and "/" not in scenario:
        return ["-sf", str(shipped_scenario(scenario))]
    path = Path(scenario)
    if not path.is_file():
        raise SippError(f"SIPp scenario file {path} does not exist")
    return ["-sf", str(path)]


class SippOptions(TypedDict, total=False):
    """The options of a :class:`SippRun` that its presets pass on as given (the others are the preset's own:
    credentials, service, domain, keys, reject)."""

    calls: int | None
    rate: float | None
    rate_period_ms: int | None
    concurrency: int | None
    auth_uri: str | None
    transport: Literal["udp", "tcp"]
    hold_ms: int | None
    recv_timeout_ms: int | None
    inject_csv: Path | None
    media_port: int | None
    auto_answer: bool
    max_recv_loops: int
    stat_interval: int
    extra_args: Sequence[str]
    timeout: float
    workdir: Path | None
    sipp: str | None


@dataclass
class SippRun:
    """One SIPp invocation. Time options: ``timeout`` (whole run, s), ``hold_ms`` (``-d``: the
    ``<pause/>`` of the shipped scenarios), ``recv_timeout_ms`` (per expected message, fails the call),
    ``rate_period_ms`` (``-rp``)."""

    scenario: str | Path
    local: Address
    remote: Address | None = None
    _: KW_ONLY
    calls: int | None = None  # -m
    rate: float | None = None  # -r
    rate_period_ms: int | None = None  # -rp
    concurrency: int | None = None  # -l
    auth_user: str | None = None  # -au
    auth_password: str | None = None  # -ap
    auth_uri: str | None = None  # -auth_uri (without "sip:")
    service: str | None = None  # -s
    domain: str | None = None  # -key domain (shipped scenarios); default: remote "ip:port"
    keys: dict[str, str] = field(default_factory=dict)  # -key name value
    transport: Literal["udp", "tcp"] = "udp"
    hold_ms: int | None = None  # -d
    recv_timeout_ms: int | None = None  # -recv_timeout
    inject_csv: Path | None = None  # -inf
    media_port: int | None = None  # -mp (RTP echo port; SIPp binds it on the local IP)
    auto_answer: bool = True  # -aa: answer INFO, NOTIFY, OPTIONS, UPDATE with 200
    max_recv_loops: int = 1000
    stat_interval: int = 1  # -fd, seconds
    extra_args: Sequence[str] = ()
    timeout: float = 60.0
    workdir: Path | None = None
    sipp: str | None = None
    reject: tuple[int, str] | None = None  # (status, reason) replacing 404 Not Found in uas_reject.xml

    # --- presets for the shipped scenarios ------------------------------------------------------------

    @classmethod
    def uac_auth(cls, local: Address, remote: Address, *, user: str, password: str, domain: str,
                 number: str = "15550100", **kw: Unpack[SippOptions]) -> SippRun:
        """Authenticated calls (INVITE, 407, ACK, INVITE + Proxy-Authorization, 200, ACK, BYE) to
        ``sip:{number}@{domain}`` sent to ``remote``."""
        return cls("uac_auth", local, remote, auth_user=user, auth_password=password, domain=domain,
                   service=number, **kw)

    @classmethod
    def register(cls, local: Address, remote: Address, *, extension: str, password: str, domain: str,
                 expires: int = 3600, **kw: Unpack[SippOptions]) -> SippRun:
        """REGISTER sip:{domain} for {extension}@{domain}, answering the 401 challenge."""
        keys = {"expires": str(expires)}
        return cls("uac_register_auth", local, remote, auth_user=extension, auth_password=password,
                   domain=domain, service=extension, keys=keys, **kw)

    @classmethod
    def uas(cls, local: Address, *, scenario: str = "uas.xml", reject: tuple[int, str] | None = None,
            **kw: Unpack[SippOptions]) -> SippRun:
        """A destination: ``uas.xml`` answers, ``uas_early_media.xml`` sends 183 first, ``reject=(486,
        "Busy Here")`` uses ``uas_reject.xml``."""
        run = cls(scenario, local, None, **kw)
        if reject is not None:
            run.scenario = "uas_reject.xml"
            run.reject = reject
        return run

    # --- command line ---------------------------------------------------------------------------------

    def command(self, workdir: Path, sipp: str | None = None) -> list[str]:
        ip, port = self.local
        scenario_args = _scenario_args(self.scenario)
        if self.reject is not None:
            status, reason = self.reject
            if not 300 <= status <= 699 or "\n" in reason:
                raise SippError(f"reject status {status} {reason!r}: expected a final error 300-699 and one line")
            text = Path(scenario_args[1]).read_text().replace("SIP/2.0 404 Not Found", f"SIP/2.0 {status} {reason}")
            scenario_args = ["-sf", str(workdir / f"uas_reject_{status}.xml")]
            Path(scenario_args[1]).write_text(text)
        cmd = [sipp or self.sipp or require_sipp(), *scenario_args]
        remote = None if self.remote is None else _hostport(*self.remote)
        if remote is not None:
            cmd.append(remote)
        cmd += ["-i", ip, "-p", str(port), "-bind_local", "-mi", ip,
                "-t", "u1" if self.transport == "udp" else "t1", "-nostdin",
                "-trace_stat", "-stf", str(workdir / "stat.csv"), "-fd", str(self.stat_interval),
                "-trace_err", "-error_file", str(workdir / "errors.log"),
                "-timeout", f"{math.ceil(self.timeout)}s", "-timeout_error",
                "-max_recv_loops", str(self.max_recv_loops)]
        options: list[tuple[str, object | None]] = [
            ("-m", self.calls), ("-r", _num(self.rate)), ("-rp", self.rate_period_ms), ("-l", self.concurrency),
            ("-au", self.auth_user), ("-ap", self.auth_password), ("-auth_uri", self.auth_uri),
            ("-s", self.service), ("-d", self.hold_ms), ("-recv_timeout", self.recv_timeout_ms),
            ("-inf", self.inject_csv), ("-mp", self.media_port),
        ]
        for flag, value in options:
            if value is not None:
                cmd += [flag, str(value)]
        keys = dict(self.keys)
        keys.setdefault("domain", self.domain or remote or ip)
        keys.setdefault("expires", "3600")  # uac_register_auth.xml; an unused -key is harmless
        for name, value in keys.items():
            cmd += ["-key", name, value]
        if self.auto_answer:
            cmd.append("-aa")
        cmd += list(self.extra_args)
        return cmd

    @property
    def wall_bound(self) -> float:
        return self.timeout + KILL_GRACE

    def _prepare(self) -> tuple[Path, bool, list[str]]:
        owns = self.workdir is None
        # An unclean run keeps its folder (CSV, error log) for reading; $TRUNKCHECK_SIPP_TMPDIR says where.
        base = os.environ.get("TRUNKCHECK_SIPP_TMPDIR") or None
        workdir = (Path(tempfile.mkdtemp(prefix="trunkcheck-sipp-", dir=base)) if self.workdir is None
                   else Path(self.workdir))
        workdir.mkdir(parents=True, exist_ok=True)
        for name in ("stat.csv", "errors.log", "screen.txt", "stderr.txt"):
            (workdir / name).unlink(missing_ok=True)
        return workdir, owns, self.command(workdir)

    # --- running --------------------------------------------------------------------------------------

    def start(self) -> SippProcess:
        """Start SIPp in the background; use the result as a context manager so it is always stopped."""
        workdir, owns, cmd = self._prepare()
        out, err = open(workdir / "screen.txt", "wb"), open(workdir / "stderr.txt", "wb")  # noqa: SIM115
        try:
            popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=workdir,
                                     start_new_session=True)
        except BaseException:
            out.close()
            err.close()
            raise
        return SippProcess(self, popen, workdir, owns, cmd, (out, err))

    def run(self) -> SippResult:
        """Run to completion (bounded by ``timeout`` + ``KILL_GRACE``)."""
        with self.start() as proc:
            return proc.wait()

    async def start_async(self) -> AsyncSippProcess:
        """:meth:`start`, for asyncio code: the process's waits are awaited."""
        return AsyncSippProcess(self.start())

    async def run_async(self) -> SippResult:
        async with await self.start_async() as proc:
            return await proc.wait()


def _hostport(host: str, port: int) -> str:
    """``host:port``, an IPv6 address in brackets (SIPp reads ``::1:5060`` as a host name)."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _num(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
