"""The B2BUA media relay over loopback: forwarding both ways, symmetric latching, hijack refusal, ports."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from reference_server.relay_registry import RelayRegistry
from reference_server.rtp_relay import (
    MediaRelay,
    NoPortsAvailable,
    PortAllocator,
    is_rtcp,
    is_rtp,
)
from sipcore.aio.clock import SteppedClock
from sipcore.aio.rtp import RtpEndpoint
from sipcore.rtp import RtpPacket, dominant_frequency

from ..addresses import loopback

UA_IP = loopback(2)
TRUNK_IP = loopback(3)
DEST_IP = loopback(4)
STRANGER_IP = loopback(9)


def run(coro: Coroutine[Any, Any, None], timeout: float = 10.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout))


def free_range(host: str, size: int, seed: int = 0) -> int:
    """An even base port with ``size`` free UDP ports from it on ``host`` (probed, then released).

    The pid is mixed into the seed so concurrent test runs pick different ranges."""
    rng = random.Random(os.getpid() * 1000 + seed)
    for _ in range(200):
        base = rng.randrange(20000, 60000, 2)
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {size} consecutive free UDP ports on {host}")


def allocator(size: int = 40, seed: int = 0) -> PortAllocator:
    base = free_range(TRUNK_IP, size, seed)
    return PortAllocator(TRUNK_IP, base, base + size - 1)


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll ``condition`` on the loop (each step yields so datagrams get processed), bounded."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)
    try:
        await asyncio.wait_for(poll(), timeout)
    except TimeoutError:
        return False
    return True


def rtp(seq: int, ssrc: int = 0x5EED) -> bytes:
    return RtpPacket(payload_type=0, sequence_number=seq, timestamp=160 * seq, ssrc=ssrc,
                     payload=b"\xff" * 160).serialize()


def test_relay_forwards_both_ways_from_its_own_ports() -> None:
    async def scenario() -> None:
        ports = allocator()
        relay = await MediaRelay.open(ports)
        ua = await RtpEndpoint.open(UA_IP)
        dest = await RtpEndpoint.open(DEST_IP)
        try:
            assert relay.a_port % 2 == 0 and relay.b_port % 2 == 0 and relay.a_port != relay.b_port
            relay.set_a_remote(ua.local_addr)
            relay.set_b_remote(dest.local_addr)
            ua.start_sending((TRUNK_IP, relay.a_port), freq_hz=1000.0, rng=random.Random(1))
            dest.start_sending((TRUNK_IP, relay.b_port), freq_hz=400.0, rng=random.Random(2))
            assert await dest.wait_for_packets(10, 2.0)
            assert await ua.wait_for_packets(10, 2.0)
            # each far end hears the other's tone, from the trunk's port facing it, packets untouched
            assert {p.src for p in dest.received} == {(TRUNK_IP, relay.b_port)}
            assert {p.src for p in ua.received} == {(TRUNK_IP, relay.a_port)}
            assert ua.stream is not None and {p.ssrc for p in dest.received} == {ua.stream.ssrc}
            assert abs(dominant_frequency(dest.received[5].payload) - 1000.0) < 5.0
            assert abs(dominant_frequency(ua.received[5].payload) - 400.0) < 5.0
            assert relay.a_to_b.packets >= 10 and relay.a_to_b.bytes == 172 * relay.a_to_b.packets
            assert relay.b_to_a.packets >= 10
            assert relay.a_to_b.first_packet_time is not None and relay.a_to_b.first_packet_wall is not None
            assert relay.a_to_b.dropped_no_remote == relay.a_to_b.rejected_source == 0
        finally:
            for closable in (ua, dest, relay):
                closable.close()
        assert ports.in_use == 0

    run(scenario())


def test_relay_latches_to_the_real_source_port() -> None:
    async def scenario() -> None:
        ports = allocator(seed=1)
        relay = await MediaRelay.open(ports)
        ua = await RtpEndpoint.open(UA_IP)  # behind "NAT": its SDP names another port
        dest = await RtpEndpoint.open(DEST_IP)
        try:
            sdp_port = ua.local_addr[1] + 2 if ua.local_addr[1] < 65000 else ua.local_addr[1] - 2
            relay.set_a_remote((UA_IP, sdp_port))
            relay.set_b_remote(dest.local_addr)
            assert relay.a_remote == (UA_IP, sdp_port)
            ua.start_sending((TRUNK_IP, relay.a_port), rng=random.Random(3), count=2)
            assert await dest.wait_for_packets(1, 2.0)
            assert relay.a_remote == ua.local_addr  # latched: the address the packets really came from
            assert relay.a_to_b.learning == 1 and relay.a_to_b.packets == 1  # the first one confirmed nothing
            dest.start_sending((TRUNK_IP, relay.b_port), rng=random.Random(4))
            assert await ua.wait_for_packets(5, 2.0)
            # a re-INVITE refreshing the same SDP keeps the latch; one moving the media starts over
            relay.set_a_remote((UA_IP, sdp_port))
            assert relay.a_remote == ua.local_addr
            relay.set_a_remote((UA_IP, sdp_port + 2))
            assert relay.a_remote == (UA_IP, sdp_port + 2)
            ua.start_sending((TRUNK_IP, relay.a_port), rng=random.Random(5), count=2)
            assert await until(lambda: relay.a_remote == ua.local_addr)
        finally:
            for closable in (ua, dest, relay):
                closable.close()

    run(scenario())


def test_a_caller_behind_nat_gets_media_at_its_real_source() -> None:
    """baresip on a host with two interfaces: SDP c=10.200.0.1, RTP (and SIP) from another address. The
    relay received 100 packets and relayed 0 before RTP from the caller's signalling IP could latch."""
    async def scenario() -> None:
        relay = await MediaRelay.open(allocator(seed=12))
        ua = await RtpEndpoint.open(UA_IP)
        dest = await RtpEndpoint.open(DEST_IP)
        try:
            relay.set_signalling_peers([UA_IP], [DEST_IP])
            relay.set_a_remote(("10.200.0.1", 40000))
            relay.set_b_remote(dest.local_addr)
            ua.start_sending((TRUNK_IP, relay.a_port), freq_hz=1000.0, rng=random.Random(8))
            dest.start_sending((TRUNK_IP, relay.b_port), freq_hz=400.0, rng=random.Random(9))
            assert await dest.wait_for_packets(10, 2.0)
            assert await ua.wait_for_packets(10, 2.0)  # both ways: no one-way audio
            assert relay.a_remote == ua.local_addr
            assert {p.src for p in ua.received} == {(TRUNK_IP, relay.a_port)}
            assert abs(dominant_frequency(ua.received[5].payload) - 400.0) < 5.0
        finally:
            for closable in (ua, dest, relay):
                closable.close()

    run(scenario())


