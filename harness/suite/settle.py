"""When a scenario's capture may stop: once its traffic has settled, bounded.

    settle(capture, loop if every sender runs on it else None, started=world's traffic started)

The capture stops once no packet has been captured for ``QUIET`` seconds, after ``SETTLE_LIMIT`` in any case.
When every role that sends in the scenario runs on the session's event loop (the reference server and the
simulators: no equipment under test, SIPp or DNS server), the loop itself can say sooner that nothing more is
coming: two probes ``IDLE_PROBE`` apart that each find it with nothing to do (no callback ready, no socket
ready) and no timer due within ``QUIET``, with no packet captured between them. A packet a timer of the
loop would send within ``QUIET`` is waited for, as the quiet period would; traffic from other processes
cannot be foreseen, so there the quiet period stands alone.
"""

from __future__ import annotations

import time
from typing import Protocol

from harness.suite.loop import LoopThread

__all__ = ["IDLE_PROBE", "QUIET", "SETTLE_LIMIT", "settle"]

QUIET = 0.05
SETTLE_LIMIT = 1.0
IDLE_PROBE = 0.002


class Counting(Protocol):
    @property
    def packet_count(self) -> int: ...


def settle(capture: Counting, loop: LoopThread | None, *, started: bool = True, limit: float = SETTLE_LIMIT) -> str:
    """Waits until the traffic has settled (see the module's text); says why it stopped waiting: "idle" (the
    loop), "quiet" (no packet for QUIET), "limit" (``limit`` seconds passed) or "no traffic" (not started)."""
    if not started:
        return "no traffic"
    deadline = time.monotonic() + limit
    last, quiet_since = capture.packet_count, time.monotonic()
    idle_before = False
    while time.monotonic() < deadline:
        time.sleep(IDLE_PROBE if loop is not None else 0.01)
        if capture.packet_count != last:
            last, quiet_since, idle_before = capture.packet_count, time.monotonic(), False
        elif time.monotonic() - quiet_since >= QUIET:
            return "quiet"
        elif loop is not None:
            idle = loop.idle(QUIET) is True
            if idle and idle_before:
                return "idle"
            idle_before = idle
    return "limit"
