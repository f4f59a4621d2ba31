"""The UA under test of a scenario, and the bound on equipment that stays silent.

    uut = UaUnderTest(world, equipment, workdir)   # world.ua_under_test()
    uut.call("+15550100", hold_ms=200)        # equipment UA: its driver places the call; else the simulator
    uut.register()                            # its extension, at the harness's trunk
    uut.answer_carrier_call(hold_ms=300)      # the carrier calls its extension; it answers

With a UA under test (role "ua") the harness's trunk is the reference server and every action goes
through the equipment's driver (harness.adapters.ua_driver); without one the simulated UA does the same
thing, so the scenarios also run against the embedded reference server alone. Drivers only make things
happen: what they report is kept to explain a failure, the verdict is the capture's.

:func:`guard_silence` bounds a request to equipment under test: when nothing at all comes back within
the response timeout, the scenario fails at once instead of waiting out SIP's timers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Protocol, TypeVar

from harness.adapters.ua_driver import DriverOutcome, UaDriver, make_driver
from harness.equipment import Equipment
from harness.suite.trunk import TrunkSettings
from harness.topology import Topology
from reference_server.server import ReferenceServer
from simulator.destination import Destination
from simulator.record import Record
from simulator.ua import CallResult, RegistrationResult, UserAgent

__all__ = ["EquipmentSilent", "ScenarioActions", "UaUnderTest", "guard_silence"]

T = TypeVar("T")
CALL_BOUND = 20.0  # seconds a driven call may take beyond its hold time
DRIVER_GRACE = 15.0  # beyond a driver's own bound (SIPp is killed 10 s after its -timeout)


class EquipmentSilent(AssertionError):
    """The equipment under test sent nothing back within the response timeout."""


async def guard_silence(coro: Coroutine[Any, Any, T], record: Record, timeout: float, what: str) -> T:
    """Run ``coro`` (a simulator's call or registration); if ``record`` shows no SIP message received
    within ``timeout`` seconds, cancel it and raise :class:`EquipmentSilent`."""
    task = asyncio.ensure_future(coro)
    before = len(record.select("sip-received"))
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        done, _ = await asyncio.wait({task}, timeout=0.05)
        if done:
            return task.result()
        if asyncio.get_running_loop().time() >= deadline and len(record.select("sip-received")) == before:
            task.cancel()
            await asyncio.wait({task}, timeout=2.0)
            raise EquipmentSilent(f"{what}: the equipment under test sent nothing back within {timeout:g} s "
                                  "(no response at all); the scenario gives up")


class ScenarioActions(Protocol):
    """What the UA under test needs of its scenario (harness.suite.world.ScenarioWorld is one): the trunk's
    settings and addresses, the harness's own trunk and destination once traffic started, and the
    simulated UAs' actions, for a run without a UA under test."""

    @property
    def trunk(self) -> TrunkSettings: ...
    @property
    def topology(self) -> Topology: ...
    @property
    def server(self) -> ReferenceServer | None: ...
    @property
    def destination(self) -> Destination | None: ...
    @property
    def calls(self) -> list[CallResult]: ...

    def run(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T: ...
    def ensure_traffic(self) -> None: ...
    def agent(self, role: str = "UA", **changes: Any) -> UserAgent: ...
    def call(self, role: str, to: str, *, settings: dict[str, Any] | None = None, **options: Any) -> CallResult: ...
    def register(self, role: str, extension: str, password: str,
                 expires: int | None = None) -> RegistrationResult: ...


class UaUnderTest:
    """The run's UA under test (``equipment`` in role "ua", driven from ``workdir``), else the simulated UA
    of ``world``."""

    def __init__(self, world: ScenarioActions, equipment: Equipment | None, workdir: Path) -> None:
        self.world = world
        self.equipment = equipment if equipment is not None and equipment.role == "ua" else None
        self.driver: UaDriver | None = None
        self.outcomes: list[DriverOutcome] = []
        if self.equipment is not None:
            self.driver = make_driver(self.equipment, workdir=workdir)

    @property
    def driven(self) -> bool:
        return self.driver is not None

    def _drive(self, coro: Coroutine[Any, Any, DriverOutcome], bound: float, what: str) -> DriverOutcome:
        outcome = self.world.run(coro, bound + DRIVER_GRACE, what)
        self.outcomes.append(outcome)
        return outcome

    def _extension(self) -> tuple[str, str]:
        if self.equipment is not None and self.equipment.extensions:
            x = self.equipment.extensions[0]
            return x.extension, x.password
        ext, password = next(iter(self.world.trunk.extensions.items()))
        return ext, password

    # -- actions ----------------------------------------------------------------------------------------
    def call(self, to: str, *, hold_ms: int = 200) -> None:
        world = self.world
        if self.driver is None:
            world.call("UA", to, hold_ms=hold_ms)
            return
        world.ensure_traffic()
        server, dest = world.server, world.destination

        def done() -> bool:  # for the manual driver: the trunk saw a call come and go
            return (server is not None and server.active_calls == 0 and dest is not None
                    and bool(dest.calls) and all(c.done.is_set() for c in dest.calls))

        bound = hold_ms / 1000 + CALL_BOUND
        self._drive(self.driver.place_call(world.topology.trunk, to, hold_ms=hold_ms, timeout=bound, done=done),
                    bound, f"the UA under test's call to {to}")

    def register(self) -> None:
        world = self.world
        ext, password = self._extension()
        if self.driver is None:
            world.register("UA", ext, password)
            return
        world.ensure_traffic()
        server = world.server

        def done() -> bool:
            return server is not None and bool(server.registrar.lookup(ext, time.time()))

        self._drive(self.driver.register(world.topology.trunk, timeout=CALL_BOUND, done=done), CALL_BOUND,
                    f"the UA under test's registration of {ext}")

    def answer_carrier_call(self, *, hold_ms: int) -> None:
        """The carrier calls the UA's extension (hanging up after ``hold_ms``); the UA answers it."""
        world = self.world
        ext, _ = self._extension()
        settings = {"domain": world.trunk.registrar_domain}
        if self.driver is None:
            world.call("Carrier", ext, hold_ms=hold_ms, settings=settings)
            return
        carrier = world.agent("Carrier", **settings)
        driver, bound = self.driver, hold_ms / 1000 + CALL_BOUND
        finished = False

        async def both() -> DriverOutcome:
            nonlocal finished
            ready = asyncio.Event()
            answering = asyncio.ensure_future(driver.answer(timeout=bound, ready=ready, done=lambda: finished))
            await asyncio.wait({answering, asyncio.ensure_future(ready.wait())}, timeout=10.0,
                               return_when=asyncio.FIRST_COMPLETED)
            try:
                world.calls.append(await carrier.call(ext, hold_ms=hold_ms))
            finally:
                finished = True
            return await asyncio.wait_for(answering, bound)

        self._drive(both(), bound, f"the UA under test answering a call for {ext}")

    # -- end --------------------------------------------------------------------------------------------
    def close(self) -> None:
        if self.driver is not None:
            try:
                self.driver.close()
            except Exception as err:  # noqa: BLE001 - teardown goes on; the report says it
                self.outcomes.append(DriverOutcome("stop", False, f"stopping the UA failed: {err}"))

    def explain(self) -> list[str]:
        if self.driver is None:
            return []
        return [f"-- what the {self.driver.name} driver of the UA under test saw:",
                *(o.line() for o in self.outcomes)]

    def log_text(self) -> str:
        return self.driver.log_text() if self.driver is not None else ""