def test_a_stranger_on_the_callers_ip_cannot_take_over_mid_call() -> None:
    async def scenario() -> None:
        relay = await MediaRelay.open(allocator(seed=13))
        ua = await RtpEndpoint.open(UA_IP)
        dest = await RtpEndpoint.open(DEST_IP)
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            stranger.bind((UA_IP, 0))  # another flow from the caller's public IP
            relay.set_signalling_peers([UA_IP], [DEST_IP])
            relay.set_a_remote(("10.200.0.1", 40000))
            relay.set_b_remote(dest.local_addr)
            ua.start_sending((TRUNK_IP, relay.a_port), rng=random.Random(10), count=3)
            assert await dest.wait_for_packets(2, 2.0)
            for seq in range(20):
                stranger.sendto(rtp(seq, ssrc=0xBAD), (TRUNK_IP, relay.a_port))
            assert await until(lambda: relay.a_to_b.rejected_source == 20)
            assert relay.a_remote == ua.local_addr
            assert 0xBAD not in {p.ssrc for p in dest.received}
        finally:
            stranger.close()
            for closable in (ua, dest, relay):
                closable.close()

    run(scenario())


def test_relay_ignores_packets_from_an_unexpected_ip() -> None:
    async def scenario() -> None:
        ports = allocator(seed=2)
        relay = await MediaRelay.open(ports)
        ua = await RtpEndpoint.open(UA_IP)
        dest = await RtpEndpoint.open(DEST_IP)
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            stranger.bind((STRANGER_IP, 0))
            relay.set_a_remote(ua.local_addr)
            relay.set_b_remote(dest.local_addr)
            for seq in range(3):
                stranger.sendto(rtp(seq, ssrc=0xBAD), (TRUNK_IP, relay.a_port))
            ua.start_sending((TRUNK_IP, relay.a_port), rng=random.Random(6), count=3)
            assert await dest.wait_for_packets(3, 2.0)
            assert ua.stream is not None and {p.ssrc for p in dest.received} == {ua.stream.ssrc}
            assert relay.a_to_b.learning == 3 and relay.a_to_b.rejected_source == 0  # held back, then refused
            assert relay.a_remote == ua.local_addr  # not hijacked
        finally:
            stranger.close()
            for closable in (ua, dest, relay):
                closable.close()

    run(scenario())


