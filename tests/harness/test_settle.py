"""When a scenario's capture may stop (harness.suite.settle): as soon as the harness's event loop, where every
simulated role runs, has nothing to do and no timer due within the quiet period; never before a packet one
of its timers sends within that period; after the quiet period when the senders are other processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.suite.loop import LoopThread
from harness.suite.settle import QUIET, settle


class Counter:
    """Stands in for a capture: counts the 'packets' the loop's callbacks send."""

    def __init__(self) -> None:
        self.packet_count = 0

    def send(self) -> None:
        self.packet_count += 1


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    thread = LoopThread("test-settle")
    yield thread
    thread.close()


def test_an_idle_loop_says_so_and_a_timer_due_within_the_horizon_keeps_it_busy(loop: LoopThread):
    assert loop.idle(QUIET) is True
    handle = loop.loop.call_soon_threadsafe(loop.loop.call_later, 0.5, lambda: None)
    assert handle is not None
    assert loop.idle(1.0) is False  # due in 0.5 s: within a 1 s horizon
    assert loop.idle(0.1) is True  # not within 0.1 s


def test_settle_stops_at_once_on_an_idle_loop_and_after_the_quiet_period_without_one(loop: LoopThread):
    assert settle(Counter(), loop) == "idle"
    assert settle(Counter(), None) == "quiet"
    assert settle(Counter(), loop, started=False) == "no traffic"


def test_settle_waits_for_what_a_timer_of_the_loop_sends_within_the_quiet_period(loop: LoopThread):
    capture = Counter()
    loop.loop.call_soon_threadsafe(loop.loop.call_later, QUIET * 0.6, capture.send)
    assert settle(capture, loop) == "idle"
    assert capture.packet_count == 1  # an idle check that ignored timers would have stopped before it


def test_a_loop_that_keeps_sending_is_never_idle_and_settle_gives_up_at_its_limit(loop: LoopThread):
    capture = Counter()

    def every_10_ms() -> None:  # like an RTP stream that goes on
        capture.send()
        loop.loop.call_later(0.01, every_10_ms)

    loop.loop.call_soon_threadsafe(every_10_ms)
    assert settle(capture, loop, limit=0.3) == "limit"
    assert capture.packet_count >= 5
