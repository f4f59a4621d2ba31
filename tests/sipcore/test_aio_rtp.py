"""RtpEndpoint over real loopback sockets: a paced PCMU tone, consecutive numbering, latching, junk."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Coroutine
from itertools import pairwise
from typing import Any

from sipcore.aio.rtp import RtpEndpoint
from sipcore.rtp import RtpPacket, RtpStream, dominant_frequency

from ..addresses import loopback

UA_IP = loopback(2)
FAR_IP = loopback(4)


def run(coro: Coroutine[Any, Any, None], timeout: float = 10.0) -> None:
    asyncio.run(asyncio.wait_for(coro, timeout))


def test_tone_arrives_with_consecutive_numbering_and_its_frequency() -> None:
    async def scenario() -> None:
        sender = await RtpEndpoint.open(UA_IP)
        receiver = await RtpEndpoint.open(FAR_IP)
        try:
            stream = sender.start_sending(receiver.local_addr, freq_hz=1000.0, rng=random.Random(7))
            assert await receiver.wait_for_packets(15, 2.0)
            sender.stop_sending()
            got = receiver.received[:15]
            expected = RtpStream.seeded(7)  # same draws in the same order: SSRC, sequence, timestamp
            assert stream.ssrc == expected.ssrc
            assert {p.ssrc for p in got} == {expected.ssrc}
            assert {p.src for p in got} == {sender.local_addr}
            assert [p.sequence_number for p in got] == [(expected.sequence_number + i) & 0xFFFF
                                                        for i in range(15)]
            assert [p.timestamp for p in got] == [(expected.timestamp + 160 * i) & 0xFFFFFFFF
                                                  for i in range(15)]
            assert all(p.payload_type == 0 and p.payload_len == 160 for p in got)
            assert got[0].marker and not any(p.marker for p in got[1:])  # RFC 3551 §4.1
            for p in got:
                assert abs(dominant_frequency(p.payload) - 1000.0) < 5.0
            # phase continues across frames: two frames together still read as one 1 kHz tone
            assert abs(dominant_frequency(got[3].payload + got[4].payload) - 1000.0) < 5.0
            assert receiver.first_packet_at == got[0].arrival
            assert got[0].wall > 0 and got[-1].arrival >= got[0].arrival
        finally:
            sender.close()
            receiver.close()

    run(scenario())


def test_sender_keeps_about_fifty_packets_per_second() -> None:
    async def scenario() -> None:
        sender = await RtpEndpoint.open(UA_IP)
        receiver = await RtpEndpoint.open(FAR_IP)
        try:
            sender.start_sending(receiver.local_addr, rng=random.Random(1))
            await asyncio.sleep(0.5)
            sender.stop_sending()
            sent = sender.packets_sent
            assert 20 <= sent <= 30, f"{sent} packets in 0.5 s at 20 ms ptime"
            assert await receiver.wait_for_packets(sent, 2.0)
            assert len(receiver.received) == sent
            span = receiver.received[-1].arrival - receiver.received[0].arrival
            assert 0.3 <= span <= 0.7, f"{sent} packets spread over {span:.3f} s"
        finally:
            sender.close()
            receiver.close()

    run(scenario())


def test_after_a_stall_the_sender_skips_ahead_without_drift() -> None:
    async def scenario() -> None:
        sender = await RtpEndpoint.open(UA_IP)
        receiver = await RtpEndpoint.open(FAR_IP)
        try:
            sender.start_sending(receiver.local_addr, rng=random.Random(2))
            assert await receiver.wait_for_packets(3, 2.0)
            time.sleep(0.25)  # block the event loop on purpose: 12 frames overdue
            await asyncio.sleep(0.1)
            sender.stop_sending()
            await asyncio.sleep(0.02)
            got = receiver.received
            first = got[0]
            # no sequence gap (nothing was lost), but the timestamp jumped over the stall (RFC 3550 §5.1)
            assert all((b.sequence_number - a.sequence_number) & 0xFFFF == 1 for a, b in pairwise(got))
            assert max((b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in pairwise(got)) > 160
            # the media clock still matches the loop clock at the end: no accumulated drift
            media = ((got[-1].timestamp - first.timestamp) & 0xFFFFFFFF) / 8000
            assert abs(media - (got[-1].arrival - first.arrival)) < 0.06
        finally:
            sender.close()
            receiver.close()

    run(scenario())


def test_given_numbering_wraps_and_count_stops_the_stream() -> None:
    async def scenario() -> None:
        sender = await RtpEndpoint.open(UA_IP)
        receiver = await RtpEndpoint.open(FAR_IP)
        try:
            sender.start_sending(receiver.local_addr, payload_type=0, freq_hz=400.0, ssrc=0x11223344,
                                 sequence_number=65534, timestamp=0xFFFFFF00, count=4, rng=random.Random(0))
            assert await receiver.wait_for_packets(4, 2.0)
            assert [p.sequence_number for p in receiver.received] == [65534, 65535, 0, 1]
            assert [p.timestamp for p in receiver.received] == [0xFFFFFF00, 0xFFFFFFA0, 0x40, 0xE0]
            assert {p.ssrc for p in receiver.received} == {0x11223344}
            assert abs(dominant_frequency(receiver.received[0].payload) - 400.0) < 5.0
            assert not await receiver.wait_for_packets(5, 0.15)  # stopped after count
            assert sender.packets_sent == 4 and not sender.sending
        finally:
            sender.close()
            receiver.close()

    run(scenario())


def test_set_remote_retargets_the_same_stream() -> None:
    async def scenario() -> None:
        sender = await RtpEndpoint.open(UA_IP)
        first = await RtpEndpoint.open(FAR_IP)
        second = await RtpEndpoint.open(loopback(5))
        try:
            sender.start_sending(first.local_addr, rng=random.Random(3))
            assert await first.wait_for_packets(3, 2.0)
            sender.set_remote(second.local_addr)
            assert await second.wait_for_packets(3, 2.0)
            sender.stop_sending()
            await asyncio.sleep(0.05)  # drain what is in flight to ``first``
            before = first.received[-1]
            after = second.received[0]
            assert after.ssrc == before.ssrc
            assert after.sequence_number == (before.sequence_number + 1) & 0xFFFF
        finally:
            for endpoint in (sender, first, second):
                endpoint.close()

    run(scenario())


def test_latch_answers_to_the_first_source() -> None:
    async def scenario() -> None:
        callee = await RtpEndpoint.open(FAR_IP, latch=True)
        caller = await RtpEndpoint.open(UA_IP)
        try:
            callee.start_sending(rng=random.Random(5))  # no remote yet: nothing goes out
            await asyncio.sleep(0.06)
            assert callee.packets_sent == 0
            caller.start_sending(callee.local_addr, rng=random.Random(6), count=1)
            assert await callee.wait_for_packets(1, 2.0)
            assert callee.remote == caller.local_addr
            assert await caller.wait_for_packets(3, 2.0)
            assert {p.src for p in caller.received} == {callee.local_addr}
        finally:
            callee.close()
            caller.close()

    run(scenario())


def test_junk_is_counted_not_recorded() -> None:
    async def scenario() -> None:
        receiver = await RtpEndpoint.open(FAR_IP)
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            junk.bind((UA_IP, 0))
            junk.sendto(b"hello", receiver.local_addr)  # shorter than the fixed header
            junk.sendto(bytes([0x40]) + bytes(15), receiver.local_addr)  # version 1
            junk.sendto(bytes([0x80, 201, 0, 1]) + bytes(4), receiver.local_addr)  # RTCP RR, multiplexed
            good = RtpPacket(payload_type=0, sequence_number=9, timestamp=160, ssrc=42, payload=b"\xff" * 160)
            junk.sendto(good.serialize(), receiver.local_addr)
            assert await receiver.wait_for_packets(1, 2.0)
            assert receiver.malformed == 2
            assert receiver.rtcp == 1
            assert [(p.ssrc, p.sequence_number) for p in receiver.received] == [(42, 9)]
        finally:
            junk.close()
            receiver.close()

    run(scenario())


def test_wait_is_bounded_and_close_releases_waiters() -> None:
    async def scenario() -> None:
        receiver = await RtpEndpoint.open(FAR_IP)
        try:
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert not await receiver.wait_for_packets(1, 0.1)
            assert loop.time() - started < 1.0
            waiter = asyncio.ensure_future(receiver.wait_for_packets(1, 5.0))
            await asyncio.sleep(0)
            receiver.close()
            assert not await asyncio.wait_for(waiter, 1.0)
            receiver.close()  # idempotent
        finally:
            receiver.close()

    run(scenario())
