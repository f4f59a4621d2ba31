"""LazyTimers: timers that are nearly always cancelled share one timer of the clock beneath, fire at the
same times and in the same order as on that clock, and leave no dead handles in the event loop's heap."""

from __future__ import annotations

import asyncio

import pytest

from reference_server.lazy_timers import PRUNE_AT, LazyTimers
from sipcore.aio.clock import LoopClock, SteppedClock

from .support import run


def test_timers_fire_at_their_times_in_order_and_cancelled_ones_never() -> None:
    async def main() -> None:
        base = SteppedClock()
        timers = LazyTimers(base)
        fired: list[tuple[str, float]] = []

        def note(name: str) -> None:
            fired.append((name, timers.time()))

        start = base.time()
        timers.call_later(180, note, "c1")
        timers.call_later(5, note, "early")
        dead = timers.call_later(2, note, "cancelled")
        timers.call_later(5, note, "tie, armed second")
        dead.cancel()
        await base.advance(10)
        assert fired == [("early", start + 5), ("tie, armed second", start + 5)]
        await base.advance(170)
        assert fired[-1] == ("c1", start + 180)
        assert timers.pending == 0 and base.pending == 0

    run(main())


def test_a_timer_cancelled_by_one_due_with_it_does_not_run() -> None:
    async def main() -> None:
        base = SteppedClock()
        timers = LazyTimers(base)
        fired: list[str] = []
        second = timers.call_later(1, fired.append, "second")
        timers.call_at(base.time() + 1 - 1e-9, lambda: (fired.append("first"), second.cancel()))
        await base.advance(2)
        assert fired == ["first"]

    run(main())


def test_cancelled_timers_leave_nothing_in_the_loop_heap() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        timers = LazyTimers(LoopClock(loop))
        before = len(loop._scheduled)  # type: ignore[attr-defined]
        for _ in range(10 * PRUNE_AT):  # a call's Timer C each: armed, then cancelled by the final response
            timers.call_later(180, pytest.fail, "a cancelled timer fired").cancel()
        # One timer of the loop (for the first, still armed: it fires, finds nothing, arms nothing), not 640.
        assert len(loop._scheduled) - before == 1  # type: ignore[attr-defined]
        assert timers.pending == 0 and len(timers._heap) <= 2 * PRUNE_AT + 2

    run(main())


def test_a_failing_callback_is_reported_and_the_others_still_run() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        reported: list[BaseException] = []
        loop.set_exception_handler(lambda _, context: reported.append(context["exception"]))
        try:
            timers = LazyTimers(LoopClock(loop))
            ran = loop.create_future()
            when = timers.time() + 0.01
            timers.call_at(when, lambda: 1 / 0)
            timers.call_at(when, ran.set_result, True)
            assert await asyncio.wait_for(ran, 5)
            assert [type(e) for e in reported] == [ZeroDivisionError]
        finally:
            loop.set_exception_handler(None)

    run(main())
