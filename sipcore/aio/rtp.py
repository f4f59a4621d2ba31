"""asyncio RTP endpoint: sends a paced PCMU test tone and records every RTP packet that arrives.

Used by the simulated UA and destination. One UDP socket (RTP only; RTCP is neither sent nor expected).
The sender is paced by the event loop's clock: frame k is due at ``start + k * ptime`` (no accumulated
drift); after a stall it sends the overdue frames back to back, up to MAX_CATCH_UP of them, and beyond
that skips ahead, advancing the RTP timestamp but not the sequence number (RFC 3550 §5.1: a timestamp
jump without a sequence gap reads as silence, not loss). DTMF digits queued with ``send_digits`` go out
as RFC 4733 telephone-events in the tone's place, in the same stream (SSRC, sequence numbers, timestamp
clock): :mod:`sipcore.telephone_event` says which packets. Arrivals are stamped on the endpoint's
:class:`~sipcore.aio.clock.Clock` (the SIP side's, so that they compare with its events; the loop's by
default); the pacing, like any media, runs in real time on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from ..errors import SIPParseError
from ..rtp import PCMU, SAMPLE_RATE, RtpPacket, RtpParseError, RtpStream, pcmu_tone
from ..telephone_event import TelephoneEvent, dtmf_event, event_plan
from .clock import LOOP_CLOCK, Clock
from .tap import report_datagram
from .transport import Addr

log = logging.getLogger(__name__)

MAX_CATCH_UP = 5  # frames sent back to back after a stall before the stream skips ahead


@dataclass(frozen=True)
class _EventSlot:
    """One frame time of a queued digit: a telephone-event packet (``first``: the event's first packet)."""

    event: int
    end: bool
    duration: int
    first: bool
    payload_type: int
    volume: int


@dataclass(frozen=True)
class SentEvent:
    """A telephone-event packet as sent: event code, E bit, duration, RTP timestamp, marker, sequence."""

    event: int
    end: bool
    duration: int
    timestamp: int
    marker: bool
    sequence_number: int
    payload_type: int


@dataclass(frozen=True)
class ReceivedRtp:
    """One RTP packet as it arrived: ``arrival`` is the endpoint clock's ``time()``, ``wall`` its
    ``wall()`` (by default loop.time() and time.time())."""

    arrival: float
    wall: float
    src: Addr
    payload_type: int
    ssrc: int
    sequence_number: int
    timestamp: int
    payload_len: int
    marker: bool = False
    payload: bytes = b""


def _is_rtcp(data: bytes) -> bool:
    """RTCP multiplexed on the RTP port (RFC 5761 §4): packet types 200..204 sit where RTP has M+PT."""
    return len(data) >= 2 and 200 <= data[1] <= 204


class RtpEndpoint(asyncio.DatagramProtocol):
    """One RTP socket: a tone sender (``start_sending``) and a recorder (``received``).

    Datagrams that are not RTP version 2 are counted in ``malformed``; RTCP arriving on the RTP port is
    counted in ``rtcp``; neither is recorded. With ``latch=True`` (symmetric RTP, RFC 4961) the source of
    the first RTP packet becomes the remote while none is set.

    SRTP: ``protect`` (e.g. :meth:`sipcore.srtp.SrtpContext.protect`) turns each packet sent into what goes
    on the wire, ``unprotect`` each one received back into RTP; a packet ``unprotect`` refuses (a
    SIPParseError such as :class:`sipcore.srtp.SrtpError`) is counted in ``not_authentic`` and not recorded.
    """

    def __init__(self, *, latch: bool = False, clock: Clock = LOOP_CLOCK) -> None:
        self.latch = latch
        self.clock = clock
        self.remote: Addr | None = None
        self.local_addr: Addr = ("0.0.0.0", 0)
        self.received: list[ReceivedRtp] = []
        self.first_packet_at: float | None = None
        self.malformed = 0
        self.rtcp = 0
        self.not_authentic = 0
        self.protect: Callable[[bytes], bytes] | None = None
        self.unprotect: Callable[[bytes], bytes] | None = None
        self.packets_sent = 0
        self.stream: RtpStream | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._sender: asyncio.Task[None] | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._closed = False
        self._plan: deque[_EventSlot | None] = deque()  # queued digits, one entry per frame (None: a gap)
        self._event_start = 0  # the RTP timestamp of the event being sent
        self.events_sent: list[SentEvent] = []

    @classmethod
    async def open(cls, host: str, port: int = 0, *, latch: bool = False, clock: Clock = LOOP_CLOCK) -> RtpEndpoint:
        """Bind ``host:port`` (0: any free port); OSError when the address is taken. Arrivals are stamped
        on ``clock``."""
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(lambda: cls(latch=latch, clock=clock),
                                                          local_addr=(host, port))
        return protocol

    # --- asyncio.DatagramProtocol ---

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: Python 3.11's selector datagram transport does not subclass DatagramTransport
        self._transport = cast(asyncio.DatagramTransport, transport)
        sockname = self._transport.get_extra_info("sockname")
        self.local_addr = (str(sockname[0]), int(sockname[1]))

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if self._closed:
            return
        report_datagram(self.local_addr, addr, data, sent=False)
        src = (str(addr[0]), int(addr[1]))
        if _is_rtcp(data) and len(data) >= 8 and data[0] >> 6 == 2:
            self.rtcp += 1
            return
        if self.unprotect is not None:
            try:
                data = self.unprotect(data)
            except SIPParseError as exc:
                self.not_authentic += 1
                log.debug("RTP %s:%d dropped %d bytes from %s:%d: %s", *self.local_addr, len(data), *src, exc)
                return
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError as exc:
            self.malformed += 1
            log.debug("RTP %s:%d dropped %d bytes from %s:%d: %s", *self.local_addr, len(data), *src, exc)
            return
        arrival = self.clock.time()
        if self.first_packet_at is None:
            self.first_packet_at = arrival
        if self.latch and self.remote is None:
            self.remote = src
        self.received.append(ReceivedRtp(
            arrival=arrival, wall=self.clock.wall(), src=src, payload_type=packet.payload_type, ssrc=packet.ssrc,
            sequence_number=packet.sequence_number, timestamp=packet.timestamp,
            payload_len=len(packet.payload), marker=packet.marker, payload=packet.payload))
        for count, future in self._waiters:
            if not future.done() and len(self.received) >= count:
                future.set_result(None)

    def error_received(self, exc: Exception) -> None:
        log.debug("RTP %s:%d: %s", *self.local_addr, exc)

    # --- receiving ---

    async def wait_for_packets(self, count: int, timeout: float) -> bool:
        """True once ``count`` RTP packets have been received in total; False after ``timeout`` seconds
        (or when the endpoint is closed) with fewer."""
        if len(self.received) >= count:
            return True
        if self._closed:
            return False
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (count, future)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.remove(entry)
        return len(self.received) >= count

    # --- sending ---

    def set_remote(self, addr: Addr | None) -> None:
        """Send to ``addr`` from the next frame on (same stream); None pauses sending (no remote)."""
        self.remote = addr

    @property
    def sending(self) -> bool:
        return self._sender is not None and not self._sender.done()

    def start_sending(self, remote: Addr | None = None, payload_type: int = PCMU, freq_hz: float = 1000.0,
                      ptime: float = 0.02, *, rng: random.Random | None = None, ssrc: int | None = None,
                      sequence_number: int | None = None, timestamp: int | None = None,
                      amplitude: int = 8000, count: int | None = None) -> RtpStream:
        """Start a new stream of ``ptime``-long PCMU tone frames (``freq_hz``) to ``remote`` (or the
        current remote; with none, frames are not sent and only the timestamp advances).

        SSRC, initial sequence number and timestamp are drawn from ``rng`` in that order (as
        :meth:`RtpStream.seeded` does), unless given. ``payload_type`` only labels the packets: the
        payload is always µ-law. ``count`` stops after that many packets. Replaces a running stream.
        """
        if self._closed or self._transport is None:
            raise RuntimeError(f"RTP endpoint {self.local_addr[0]}:{self.local_addr[1]} is closed")
        samples = round(ptime * SAMPLE_RATE)
        if samples < 1 or ptime <= 0:
            raise ValueError(f"RTP ptime {ptime} s holds no sample at {SAMPLE_RATE} Hz")
        self.stop_sending()
        if remote is not None:
            self.remote = remote
        rng = rng if rng is not None else random.Random()
        drawn_ssrc, drawn_seq, drawn_ts = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(32)
        stream = RtpStream(
            ssrc=drawn_ssrc if ssrc is None else ssrc, payload_type=payload_type,
            sequence_number=drawn_seq if sequence_number is None else sequence_number,
            timestamp=drawn_ts if timestamp is None else timestamp, samples_per_packet=samples)
        self.stream = stream
        self._sender = asyncio.get_running_loop().create_task(
            self._send_loop(stream, freq_hz, amplitude, ptime, count))
        return stream

    def send_digits(self, digits: str, *, payload_type: int = 101, duration_ms: int = 100, gap_ms: int = 100,
                    volume: int = 10) -> None:
        """Queue DTMF ``digits`` as RFC 4733 events of ``duration_ms`` each, ``gap_ms`` of tone between
        them, with ``payload_type`` (the far end's number for telephone-event/8000). They replace the tone
        from the next frame on; ValueError for a character that is not a DTMF digit."""
        if not self.sending or self.stream is None:
            raise RuntimeError("send_digits needs a running stream: start_sending first")
        step = self.stream.samples_per_packet
        duration = max(step, round(duration_ms * SAMPLE_RATE / 1000))
        gap = max(0, round(gap_ms * SAMPLE_RATE / 1000 / step))
        slots: list[_EventSlot | None] = []
        for digit in digits:
            code = dtmf_event(digit)
            for index, (end, so_far) in enumerate(event_plan(duration, step)):
                slots.append(_EventSlot(code, end, so_far, index == 0, payload_type, volume))
            slots += [None] * gap
        self._plan.extend(slots)

    @property
    def digits_pending(self) -> bool:
        return bool(self._plan)

    def _event_packet(self, stream: RtpStream, slot: _EventSlot) -> bytes:
        """The telephone-event packet for ``slot``: the stream's next sequence number, the event's start as
        its timestamp; the stream's timestamp advances by a frame as for audio."""
        if slot.first:
            self._event_start = stream.timestamp
        payload = TelephoneEvent(slot.event, slot.end, slot.volume, slot.duration).to_bytes()
        packet = RtpPacket(payload_type=slot.payload_type, sequence_number=stream.sequence_number,
                           timestamp=self._event_start, ssrc=stream.ssrc, payload=payload, marker=slot.first)
        self.events_sent.append(SentEvent(slot.event, slot.end, slot.duration, self._event_start, slot.first,
                                          stream.sequence_number, slot.payload_type))
        stream.sequence_number = (stream.sequence_number + 1) & 0xFFFF
        stream.timestamp = (stream.timestamp + stream.samples_per_packet) & 0xFFFFFFFF
        stream.packets_sent += 1
        return packet.serialize()

    def stop_sending(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None

    async def _send_loop(self, stream: RtpStream, freq_hz: float, amplitude: int, ptime: float,
                         count: int | None) -> None:
        loop = asyncio.get_running_loop()
        samples = stream.samples_per_packet
        start = loop.time()
        frame = 0  # index of the next frame since start: fixes both its deadline and the tone's phase
        while count is None or stream.packets_sent < count:
            late = loop.time() - (start + frame * ptime)
            if late < 0:
                await asyncio.sleep(-late)
                continue
            if late > MAX_CATCH_UP * ptime:
                skip = int(late / ptime)
                stream.timestamp = (stream.timestamp + skip * samples) & 0xFFFFFFFF
                frame += skip
                log.debug("RTP %s:%d sender stalled %.3f s, skipped %d frames", *self.local_addr, late, skip)
            slot = self._plan.popleft() if self._plan else None
            frame += 1
            remote = self.remote
            if remote is None or self._transport is None or self._transport.is_closing():
                stream.timestamp = (stream.timestamp + samples) & 0xFFFFFFFF
                continue
            if slot is not None:
                packet = self._event_packet(stream, slot)
            else:
                payload = pcmu_tone(freq_hz, samples, (frame - 1) * samples, amplitude)
                packet = stream.next_packet(payload).serialize()
            if self.protect is not None:
                packet = self.protect(packet)
            self._transport.sendto(packet, remote)
            report_datagram(self.local_addr, remote, packet, sent=True)
            self.packets_sent += 1

    # --- teardown ---

    def close(self) -> None:
        """Stop sending, close the socket and release pending ``wait_for_packets`` calls. Idempotent."""
        self.stop_sending()
        self._plan.clear()
        self._closed = True
        if self._transport is not None:
            self._transport.close()
        for _, future in self._waiters:
            if not future.done():
                future.set_result(None)