def test_without_sdp_the_first_source_latches_and_others_are_refused() -> None:
    async def scenario() -> None:
        relay = await MediaRelay.open(allocator(seed=3))
        dest = await RtpEndpoint.open(DEST_IP)
        caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            caller.bind((UA_IP, 0))
            stranger.bind((STRANGER_IP, 0))
            relay.set_b_remote(dest.local_addr)
            caller.sendto(rtp(1), (TRUNK_IP, relay.a_port))
            caller.sendto(rtp(2), (TRUNK_IP, relay.a_port))  # the second packet of its SSRC confirms it
            assert await dest.wait_for_packets(1, 2.0)
            assert relay.a_remote == caller.getsockname()
            stranger.sendto(rtp(3, ssrc=0xBAD), (TRUNK_IP, relay.a_port))
            caller.sendto(rtp(4), (TRUNK_IP, relay.a_port))
            assert await dest.wait_for_packets(2, 2.0)
            assert [p.sequence_number for p in dest.received] == [2, 4]
            assert relay.a_to_b.rejected_source == 1 and relay.a_to_b.learning == 1
        finally:
            caller.close()
            stranger.close()
            dest.close()
            relay.close()

    run(scenario())


def test_packets_before_the_far_remote_is_known_are_dropped_and_counted() -> None:
    async def scenario() -> None:
        relay = await MediaRelay.open(allocator(seed=4))
        dest = await RtpEndpoint.open(DEST_IP)
        caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            caller.bind((UA_IP, 0))
            relay.set_a_remote(caller.getsockname())
            for seq in range(3):
                caller.sendto(rtp(seq), (TRUNK_IP, relay.a_port))
            assert await until(lambda: relay.a_to_b.dropped_no_remote == 3)
            assert relay.a_to_b.packets == 0 and relay.a_to_b.first_packet_time is None
            relay.set_b_remote(dest.local_addr)  # the destination's SDP arrives (183 or 200)
            caller.sendto(rtp(3), (TRUNK_IP, relay.a_port))
            assert await dest.wait_for_packets(1, 2.0)
            assert [p.sequence_number for p in dest.received] == [3]
            assert relay.a_to_b.packets == 1 and relay.a_to_b.first_packet_time is not None
        finally:
            caller.close()
            dest.close()
            relay.close()

    run(scenario())


def test_junk_is_counted_and_the_relay_keeps_working() -> None:
    async def scenario() -> None:
        relay = await MediaRelay.open(allocator(seed=5))
        dest = await RtpEndpoint.open(DEST_IP)
        caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            caller.bind((UA_IP, 0))
            relay.set_a_remote(caller.getsockname())
            relay.set_b_remote(dest.local_addr)
            target = (TRUNK_IP, relay.a_port)
            caller.sendto(b"", target)
            caller.sendto(b"\r\n\r\n", target)  # a SIP keep-alive at the wrong port
            caller.sendto(bytes([0x40]) + bytes(20), target)  # version 1
            caller.sendto(rtp(7), target)
            assert await dest.wait_for_packets(1, 2.0)
            assert relay.a_to_b.malformed == 3
            assert [p.sequence_number for p in dest.received] == [7]
            assert dest.malformed == 0
        finally:
            caller.close()
            dest.close()
            relay.close()

    run(scenario())


