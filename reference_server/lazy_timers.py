"""Timers that are nearly always cancelled before they fire, kept off the event loop's own timer heap.

A B leg arms Timer C (180 s, RFC 3261 §16.6 step 11) on every INVITE it sends, and the final response
cancels it a few milliseconds later. On asyncio's loop a cancelled TimerHandle stays in the loop's heap
until it would have fired or until cancelled handles are half the heap, so at any call rate the heap
holds ~100 dead Timer Cs; every timer the loop runs or arms (the admission probe's 100 a second, the
transaction timers) then pays for that heap's depth in comparisons made by a Python ``__lt__``.

:class:`LazyTimers` is a :class:`~sipcore.aio.clock.Clock` over another one that keeps its timers in a
heap of its own (tuples, compared in C) and arms ONE timer of the base clock, for its earliest live
timer. A cancelled timer costs a flag; the dead ones are dropped when they reach the top or, like
asyncio's, when they are more than half the heap. Timers fire at the same times as on the base clock and
in the same order (time, then the order they were armed). The price: when the timer the base clock is
armed for is cancelled, that base timer still fires, finds nothing due and re-arms for the next live one
(for Timer C, at most once per 180 s).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any

from sipcore.aio.clock import Clock, TimerHandle

__all__ = ["LazyTimers"]

PRUNE_AT = 64  # cancelled timers kept before the heap is compacted (when they are also half of it)


def _nothing(*args: object) -> None:
    pass


class _Timer:
    __slots__ = ("_when", "_callback", "_args", "_cancelled", "_owner")

    def __init__(self, owner: LazyTimers, when: float, callback: Callable[..., object],
                 args: tuple[Any, ...]) -> None:
        self._owner: LazyTimers | None = owner  # None once out of its heap (due, or run)
        self._when, self._callback, self._args = when, callback, args
        self._cancelled = False

    def cancel(self) -> None:
        if not self._cancelled:
            self._cancelled = True
            self._callback, self._args = _nothing, ()  # release what the callback holds, as asyncio does
            if self._owner is not None:
                self._owner._note_cancelled()

    def cancelled(self) -> bool:
        return self._cancelled

    def when(self) -> float:
        return self._when


class LazyTimers(Clock):
    """A clock whose timers share one timer of ``base`` (see the module docstring)."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self._heap: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()
        self._handle: TimerHandle | None = None
        self._armed = float("inf")  # when the base clock's timer is due (inf: none is armed)
        self._cancelled = 0  # cancelled timers still in the heap

    @property
    def pending(self) -> int:
        """Timers armed and neither run nor cancelled."""
        return len(self._heap) - self._cancelled

    def time(self) -> float:
        return self.base.time()

    def wall(self) -> float:
        return self.base.wall()

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> TimerHandle:
        timer = _Timer(self, when, callback, args)
        heapq.heappush(self._heap, (when, next(self._order), timer))
        if when < self._armed:
            if self._handle is not None:
                self._handle.cancel()
            self._handle, self._armed = self.base.call_at(when, self._fire), when
        return timer

    def _note_cancelled(self) -> None:
        self._cancelled += 1
        heap = self._heap
        if self._cancelled > PRUNE_AT and 2 * self._cancelled > len(heap):
            heap[:] = [entry for entry in heap if not entry[2]._cancelled]
            heapq.heapify(heap)
            self._cancelled = 0

    def _fire(self) -> None:
        # The base clock runs its timer when it is due (asyncio: up to its clock's resolution early), so
        # what is due is what is due at the later of now and the time it was armed for.
        limit = max(self.base.time(), self._armed)
        self._handle, self._armed = None, float("inf")
        heap, due = self._heap, []
        while heap:
            when, _, timer = heap[0]
            if timer._cancelled:
                heapq.heappop(heap)
                self._cancelled -= 1
            elif when <= limit:
                heapq.heappop(heap)
                timer._owner = None
                due.append(timer)
            else:
                self._handle, self._armed = self.base.call_at(when, self._fire), when
                break
        for timer in due:
            if timer._cancelled:  # by a callback that ran before it
                continue
            callback, args = timer._callback, timer._args
            timer._callback, timer._args = _nothing, ()
            try:
                callback(*args)
            except Exception as exc:  # as asyncio's loop does with a failing callback: report, go on
                _report(exc, callback)


def _report(exc: Exception, callback: Callable[..., object]) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise exc from None
    loop.call_exception_handler({"message": f"Exception in timer callback {callback!r}", "exception": exc})
