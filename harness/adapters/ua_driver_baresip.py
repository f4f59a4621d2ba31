"""baresip as the UA under test, driven through its command interface (harness.adapters.baresip).

One baresip per scenario, started on first use at the equipment's address (its own short-lived config
directory, a generated tone as its microphone; baresip cuts long paths in its config, so not the
scenario's folder: its log is kept in the report when it stops). Accounts: the trunk account (no
REGISTER) for calls, the equipment's extension (``regint``, answermode manual: the driver accepts) to
register and answer.
baresip's blocking control connection is used from worker threads, so the harness's event loop never
waits on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from harness.adapters.baresip import Baresip, BaresipAccount, BaresipError, BaresipEvent
from harness.adapters.ua_driver_base import Addr, Done, DriverOutcome
from harness.equipment import Equipment, parse_address

__all__ = ["BaresipDriver"]

RTP_PORTS = (43000, 43099)


class BaresipDriver:
    name = "baresip"

    def __init__(self, equipment: Equipment, *, workdir: Path) -> None:
        self.eq = equipment
        self.workdir = workdir
        s = equipment.adapter_settings
        self.binary: str | None = s.get("binary")
        self.ctrl: Addr | None = parse_address(s["ctrl"], "tcp").addr if s.get("ctrl") else None
        self.tone_seconds = float(s.get("tone_seconds", 30.0))
        self.regint = int(s.get("regint", 600))
        self.timeout = float(s.get("timeout", 10.0))
        self.mediaenc: str | None = s.get("mediaenc")  # srtp, srtp-mand, srtp-mandf: SRTP on its accounts
        self.phone: Baresip | None = None
        self.accounts: set[str] = set()
        self.lines: list[str] = []
        self._log = ""  # baresip's log, kept when it stops (its folder is removed)

    # -- plumbing ---------------------------------------------------------------------------------------
    def _start(self) -> Baresip:
        if self.phone is None:
            phone = Baresip(self.eq.address.addr, ctrl=self.ctrl, rtp_ports=RTP_PORTS,
                            tone_seconds=self.tone_seconds, binary=self.binary)
            self.phone = phone
            phone.start()
        return self.phone

    def _account(self, account: BaresipAccount) -> None:
        phone = self._start()
        if account.aor not in self.accounts:
            phone.add_account(account)
            self.accounts.add(account.aor)

    def _outbound(self, target: Addr) -> str:
        return f"sip:{target[0]}:{target[1]}" + (";transport=tcp" if self.eq.address.transport == "tcp" else "")

    def _wait(self, types: set[str], timeout: float) -> BaresipEvent:
        assert self.phone is not None
        event = self.phone.wait_event(types, timeout=timeout)
        self.lines.append(f"event {event.type} {event.param}".rstrip())
        return event

    # -- calls ------------------------------------------------------------------------------------------
    def _call(self, target: Addr, number: str, hold_ms: int, timeout: float) -> DriverOutcome:
        t = self.eq.trunk
        assert t is not None
        started = time.monotonic()
        aor = f"sip:{t.username}@{t.domain}"
        self._account(BaresipAccount(aor, password=t.password, outbound=self._outbound(target), mediaenc=self.mediaenc))
        assert self.phone is not None
        uri = f"sip:{number}@{t.domain}"
        self.lines.append(f"dial {uri} from {aor}")
        self.phone.dial(uri, account=aor)
        bound = max(1.0, min(self.timeout, timeout))
        first = self._wait({"CALL_ESTABLISHED", "CALL_CLOSED"}, bound)
        if first.type == "CALL_CLOSED":
            return DriverOutcome("call", True, f"call ended before an answer: {first.param or 'no reason'}",
                                 time.monotonic() - started)
        time.sleep(hold_ms / 1000)
        self.lines.append("hangup")
        self.phone.hangup()
        closed = self._wait({"CALL_CLOSED"}, bound)
        return DriverOutcome("call", True, f"answered, hung up after {hold_ms} ms: {closed.param or 'closed'}",
                             time.monotonic() - started)

    def _register(self, registrar: Addr, timeout: float) -> DriverOutcome:
        eq, started = self.eq, time.monotonic()
        if not eq.extensions or not eq.registrar_domain:
            return DriverOutcome("register", False, "the equipment file gives no extension to register", 0.0)
        ext = eq.extensions[0]
        self._account(BaresipAccount(f"sip:{ext.extension}@{eq.registrar_domain}", password=ext.password,
                                     outbound=self._outbound(registrar), regint=self.regint, answermode="manual",
                                     mediaenc=self.mediaenc))
        event = self._wait({"REGISTER_OK", "REGISTER_FAIL"}, max(1.0, min(self.timeout, timeout)))
        return DriverOutcome("register", event.type == "REGISTER_OK", f"{event.type} {event.param}".strip(),
                             time.monotonic() - started)

    def _answer(self, timeout: float, ready: asyncio.Event, loop: asyncio.AbstractEventLoop) -> DriverOutcome:
        started = time.monotonic()
        self._start()
        assert self.phone is not None
        loop.call_soon_threadsafe(ready.set)
        incoming = self._wait({"CALL_INCOMING"}, timeout)
        self.lines.append("accept")
        self.phone.answer()
        first = self._wait({"CALL_ESTABLISHED", "CALL_CLOSED"}, max(1.0, min(self.timeout, timeout)))
        if first.type == "CALL_CLOSED":
            return DriverOutcome("answer", False, f"the call from {incoming.peeruri} closed before it was "
                                 f"established: {first.param}", time.monotonic() - started)
        closed = self._wait({"CALL_CLOSED"}, timeout)
        return DriverOutcome("answer", True, f"answered the call from {incoming.peeruri}; it ended: "
                             f"{closed.param or 'closed'}", time.monotonic() - started)

    async def _in_thread(self, action: str, func: Callable[..., DriverOutcome], *args: object) -> DriverOutcome:
        try:
            return await asyncio.to_thread(func, *args)
        except BaresipError as err:
            self.lines.append(f"{action} failed: {err}")
            return DriverOutcome(action, False, str(err).splitlines()[0])

    async def place_call(self, target: Addr, number: str, *, hold_ms: int, timeout: float,
                         done: Done | None = None) -> DriverOutcome:
        return await self._in_thread("call", self._call, target, number, hold_ms, timeout)

    async def register(self, registrar: Addr, *, timeout: float, done: Done | None = None) -> DriverOutcome:
        return await self._in_thread("register", self._register, registrar, timeout)

    async def answer(self, *, timeout: float, ready: asyncio.Event, done: Done | None = None) -> DriverOutcome:
        try:
            return await self._in_thread("answer", self._answer, timeout, ready, asyncio.get_running_loop())
        finally:
            ready.set()

    async def hangup(self) -> None:
        if self.phone is not None:
            await asyncio.to_thread(self.phone.hangup)

    def close(self) -> None:
        if self.phone is not None:
            self.phone.stop()
            self._log = self.phone.log_tail(20_000)
            self.phone.close()  # removes its folder
            self.phone = None

    def log_text(self) -> str:
        log = self.phone.log_tail(20_000) if self.phone is not None else self._log
        return "\n".join(["--- driver:", *self.lines, "--- baresip log:", log.strip()])
