"""The clocks of the asyncio shell: a SteppedClock runs what is due, in order, only when moved; sleeping and
bounded waits behave on it as asyncio's do on the loop's clock."""

from __future__ import annotations

import asyncio

import pytest

from sipcore.aio.clock import LOOP_CLOCK, Clock, SteppedClock


def test_timers_run_only_when_the_clock_is_moved_in_time_order_ties_in_arming_order() -> None:
    async def main() -> list[tuple[str, float]]:
        clock = SteppedClock(100.0)
        ran: list[tuple[str, float]] = []
        clock.call_later(2.0, lambda: ran.append(("b", clock.time())))
        clock.call_at(101.0, lambda: ran.append(("a", clock.time())))
        clock.call_later(2.0, lambda: ran.append(("c", clock.time())))
        cancelled = clock.call_later(1.5, lambda: ran.append(("x", clock.time())))
        cancelled.cancel()
        await asyncio.sleep(0.01)
        assert ran == [] and clock.time() == 100.0  # real time passing moves nothing
        await clock.advance(1.0)
        assert ran == [("a", 101.0)]
        await clock.advance(5.0)
        assert clock.time() == 106.0 and clock.pending == 0 and cancelled.cancelled()
        return ran

    assert asyncio.run(main()) == [("a", 101.0), ("b", 102.0), ("c", 102.0)]


def test_a_timer_armed_by_a_timer_runs_in_the_same_step_when_it_is_due() -> None:
    async def main() -> list[float]:
        clock = SteppedClock(0.0)
        ran: list[float] = []

        def tick() -> None:
            ran.append(clock.time())
            if len(ran) < 5:
                clock.call_later(0.5, tick)

        clock.call_later(0.5, tick)
        await clock.advance(2.0)
        assert clock.next_due() == 2.5
        return ran

    assert asyncio.run(main()) == [0.5, 1.0, 1.5, 2.0]


def test_wall_time_moves_with_the_stepped_clock() -> None:
    async def main() -> tuple[float, float]:
        clock = SteppedClock(10.0, wall_start=1_700_000_000.0)
        before = clock.wall()
        await clock.advance(61)
        return before, clock.wall()

    assert asyncio.run(main()) == (1_700_000_000.0, 1_700_000_061.0)


def test_a_stepped_clock_cannot_go_back() -> None:
    clock = SteppedClock(5.0)
    with pytest.raises(ValueError, match="cannot go back"):
        asyncio.run(clock.advance(-1))
    with pytest.raises(ValueError, match="cannot go back"):
        asyncio.run(clock.advance_to(4.0))


def test_sleep_and_wait_for_on_a_stepped_clock() -> None:
    async def main() -> None:
        clock = SteppedClock(0.0)
        sleeper = asyncio.ensure_future(clock.sleep(3.0))
        never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        bounded = asyncio.ensure_future(clock.wait_for(never, 2.0))
        soon: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        answered = asyncio.ensure_future(clock.wait_for(soon, 2.0))
        await clock.advance(1.5)
        assert not sleeper.done() and not bounded.done()
        soon.set_result(7)
        assert await asyncio.wait_for(answered, 1) == 7
        await clock.advance(0.5)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(bounded, 1)
        assert never.cancelled()  # the awaited thing is cancelled, as asyncio.wait_for does
        assert not sleeper.done()
        await clock.advance(1.0)
        await asyncio.wait_for(sleeper, 1)
        assert clock.pending == 0  # nothing left armed by the waits

    asyncio.run(main())


@pytest.mark.parametrize("clock", [LOOP_CLOCK, SteppedClock()], ids=["loop", "stepped"])
def test_wait_for_without_time_left_takes_a_result_already_there_else_times_out(clock: Clock) -> None:
    async def main() -> None:
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        done.set_result("ok")
        assert await clock.wait_for(done, 0) == "ok"
        pending: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        with pytest.raises(TimeoutError):
            await clock.wait_for(pending, 0)
        assert await clock.wait_for(asyncio.sleep(0, "none"), None) == "none"

    asyncio.run(main())


def test_the_loop_clock_is_the_event_loops() -> None:
    async def main() -> tuple[float, float]:
        handle = LOOP_CLOCK.call_later(10.0, lambda: None)
        try:
            return handle.when() - LOOP_CLOCK.time(), asyncio.get_running_loop().time() - LOOP_CLOCK.time()
        finally:
            handle.cancel()

    ahead, skew = asyncio.run(main())
    assert 9.9 < ahead <= 10.0 and abs(skew) < 0.1
