"""One clock for everything an asyncio SIP element times: reading the time, timers, sleeping, bounded waits.

The sans-IO core takes ``now`` as a parameter; the asyncio shell (:class:`~sipcore.aio.endpoint.SipEndpoint`),
the reference server and the simulator read it, and arm their timers, through a :class:`Clock` they are
given. :class:`LoopClock` is the running event loop's clock (the default, what runs on the wire);
:class:`SteppedClock` stands still until a test moves it, so a test of Timer B, 64*T1 or a registration's
expiry steps time instead of waiting for it, whatever the timer values.

``time()`` is monotonic seconds (what timers are armed on); ``wall()`` is the Unix time for Date headers
and reports, moving with ``time()``.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time as _time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

__all__ = ["LOOP_CLOCK", "Clock", "LoopClock", "SteppedClock", "TimerHandle"]

T = TypeVar("T")


class TimerHandle(Protocol):
    """A timer armed on a clock (:class:`asyncio.TimerHandle` is one)."""

    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...
    def when(self) -> float: ...


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Clock:
    """Time, timers and waits; subclasses give ``time``, ``wall`` and ``call_at``."""

    def time(self) -> float:
        """Monotonic seconds: what timers are armed on."""
        raise NotImplementedError

    def wall(self) -> float:
        """Seconds since the Unix epoch, for Date headers and reports."""
        raise NotImplementedError

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> TimerHandle:
        """Run ``callback(*args)`` once ``time()`` reaches ``when``."""
        raise NotImplementedError

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> TimerHandle:
        return self.call_at(self.time() + delay, callback, *args)

    async def sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        handle = self.call_later(delay, _resolve, future)
        try:
            await future
        finally:
            handle.cancel()

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        """``aw``'s result, or TimeoutError (``aw`` cancelled) once ``timeout`` seconds have passed on this
        clock, as :func:`asyncio.wait_for` does on the loop's."""
        task = asyncio.ensure_future(aw)
        if timeout is None:
            return await task
        if timeout > 0 and not task.done():
            expired: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            handle = self.call_later(timeout, _resolve, expired)
            try:
                await asyncio.wait((task, expired), return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                task.cancel()
                raise
            finally:
                handle.cancel()
                expired.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.wait((task,))  # let it clean up; its CancelledError stays in it
        raise TimeoutError(f"no result within {timeout:g} s")


class LoopClock(Clock):
    """The running event loop's clock (``loop.time()``: ``time.monotonic()`` on asyncio's own loop).
    Outside a running loop ``time()`` reads ``time.monotonic()``. ``LoopClock(loop)`` is that loop's
    clock, read without looking the running loop up: on CPython 3.11 ``asyncio.get_running_loop()``
    makes a getpid() system call each time, and a server reads its clock dozens of times a call."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop

    def time(self) -> float:
        loop = self.loop
        if loop is not None:
            return loop.time()
        try:
            return asyncio.get_running_loop().time()
        except RuntimeError:
            return _time.monotonic()

    def wall(self) -> float:
        return _time.time()

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> TimerHandle:
        return (self.loop or asyncio.get_running_loop()).call_at(when, callback, *args)

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> TimerHandle:
        return (self.loop or asyncio.get_running_loop()).call_later(delay, callback, *args)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)

    async def wait_for(self, aw: Awaitable[T], timeout: float | None) -> T:
        return await asyncio.wait_for(aw, timeout)


LOOP_CLOCK = LoopClock()
"""The default clock of every element that is given none."""


def _nothing(*args: object) -> None:
    pass


class _SteppedTimer:
    __slots__ = ("_when", "_callback", "_args", "_cancelled")

    def __init__(self, when: float, callback: Callable[..., object], args: tuple[Any, ...]) -> None:
        self._when, self._callback, self._args = when, callback, args
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True
        self._callback, self._args = _nothing, ()  # release what the callback holds, as asyncio does

    def cancelled(self) -> bool:
        return self._cancelled

    def when(self) -> float:
        return self._when

    def run(self) -> None:
        callback, args = self._callback, self._args
        self._callback, self._args = _nothing, ()
        callback(*args)


class SteppedClock(Clock):
    """A clock that moves only when told to (for tests): ``await clock.advance(32)`` runs every timer due
    within those 32 s, in time order (ties in the order they were armed), each seeing ``time()`` at its
    due time. Between timers, and at the end, the event loop gets a few passes so that what a timer set off
    (a task it woke, a datagram it sent on loopback) is processed before the next timer; real I/O still
    takes its real, tiny time, so a test then waits for the message it expects with a bounded wait."""

    SETTLE_PASSES = 20

    def __init__(self, start: float = 1000.0, *, wall_start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._timers: list[tuple[float, int, _SteppedTimer]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> TimerHandle:
        timer = _SteppedTimer(when, callback, args)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    @property
    def pending(self) -> int:
        """Timers armed and not yet run or cancelled."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled())

    def next_due(self) -> float | None:
        """When the next armed timer is due (None: none is armed)."""
        self._drop_cancelled()
        return self._timers[0][0] if self._timers else None

    def _drop_cancelled(self) -> None:
        while self._timers and self._timers[0][2].cancelled():
            heapq.heappop(self._timers)

    async def advance(self, seconds: float) -> None:
        """Move time ``seconds`` forward, running the timers due on the way."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds:g} s)")
        await self.advance_to(self._now + seconds)

    async def advance_to(self, when: float) -> None:
        """Move time forward to ``when`` (no earlier than now), running the timers due on the way."""
        if when < self._now:
            raise ValueError(f"a clock cannot go back (from {self._now:g} to {when:g})")
        await self.settle()
        while True:
            self._drop_cancelled()
            if not self._timers or self._timers[0][0] > when:
                break
            due, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, due)
            timer.run()
            await self.settle()
        self._now = when
        await self.settle()

    @staticmethod
    async def settle() -> None:
        """Give the event loop a few passes (each polls the sockets) without moving this clock."""
        for _ in range(SteppedClock.SETTLE_PASSES):
            await asyncio.sleep(0)
