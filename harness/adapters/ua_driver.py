"""Drive a UA under test: make it register, place a call or answer one when a scenario needs it.

    driver = make_driver(equipment, workdir=stem_dir)      # SippDriver, BaresipDriver or ManualDriver
    outcome = await driver.place_call(("127.0.0.20", 5060), "+15550100", hold_ms=200, timeout=20)
    outcome.ok, outcome.detail                              # the driver's own view, never the verdict
    driver.close()

The verdict of a scenario always comes from the capture; a driver only makes things happen and says what
it saw, to explain a failure. Every method is bounded by its ``timeout``. ``done`` (optional) tells a
driver that cannot observe the UA itself (the manual one) that the harness has seen the action complete.

- SIPp (:mod:`harness.adapters.ua_driver_sipp`): a call scenario the harness generates (authenticated
  INVITE, then 2xx or any final error, each acknowledged), SIPp's shipped register and UAS scenarios.
- baresip (:mod:`harness.adapters.ua_driver_baresip`): commands over its ctrl_tcp interface.
- manual (:class:`ManualDriver`): a person at a hardware phone. It prints what to do on the terminal,
  waits at most ``wait`` seconds (or until the harness saw it happen), then carries on; a scenario where
  nothing happened then fails on its capture, like any other.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from harness.adapters.ua_driver_base import Addr, Done, DriverOutcome, UaDriver
from harness.equipment import Equipment

__all__ = ["Addr", "Done", "DriverOutcome", "ManualDriver", "UaDriver", "adapter_missing", "make_driver"]

class ManualDriver:
    """A person operates the UA: instructions on the terminal, bounded waits."""

    name = "manual"

    def __init__(self, equipment: Equipment, *, out: TextIO | None = None, poll: float = 0.1) -> None:
        self.eq = equipment
        settings = equipment.adapter_settings
        self.wait = float(settings.get("wait", 60.0))
        self.instructions = str(settings.get("instructions", "")).strip()
        self.dial: str | None = settings.get("dial")  # the number the person dials instead of the scenario's
        self.out = out or sys.__stdout__ or sys.stdout  # behave captures sys.stdout while a step runs
        self.poll = poll
        self.lines: list[str] = []
        self._briefed = False

    def _say(self, text: str) -> None:
        if not self._briefed and self.instructions:
            text = f"{self.instructions}\n{text}"
        self._briefed = True
        block = "".join(f"  >>> {line}\n" for line in text.splitlines())
        self.lines.append(text)
        try:
            self.out.write(f"\n  >>> {self.eq.name}: ACTION NEEDED\n{block}")
            self.out.flush()
        except (OSError, ValueError):
            pass

    async def _wait(self, action: str, done: Done | None, started: float) -> DriverOutcome:
        deadline = time.monotonic() + self.wait
        while time.monotonic() < deadline:
            if done is not None and done():
                return DriverOutcome(action, True, "the harness saw it happen", time.monotonic() - started)
            await asyncio.sleep(min(self.poll, max(0.0, deadline - time.monotonic())))
        seen = done is not None and done()
        what = "the harness saw it happen" if seen else f"the harness saw nothing within {self.wait:g} s"
        return DriverOutcome(action, seen, what, time.monotonic() - started)

    async def place_call(self, target: Addr, number: str, *, hold_ms: int, timeout: float,
                         done: Done | None = None) -> DriverOutcome:
        started = time.monotonic()
        hold = max(1, round(hold_ms / 1000))
        number = self.dial or number
        self._say(f"Dial {number} now (through {target[0]}:{target[1]}). If the call is answered, hang up after "
                  f"about {hold} s. Waiting up to {self.wait:g} s.")
        return await self._wait("call", done, started)

    async def register(self, registrar: Addr, *, timeout: float, done: Done | None = None) -> DriverOutcome:
        started = time.monotonic()
        ext = self.eq.extensions[0].extension if self.eq.extensions else "(its extension)"
        self._say(f"Register extension {ext} now (re-register, or restart the phone) with the registrar at "
                  f"{registrar[0]}:{registrar[1]}. Waiting up to {self.wait:g} s.")
        return await self._wait("register", done, started)

    async def answer(self, *, timeout: float, ready: asyncio.Event, done: Done | None = None) -> DriverOutcome:
        started = time.monotonic()
        self._say(f"The phone will ring now: answer it, and leave the hang-up to the caller. Waiting up to "
                  f"{self.wait:g} s.")
        ready.set()
        return await self._wait("answer", done, started)

    async def hangup(self) -> None:
        self._say("Hang up now.")

    def close(self) -> None:
        pass

    def log_text(self) -> str:
        return "\n\n".join(f"instructions shown:\n{text}" for text in self.lines)


def adapter_missing(eq: Equipment) -> str | None:
    """Why the equipment's adapter cannot run here (its program is not installed), or None."""
    if eq.adapter == "sipp":
        from harness.adapters.sipp import SIPP_MISSING, find_sipp

        binary = eq.adapter_settings.get("binary")
        return None if (shutil.which(binary) if binary else find_sipp()) else SIPP_MISSING
    if eq.adapter == "baresip":
        from harness.adapters.baresip import BARESIP_MISSING, find_baresip

        return None if eq.adapter_settings.get("binary") or find_baresip() else BARESIP_MISSING
    return None


def make_driver(eq: Equipment, *, workdir: Path, out: TextIO | None = None) -> UaDriver:
    """The driver for the equipment's adapter; ``workdir`` keeps its files (logs, SIPp's statistics)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if eq.adapter == "sipp":
        from harness.adapters.ua_driver_sipp import SippDriver

        return SippDriver(eq, workdir=workdir)
    if eq.adapter == "baresip":
        from harness.adapters.ua_driver_baresip import BaresipDriver

        return BaresipDriver(eq, workdir=workdir)
    if eq.adapter == "manual":
        return ManualDriver(eq, out=out)
    raise ValueError(f"{eq.source}: equipment {eq.name!r} has no UA adapter (role {eq.role})")