def test_rtcp_is_relayed_on_the_odd_ports() -> None:
    async def scenario() -> None:
        relay = await MediaRelay.open(allocator(seed=6))
        ua_rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dest_rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            ua_rtcp.bind((UA_IP, 0))
            dest_rtcp.bind((DEST_IP, 0))
            dest_rtcp.setblocking(False)
            relay.set_a_remote((UA_IP, 40000), rtcp=ua_rtcp.getsockname())
            relay.set_b_remote((DEST_IP, 40000), rtcp=dest_rtcp.getsockname())
            receiver_report = bytes([0x80, 201, 0, 1]) + (0x5EED).to_bytes(4, "big")
            ua_rtcp.sendto(receiver_report, (TRUNK_IP, relay.a_port + 1))
            loop = asyncio.get_running_loop()
            data, src = await asyncio.wait_for(loop.sock_recvfrom(dest_rtcp, 2048), 2.0)
            assert data == receiver_report
            assert src == (TRUNK_IP, relay.b_port + 1)
            stats = relay.rtcp_a_to_b
            assert stats is not None and stats.packets == 1
        finally:
            ua_rtcp.close()
            dest_rtcp.close()
            relay.close()

    run(scenario())


def test_rtcp_remote_defaults_to_the_rtp_port_plus_one() -> None:
    async def scenario() -> None:
        relay = await MediaRelay.open(allocator(seed=7))
        try:
            relay.set_a_remote((UA_IP, 40000))
            assert relay._a_rtcp is not None and relay._a_rtcp.remote == (UA_IP, 40001)
            relay.set_a_remote(("0.0.0.0", 40000))  # RFC 2543-style hold: no remote
            assert relay.a_remote is None
        finally:
            relay.close()

    run(scenario())


def test_validators() -> None:
    assert is_rtp(rtp(1)) and not is_rtp(rtp(1)[:11]) and not is_rtp(bytes([0x40]) + bytes(11))
    assert is_rtcp(bytes([0x81, 200]) + bytes(6)) and not is_rtcp(rtp(1)) and not is_rtcp(b"\x80\xc8")


def test_allocator_hands_out_even_pairs_and_reports_exhaustion() -> None:
    base = free_range(TRUNK_IP, 5, seed=8)
    ports = PortAllocator(TRUNK_IP, base - 1, base + 3)  # odd start: first RTP port is base
    assert ports.capacity == 2
    first = ports.allocate()
    second = ports.allocate()
    try:
        assert (first.port, second.port) == (base, base + 2)
        assert first.rtcp is not None and first.rtcp.getsockname() == (TRUNK_IP, base + 1)
        assert ports.in_use == 2
        with pytest.raises(NoPortsAvailable, match=rf"{TRUNK_IP} in {base - 1}-{base + 3}: 2 in use"):
            ports.allocate()
    finally:
        for pair in (first, second):
            pair.rtp.close()
            if pair.rtcp is not None:
                pair.rtcp.close()
    ports.release(first.port)
    assert ports.in_use == 1
    with pytest.raises(ValueError, match="not allocated"):
        ports.release(first.port)
    again = ports.allocate()
    assert again.port == base
    again.rtp.close()
    if again.rtcp is not None:
        again.rtcp.close()
    ports.release(again.port)
    ports.release(second.port)
    assert ports.in_use == 0


def test_allocator_skips_ports_the_os_refuses() -> None:
    base = free_range(TRUNK_IP, 6, seed=9)
    squatter = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    squatter_rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        squatter.bind((TRUNK_IP, base))  # someone else holds the first RTP port
        squatter_rtcp.bind((TRUNK_IP, base + 3))  # and the second pair's RTCP port
        ports = PortAllocator(TRUNK_IP, base, base + 5)
        pair = ports.allocate()
        assert pair.port == base + 4
        pair.rtp.close()
        if pair.rtcp is not None:
            pair.rtcp.close()
        with pytest.raises(NoPortsAvailable, match="1 in use by calls, 2 refused by the OS"):
            ports.allocate()
    finally:
        squatter.close()
        squatter_rtcp.close()


