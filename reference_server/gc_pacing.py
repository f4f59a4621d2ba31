"""Cyclic-GC collections paced by the clock instead of CPython's allocation counter.

CPython starts a young collection when allocations *minus deallocations* of tracked objects exceed
threshold0. Under a steady SIP load the server frees the objects of transactions that ended 32 s ago
(Timers J/L/M) about as fast as it allocates new ones, so that difference random-walks around zero while
the young generation itself keeps growing: a collection that normally scans ~20k objects then scans
hundreds of thousands (225k objects, 179 ms, followed by a 304k-object gen1 of 290 ms, measured at
300 cps), long enough for SIPp to retransmit. Collecting the young generation on a timer bounds what
each collection scans by what a tick allocates, whatever gets freed.

Each tick collects generations 0 and 1 together (``gc.collect(1)``; generation 1 is always empty between
ticks), so what survives goes straight to the old generation: an object that outlives a tick -- a
transaction lingering 32 s, a call in progress -- is scanned once before it is old, not twice (once in
generation 0, again in generation 1 a few ticks later: half the young collections' work at steady load,
measured). What it costs: cyclic garbage that becomes unreachable only after its first tick waits for the
next full collection instead of the next generation-1 one; a finished call leaves no cycle.

Every ``trim_every`` ticks (30 s) the pacer also hands the C heap's free pages back to the system
(glibc's ``malloc_trim(0)``; nothing elsewhere). Messages over 512 bytes -- datagrams, serialized
responses, the unparsed copies a lingering transaction keeps for 32 s -- live in the C heap, where a long
lived block between freed ones keeps the pages around it resident: without trimming the RSS stays at the
high water of the busiest moment (a burst, a backlog after a pause) long after the load, or the server,
has quietened down.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .admission import Admission

__all__ = ["GcPacer", "heap_trimmer"]


def heap_trimmer() -> Callable[[], object] | None:
    """glibc's ``malloc_trim(0)`` (returns free heap pages to the system), None without glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS ...)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class GcPacer:
    """Disables automatic collection and collects the young generations (0 and 1, survivors promoted to
    the old one) every ``tick`` s and everything every ``full_every`` ticks, and trims the C heap every
    ``trim_every`` ticks (0: never); :meth:`stop` restores automatic collection."""

    def __init__(self, tick: float = 0.1, full_every: int = 2000, trim_every: int = 300) -> None:
        self.tick = tick
        self.full_every = full_every
        self.trim_every = trim_every
        self._trim = heap_trimmer() if trim_every else None
        self.trims = 0
        self.ticks = 0
        self._handle: asyncio.TimerHandle | None = None
        self._beat: Admission | None = None
        self._next = 0.0  # loop time the next tick is due (when riding on a beat)
        self._was_enabled = True
        self.on_full: Callable[[float], object] | None = None
        """Told how long each scheduled full collection took (the admission control excuses that pause)."""

    def start(self, beat: Admission | None = None) -> None:
        """Take over from automatic collection. With ``beat`` (the admission control, whose probe wakes the
        loop every 10 ms anyway) the ticks ride on its probes: each probe at or after a tick's due time runs
        it (up to one probe interval late), and the pacer arms no timer of its own."""
        self._was_enabled = gc.isenabled()
        gc.disable()
        loop = asyncio.get_running_loop()
        if beat is None:
            self._handle = loop.call_later(self.tick, self._run)
            return
        self._next = beat.clock.time() + self.tick
        beat.after_probe = self._on_beat
        self._beat = beat

    def _on_beat(self, now: float) -> None:
        if now < self._next:
            return
        # the next tick one tick after this one was due, so that ticks keep their rate; after a stall, from now
        self._next = self._next + self.tick if now < self._next + self.tick else now + self.tick
        self._collect()

    def _run(self) -> None:
        self._collect()
        self._handle = asyncio.get_running_loop().call_later(self.tick, self._run)

    def _collect(self) -> None:
        self.ticks += 1
        if self.ticks % self.full_every == 0:
            started = time.perf_counter()
            gc.collect(2)
            if self.on_full is not None:
                self.on_full(time.perf_counter() - started)
        else:
            gc.collect(1)
        if self._trim is not None and self.ticks % self.trim_every == 0:
            self._trim()
            self.trims += 1

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._beat is not None:
            self._beat.after_probe = None
            self._beat = None
        if self._was_enabled:
            gc.enable()
