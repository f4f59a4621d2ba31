"""DTMF digits sent by the asyncio RTP endpoint: RFC 4733 events in the tone's own stream."""

from __future__ import annotations

import asyncio

from sipcore.aio.rtp import RtpEndpoint
from sipcore.rtp import PCMU
from sipcore.telephone_event import TelephoneEvent

from ..addresses import loopback

IP = loopback(40)


def test_digits_replace_the_tone_in_the_same_stream() -> None:
    async def scenario() -> list[tuple[int, int, int, bool, TelephoneEvent | None]]:
        rx = await RtpEndpoint.open(IP)
        tx = await RtpEndpoint.open(IP)
        try:
            tx.start_sending(rx.local_addr)
            assert await rx.wait_for_packets(3, 2.0)
            tx.send_digits("1#", payload_type=96, duration_ms=100, gap_ms=40)
            for _ in range(200):  # paced in real time: 2 x 7 event packets + gaps, well under 1 s
                if not tx.digits_pending:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)
        finally:
            tx.close()
            rx.close()
        return [(p.payload_type, p.sequence_number, p.timestamp, p.marker,
                 TelephoneEvent.parse(p.payload) if p.payload_type == 96 else None) for p in rx.received]

    packets = asyncio.run(asyncio.wait_for(scenario(), 10.0))
    seqs = [p[1] for p in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:], strict=False))  # one stream, no gap
    events = [p for p in packets if p[4] is not None]
    assert [(p[4].event, p[4].end, p[4].duration) for p in events if p[4] is not None] == [
        (1, False, 160), (1, False, 320), (1, False, 480), (1, False, 640), (1, True, 800), (1, True, 800),
        (1, True, 800),
        (11, False, 160), (11, False, 320), (11, False, 480), (11, False, 640), (11, True, 800), (11, True, 800),
        (11, True, 800)]
    first, second = events[:7], events[7:]
    assert [p[3] for p in first] == [True] + [False] * 6 and [p[3] for p in second] == [True] + [False] * 6
    assert len({p[2] for p in first}) == 1 and len({p[2] for p in second}) == 1  # the event's start
    assert second[0][2] - first[0][2] >= 800  # the second digit starts after the first one's duration
    assert any(p[0] == PCMU for p in packets[packets.index(events[-1]):])  # the tone comes back after