def test_allocator_rejects_a_range_without_a_pair() -> None:
    with pytest.raises(ValueError, match="no even RTP port"):
        PortAllocator(TRUNK_IP, 30001, 30002)
    with pytest.raises(ValueError, match="1-65535"):
        PortAllocator(TRUNK_IP, 30000, 70000)


def test_registry_tracks_calls_and_releases_every_port() -> None:
    async def scenario() -> None:
        ports = allocator(size=14, seed=10)  # 7 pairs: 3 calls, and a 4th gets side A only
        registry = RelayRegistry(ports)
        one = await registry.open("call-1@ua")
        assert await registry.open("call-1@ua") is one
        await registry.open("call-2@ua")
        await registry.open("call-3@ua")
        assert registry.active == 3 and ports.in_use == 6
        with pytest.raises(NoPortsAvailable):
            await registry.open("call-4@ua")
        assert ports.in_use == 6  # the half-opened relay gave its side A back
        assert registry.close("call-2@ua") and not registry.close("call-2@ua")
        assert registry.active == 2 and ports.in_use == 4
        one.close()  # closed directly by the call logic
        assert registry.active == 1 and "call-1@ua" not in registry
        registry.close_all()
        assert registry.active == 0 and ports.in_use == 0
        # sockets really closed: the ports can be bound again once the loop has run the closes
        await asyncio.sleep(0.01)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((TRUNK_IP, one.a_port))
        finally:
            probe.close()

    run(scenario())


def test_registry_reuses_a_closed_calls_sockets_only_after_reuse_after() -> None:
    async def scenario() -> None:
        ports = allocator(size=20, seed=11)
        clock = SteppedClock()
        registry = RelayRegistry(ports, reuse_after=2.0, clock=clock)
        first = await registry.open("call-1@ua")
        ua = await RtpEndpoint.open(UA_IP)
        try:
            first_ports = (first.a_port, first.b_port)
            assert registry.close("call-1@ua")
            assert ports.in_use == 0 and first.closed and first.host == ""
            # parked: a late packet of the ended call is dropped, not relayed into anything
            ua.start_sending((TRUNK_IP, first.a_port), rng=random.Random(7), count=1)
            await asyncio.sleep(0.05)
            assert first.a_to_b.packets == 0
            await clock.advance(1.75)
            soon = await registry.open("call-2@ua")  # too soon: fresh ports
            assert (soon.a_port, soon.b_port) != first_ports and ports.in_use == 2
            await clock.advance(0.25)  # reuse_after since it was parked
            later = await registry.open("call-3@ua")  # the parked sockets, as a new relay
            assert (later.a_port, later.b_port) == first_ports and later is not first
            assert later.a_remote is None and later.a_to_b.packets == 0 and ports.in_use == 4
            dest = await RtpEndpoint.open(DEST_IP)
            try:
                later.set_a_remote(ua.local_addr)
                later.set_b_remote(dest.local_addr)
                ua.start_sending((TRUNK_IP, later.a_port), rng=random.Random(8), count=3)
                assert await dest.wait_for_packets(3, 2.0)
                assert later.a_to_b.packets == 3 and first.a_to_b.packets == 0
            finally:
                dest.close()
        finally:
            ua.close()
            registry.close_all()
        assert registry.active == 0 and ports.in_use == 0
        await asyncio.sleep(0.01)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((TRUNK_IP, first_ports[0]))  # parked sockets are closed by close_all
        finally:
            probe.close()

    run(scenario())


def test_registry_takes_parked_sockets_early_when_the_range_is_exhausted() -> None:
    async def scenario() -> None:
        ports = allocator(size=8, seed=12)  # 4 pairs: two calls
        registry = RelayRegistry(ports, reuse_after=60.0)
        await registry.open("call-1@ua")
        second = await registry.open("call-2@ua")
        registry.close("call-2@ua")
        again = await registry.open("call-3@ua")  # no free pair left: the parked one, however recent
        assert (again.a_port, again.b_port) == (second.a_port, second.b_port)
        registry.close_all()
        assert ports.in_use == 0

    run(scenario())
