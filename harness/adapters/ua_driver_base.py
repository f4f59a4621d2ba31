"""What every UA driver is (:class:`UaDriver`) and what it reports (:class:`DriverOutcome`): the interface
between the harness and a UA under test, whichever program or person plays it (harness.adapters.ua_driver
picks the driver; ua_driver_sipp and ua_driver_baresip implement it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Addr", "Done", "DriverOutcome", "UaDriver"]

Addr = tuple[str, int]
Done = Callable[[], bool]


@dataclass
class DriverOutcome:
    """What the UA under test did, as its driver saw it."""

    action: str  # "call", "register", "answer"
    ok: bool
    detail: str
    seconds: float = 0.0

    def line(self) -> str:
        return f"{self.action}: {'done' if self.ok else 'NOT done'} in {self.seconds:.1f} s: {self.detail}"


class UaDriver(Protocol):
    name: str

    async def place_call(self, target: Addr, number: str, *, hold_ms: int, timeout: float,
                         done: Done | None = None) -> DriverOutcome:
        """Call ``number`` at the trunk's domain through ``target`` (the trunk); hang up after ``hold_ms``
        once answered. Returns when the call has ended (answered and hung up, or rejected)."""
        ...

    async def register(self, registrar: Addr, *, timeout: float, done: Done | None = None) -> DriverOutcome:
        """Register the equipment's extension at ``registrar``."""
        ...

    async def answer(self, *, timeout: float, ready: asyncio.Event, done: Done | None = None) -> DriverOutcome:
        """Answer the next incoming call (``ready`` is set once the UA can take it) and keep it until the
        far end hangs up."""
        ...

    async def hangup(self) -> None: ...

    def close(self) -> None: ...

    def log_text(self) -> str:
        """The UA's own log for this scenario (kept with the report)."""
        ...
