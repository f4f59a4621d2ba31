"""The pool of parked relay sockets follows the call rate instead of keeping its high water: a burst of
calls (or an event-loop pause that bunches them up) parks many relays at once; those the following calls
do not need within ``max_idle`` are closed, their ports free again, also on a server that went idle."""

from __future__ import annotations

import asyncio
import socket

from reference_server.relay_registry import RelayRegistry
from sipcore.aio.clock import SteppedClock

from .test_rtp_relay import TRUNK_IP, allocator, run


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((TRUNK_IP, port))
        except OSError:
            return False
    return True


def test_a_burst_of_parked_relays_is_closed_once_the_calls_no_longer_need_them() -> None:
    async def scenario() -> None:
        ports = allocator(size=80, seed=21)
        clock = SteppedClock()
        registry = RelayRegistry(ports, reuse_after=2.0, clock=clock)  # max_idle: 4 s by default
        try:
            burst = [await registry.open(f"burst-{i}@ua") for i in range(10)]
            burst_ports = [p for relay in burst for p in (relay.a_port, relay.b_port)]
            for i in range(10):
                registry.close(f"burst-{i}@ua")
            await asyncio.sleep(0.01)
            assert not any(_bindable(p) for p in burst_ports)  # parked: still bound, for the next calls
            # one call a second afterwards: each takes the oldest parked relay, the rest wait unused
            for second in range(1, 7):
                await clock.advance(1.0)
                await registry.open(f"steady-{second}@ua")
                registry.close(f"steady-{second}@ua")
            await asyncio.sleep(0.01)
            free = [p for p in burst_ports if _bindable(p)]
            assert len(free) >= 12, f"only {len(free)} of the burst's 20 ports were given back"
            assert registry.parked <= 5  # at most max_idle x the call rate: the calls of the last 4-5 s
            # the server then goes idle: its housekeeping timer trims what is left
            await clock.advance(10.0)
            assert registry.trim() >= 1
            assert registry.parked == 0 and ports.in_use == 0
            await asyncio.sleep(0.01)
            assert all(_bindable(p) for p in burst_ports)
        finally:
            registry.close_all()

    run(scenario())


def test_relays_reused_at_the_call_rate_stay_pooled() -> None:
    async def scenario() -> None:
        ports = allocator(size=40, seed=22)
        clock = SteppedClock()
        registry = RelayRegistry(ports, reuse_after=2.0, clock=clock)
        try:
            first = await registry.open("call-0@ua")
            pooled = (first.a_port, first.b_port)
            registry.close("call-0@ua")
            seen = set()
            for i in range(1, 5):  # one call every 2.5 s: always the same parked sockets again
                await clock.advance(2.5)
                relay = await registry.open(f"call-{i}@ua")
                seen.add((relay.a_port, relay.b_port))
                # what a tap reports as each socket's address, carried over from the parked sockets
                assert [side.local for side in relay._sides()] == [side.sock.getsockname()[:2]
                                                                     for side in relay._sides()]
                registry.close(f"call-{i}@ua")
            assert seen == {pooled} and registry.parked == 1
        finally:
            registry.close_all()

    run(scenario())
