"""Drive baresip (Debian package ``baresip``), a real softphone, headless: a config directory of its own,
commands and events over its ``ctrl_tcp`` module (netstring-framed JSON on TCP), no sound card.

    phone = Baresip(("127.0.0.40", 5062), ctrl=("127.0.0.40", 4444))
    with phone:                                          # start(): bounded wait for the control port
        phone.add_account(BaresipAccount("sip:1001@example.registrar.voipbin.net", password="pass1001",
                                         outbound="sip:127.0.0.20:5060", regint=600))
        phone.wait_event("REGISTER_OK", timeout=5)
        phone.dial("sip:15550100@example.trunk.voipbin.net", account="sip:alice@example.trunk.voipbin.net")
        phone.wait_event("CALL_ESTABLISHED", timeout=5)
        phone.hangup()
    # stop(): "quit" (baresip unregisters), then SIGTERM, then SIGKILL, each bounded

Audio: ``aufile`` plays a generated 8 kHz tone (``ausine`` in baresip 1.0 only runs at 48 kHz, which the
G.711 codecs cannot use) and ``aubridge`` is the player, so nothing needs a sound card. The tone lasts
``tone_seconds``: at its end baresip closes the call ("end of file"). Accounts are added after the
control connection is up (``uanew``), so no REGISTER event can be missed. ``net_interface`` is the SIP
address, so SDP and Contact carry it: everything stays on loopback, and DNS goes to an address where
nothing listens.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.adapters.process import workdir_or_temporary

__all__ = ["BARESIP_MISSING", "Baresip", "BaresipAccount", "BaresipError", "BaresipEvent", "find_baresip"]

MODULE_DIR = Path("/usr/lib/baresip/modules")
MODULES = ("g711", "aufile", "aubridge", "account", "menu", "ctrl_tcp")
BARESIP_MISSING = ("baresip is not installed: install the Debian package baresip (`apt-get install baresip`, "
                   "or run scripts/setup.sh); it provides /usr/bin/baresip and the modules "
                   f"{', '.join(MODULES)} in {MODULE_DIR}")
Address = tuple[str, int]


class BaresipError(RuntimeError):
    """baresip did not start, refused a command, or an awaited event did not come."""


def find_baresip() -> str | None:
    """The baresip binary, if it and the modules this driver loads are installed; else None."""
    binary = shutil.which(os.environ.get("TRUNKCHECK_BARESIP", "baresip"))
    if binary is None or any(not (MODULE_DIR / f"{m}.so").is_file() for m in MODULES):
        return None
    return binary


@dataclass
class BaresipAccount:
    """One account line: ``<aor>;auth_pass=...;outbound="..."`` (see baresip's accounts template)."""

    aor: str  # sip:user@domain
    password: str | None = None
    auth_user: str | None = None  # default: the AOR user
    outbound: str | None = None  # outbound proxy, e.g. sip:127.0.0.20:5060
    regint: int = 0  # 0: never REGISTER (a trunk account)
    answermode: str = "manual"  # manual, early, auto
    mediaenc: str | None = None  # media encryption: srtp (best effort), srtp-mand (RTP/SAVP), srtp-mandf
    extra: str = ""  # more ;params

    def line(self) -> str:
        params = [f"<{self.aor}>"]
        if self.auth_user:
            params.append(f"auth_user={self.auth_user}")
        if self.password is not None:
            params.append(f"auth_pass={self.password}")
        if self.outbound:
            params.append(f'outbound="{self.outbound}"')
        params += [f"regint={self.regint}", f"answermode={self.answermode}"]
        if self.mediaenc:
            params.append(f"mediaenc={self.mediaenc}")
        return ";".join(params) + self.extra


@dataclass(frozen=True)
class BaresipEvent:
    """A ctrl_tcp event: ``type`` (REGISTER_OK, CALL_ESTABLISHED, CALL_CLOSED ...), ``klass`` (register,
    call, application ...), ``param`` (the reason of CALL_CLOSED, "200 OK" of REGISTER_OK ...)."""

    type: str
    klass: str = ""
    accountaor: str = ""
    direction: str = ""
    peeruri: str = ""
    call_id: str = ""
    param: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BaresipEvent:
        return cls(str(data.get("type", "")), str(data.get("class", "")), str(data.get("accountaor", "")),
                   str(data.get("direction", "")), str(data.get("peeruri", "")), str(data.get("id", "")),
                   str(data.get("param", "")), data)


def write_tone(path: Path, seconds: float, rate: int = 8000, hz: int = 400) -> None:
    """A mono S16LE WAV tone; ``hz`` divides ``rate`` so one period repeats exactly."""
    period = [int(8000 * math.sin(2 * math.pi * hz * i / rate)) for i in range(rate // hz)]
    chunk = struct.pack(f"<{len(period)}h", *period)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(chunk * math.ceil(seconds * hz))


class Baresip:
    def __init__(self, sip: Address, *, ctrl: Address | None = None, rtp_ports: tuple[int, int] = (43000, 43099),
                 accounts: Iterable[BaresipAccount] = (), tone_seconds: float = 120.0,
                 start_timeout: float = 10.0, workdir: Path | None = None, binary: str | None = None,
                 extra_config: str = "") -> None:
        """``extra_config``: more config lines (``sip_cafile /path/ca.pem`` for TLS accounts)."""
        self.sip = sip
        self.extra_config = extra_config
        self.ctrl = ctrl or (sip[0], sip[1] + 1000)
        self.rtp_ports = rtp_ports
        self.initial_accounts = list(accounts)
        self.tone_seconds = tone_seconds
        self.start_timeout = start_timeout
        self.binary = binary
        self.workdir, self._tmp = workdir_or_temporary(workdir, "trunkcheck-baresip-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.events: list[BaresipEvent] = []  # every event received, in order
        self._pending: list[BaresipEvent] = []  # received, not yet returned by wait_event
        self._sock: socket.socket | None = None
        self._buf = b""
        self._token = 0

    # --- lifecycle ------------------------------------------------------------------------------------

    def write_config(self) -> None:
        ip, port = self.sip
        tone = self.workdir / "tone.wav"
        write_tone(tone, self.tone_seconds)
        config = f"""poll_method		epoll
sip_listen		{ip}:{port}
net_interface		{ip}
dns_server		{ip}:9
call_local_timeout	30
call_max_calls		4
audio_player		aubridge,nil
audio_source		aufile,{tone}
audio_alert		aubridge,nil
rtp_ports		{self.rtp_ports[0]}-{self.rtp_ports[1]}
module_path		{MODULE_DIR}
module			g711.so
module			aufile.so
module			aubridge.so
module			srtp.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		{self.ctrl[0]}:{self.ctrl[1]}
{self.extra_config}"""
        (self.workdir / "config").write_text(config)
        (self.workdir / "accounts").write_text("")
        (self.workdir / "contacts").write_text("")

    @property
    def log_path(self) -> Path:
        return self.workdir / "baresip.log"

    def start(self) -> Baresip:
        binary = self.binary or find_baresip()
        if binary is None:
            raise BaresipError(BARESIP_MISSING)
        self.write_config()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([binary, "-f", str(self.workdir), "-v"], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while self._sock is None:
            if self.proc.poll() is not None:
                raise BaresipError(f"baresip exited with {self.proc.returncode} at start-up: {self.log_tail()}")
            try:
                self._sock = socket.create_connection(self.ctrl, timeout=0.5)
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise BaresipError(f"baresip's ctrl_tcp port {self.ctrl[0]}:{self.ctrl[1]} did not open within "
                                       f"{self.start_timeout} s: {self.log_tail()}") from None
                time.sleep(0.05)
        for account in self.initial_accounts:
            self.add_account(account)
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        """``quit`` (baresip unregisters its accounts), then SIGTERM, then SIGKILL, each bounded."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None and self._sock is not None:
            try:
                self._send("quit", "")
            except OSError:
                pass
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and proc.poll() is None:
                proc.send_signal(sig)
            try:
                proc.wait(timeout)
                break
            except subprocess.TimeoutExpired:
                continue
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        return proc.returncode

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Baresip:
        return self.start() if self.proc is None else self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def log_tail(self, max_chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-max_chars:]
        except FileNotFoundError:
            return ""

    # --- commands -------------------------------------------------------------------------------------

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> str:
        """Run a command (``dial``, ``hangup``, ``uanew``, ``uafind``, ``reginfo`` ...); its text output.
        Events arriving meanwhile are kept for :meth:`wait_event`."""
        token = self._send(command, params)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read(deadline)
            if message is None:
                raise BaresipError(f"no answer to the baresip command {command} {params!r} within {timeout} s")
            if message.get("response") and message.get("token") == token:
                if not message.get("ok", False):
                    raise BaresipError(f"baresip refused {command} {params!r}: {message.get('data')!r}")
                return str(message.get("data", ""))

    def add_account(self, account: BaresipAccount) -> None:
        self.command("uanew", account.line())

    def dial(self, uri: str, account: str | None = None) -> None:
        """Call ``uri`` from ``account`` (an AOR; default: baresip's current user agent)."""
        if account is not None:
            self.command("uafind", account)
        self.command("dial", uri)

    def hangup(self) -> None:
        self.command("hangup")

    def answer(self) -> None:
        self.command("accept")

    # --- events ---------------------------------------------------------------------------------------

    def wait_event(self, types: str | Iterable[str], timeout: float = 5.0,
                   where: Callable[[BaresipEvent], bool] | None = None) -> BaresipEvent:
        """The first not yet consumed event of one of ``types`` (matching ``where``); earlier events of
        other types are consumed. BaresipError, with the events seen, if none comes within ``timeout``."""
        wanted = {types} if isinstance(types, str) else set(types)
        deadline = time.monotonic() + timeout
        while True:
            while self._pending:
                event = self._pending.pop(0)
                if event.type in wanted and (where is None or where(event)):
                    return event
            message = self._read(deadline)
            if message is None:
                seen = ", ".join(f"{e.type}({e.param})" if e.param else e.type for e in self.events) or "none"
                raise BaresipError(f"no baresip event {'/'.join(sorted(wanted))} within {timeout} s; events so "
                                   f"far: {seen}\nbaresip log (end):\n{self.log_tail(1500)}")

    # --- netstring JSON -------------------------------------------------------------------------------

    def _send(self, command: str, params: str) -> str:
        if self._sock is None:
            raise BaresipError("baresip is not running")
        self._token += 1
        token = f"t{self._token}"
        data = json.dumps({"command": command, "params": params, "token": token}).encode()
        self._sock.sendall(b"%d:%s," % (len(data), data))
        return token

    def _read(self, deadline: float) -> dict[str, Any] | None:
        """The next message (events are also queued); None at the deadline or when baresip is gone."""
        assert self._sock is not None
        while True:
            head, colon, rest = self._buf.partition(b":")
            if colon:
                if not head.isdigit():
                    raise BaresipError(f"baresip sent a malformed netstring: {self._buf[:80]!r}")
                size = int(head)
                if len(rest) > size:
                    payload, self._buf = rest[:size], rest[size + 1:]  # drop the trailing ","
                    message: dict[str, Any] = json.loads(payload)
                    if message.get("event"):
                        event = BaresipEvent.from_json(message)
                        self.events.append(event)
                        self._pending.append(event)
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._sock.settimeout(left)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                return None
            self._buf += chunk
