"""Cyclic-GC collections paced by the clock instead of CPython's allocation counter.

CPython starts a young collection when allocations *minus deallocations* of tracked objects exceed
threshold0. Under a steady SIP load the server frees the objects of transactions that ended 32 s ago
(Timers J/L/M) about as fast as it allocates new ones, so that difference random-walks around zero while
the young generation itself keeps growing: a collection that normally scans ~20k objects then scans
hundreds of thousands (225k objects, 179 ms, followed by a 304k-object gen1 of 290 ms, measured at
300 cps), long enough for SIPp to retransmit. Collecting the young generation on a timer bounds what
each collection scans by what a tick allocates, whatever gets freed.
"""

from __future__ import annotations

import asyncio
import gc

__all__ = ["GcPacer"]


class GcPacer:
    """Disables automatic collection and collects gen0 every ``tick`` s, gen1 every ``gen1_every`` ticks
    and everything every ``full_every`` gen1 collections; :meth:`stop` restores automatic collection."""

    def __init__(self, tick: float = 0.1, gen1_every: int = 5, full_every: int = 400) -> None:
        self.tick = tick
        self.gen1_every = gen1_every
        self.full_every = full_every
        self.ticks = 0
        self._handle: asyncio.TimerHandle | None = None
        self._was_enabled = True

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._handle = asyncio.get_running_loop().call_later(self.tick, self._run)

    def _run(self) -> None:
        self.ticks += 1
        if self.ticks % (self.gen1_every * self.full_every) == 0:
            gc.collect(2)
        elif self.ticks % self.gen1_every == 0:
            gc.collect(1)
        else:
            gc.collect(0)
        self._handle = asyncio.get_running_loop().call_later(self.tick, self._run)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._was_enabled:
            gc.enable()
