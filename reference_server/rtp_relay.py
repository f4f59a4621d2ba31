"""The trunk's media relay: the B2BUA anchors each call's RTP on two sockets of its own.

Side A faces the caller (the UA), side B the destination. A packet arriving on side A is sent from side B
to the B remote, and the other way round, so each far end sees one address for the trunk. The remotes
come from SDP (``set_a_remote`` / ``set_b_remote``) and are corrected by symmetric latching (RFC 4961):
a caller behind NAT is sent its media where its RTP really comes from. Who may latch, when, and what a
stranger's packets get is :mod:`reference_server.latching` (restricted to the SDP's IP and the leg's
signalling IPs, ``set_signalling_peers``; early in the stream only; never re-latched mid-call).

Ports come from a :class:`PortAllocator`: even ports for RTP and the next odd one for RTCP
(RFC 3550 §11), relayed the same way, its remote defaulting to the RTP port + 1. The relays of the calls in
progress, and the pool of finished calls' sockets, are :mod:`reference_server.relay_registry`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from sipcore.aio.clock import LOOP_CLOCK, Clock
from sipcore.aio.tap import report_datagram

from .latching import Latch, Verdict
from .relay_ports import NoPortsAvailable, PortAllocator, PortPair

log = logging.getLogger(__name__)

Addr = tuple[str, int]
Transform = Callable[[bytes], bytes | None]
"""A packet arriving on one side, as it leaves the other (decrypted and re-encrypted for SRTP legs); None
drops it. See :meth:`MediaRelay.set_transforms`."""

__all__ = ["DirectionStats", "MediaRelay", "NoPortsAvailable", "ParkedRelay", "PortAllocator", "PortPair",
           "Transform", "is_rtcp", "is_rtp"]


# --- one direction's counters ---

@dataclass
class DirectionStats:
    """Datagrams arriving on one side, i.e. flowing in one direction.

    ``packets``/``bytes`` were forwarded; ``first_packet_time`` and ``first_packet_wall`` stamp the first
    forwarded one (the relay clock's ``time()`` and ``wall()``: by default loop.time() and time.time()).
    Dropped: ``dropped_no_remote`` (the other side's remote unknown yet), ``rejected_source`` (a stranger:
    not the latched source, not allowed to latch), ``learning`` (a source not yet confirmed by a second
    packet of its SSRC; :mod:`reference_server.latching`), ``malformed`` (not RTP/RTCP version 2),
    ``held`` (RTP the SDP directions say must not flow this way: :meth:`MediaRelay.set_directions`),
    ``not_authentic`` (refused by the side's transform: SRTP that does not authenticate).
    """

    packets: int = 0
    bytes: int = 0
    first_packet_time: float | None = None
    first_packet_wall: float | None = None
    dropped_no_remote: int = 0
    rejected_source: int = 0
    learning: int = 0
    malformed: int = 0
    held: int = 0
    not_authentic: int = 0


def is_rtp(data: bytes) -> bool:
    """At least the 12-byte fixed header with version 2 (RFC 3550 §5.1)."""
    return len(data) >= 12 and data[0] >> 6 == 2


def is_rtcp(data: bytes) -> bool:
    """At least a header and SSRC (8 bytes), version 2, packet type 192..223 (RFC 5761 §4)."""
    return len(data) >= 8 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


class _Side(asyncio.DatagramProtocol):
    """One relay socket: accepts from its far end, forwards through its peer side."""

    def __init__(self, name: str, sock: socket.socket, port: int, validate: Callable[[bytes], bool],
                 ssrc_at: int, clock: Clock, local: tuple[str, int] | None = None) -> None:
        self.name = name
        self.clock = clock
        self.sock = sock
        self.port = port  # the port ``sock`` is bound to
        # what a tap (sipcore.aio.tap) reports: getsockname(), unless known (parked sockets)
        self.local: tuple[str, int] = sock.getsockname()[:2] if local is None else local
        self.validate = validate
        self.ssrc_at = ssrc_at  # where the sender's SSRC is: 8 in RTP, 4 in RTCP
        self.stats = DirectionStats()
        self.peer: _Side | None = None
        self.transform: Transform | None = None  # what a packet becomes before it leaves (SRTP), None: as is
        self.transport: asyncio.DatagramTransport | None = None
        self.latch = Latch()
        self.closed = False
        self.forwarding = True  # False: the SDP directions stop this direction (a call on hold)

    @property
    def remote(self) -> Addr | None:
        """Where this side sends: the SDP address, or the source latched (reference_server.latching)."""
        return self.latch.remote

    def set_remote(self, addr: Addr | None) -> None:
        """The far end's address from SDP; None, port 0 or an unspecified IP (hold) clears the remote."""
        self.latch.set_sdp(addr)

    def _admit(self, src: Addr, data: bytes) -> bool:
        """Whether the latch lets this packet through; a stranger's is counted (and logged, bounded)."""
        ssrc = int.from_bytes(data[self.ssrc_at:self.ssrc_at + 4], "big")
        verdict = self.latch.admit(src, ssrc, self.clock.time())
        if verdict is Verdict.RELAY:
            return True
        if verdict is Verdict.LEARNING:
            self.stats.learning += 1
            return False
        self.stats.rejected_source += 1
        why = self.latch.log_stranger(src)
        if why is not None:
            log.info("relay side %s port %d: dropping packets from %s:%d (%s)", self.name, self.port, *src, why)
        return False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: Python 3.11's selector datagram transport does not subclass DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if self.closed:
            return
        report_datagram(self.local, addr, data, sent=False)
        src = (str(addr[0]), int(addr[1]))
        stats = self.stats
        if not self.validate(data):
            stats.malformed += 1
            return
        latch = self.latch
        if not (latch.latched and src == latch.remote) and not self._admit(src, data):
            return
        if not self.forwarding:
            stats.held += 1
            return
        peer = self.peer
        if peer is None or peer.remote is None or peer.transport is None or peer.transport.is_closing():
            stats.dropped_no_remote += 1
            return
        if self.transform is not None:
            out = self.transform(data)
            if out is None:
                stats.not_authentic += 1
                return
            data = out
        try:
            peer.transport.sendto(data, peer.remote)
            report_datagram(peer.local, peer.remote, data, sent=True)
        except (OSError, ValueError, TypeError) as exc:  # a bad remote must not take the relay down
            log.info("relay side %s port %d cannot send to %s: %s", peer.name, peer.port, peer.remote, exc)
            stats.dropped_no_remote += 1
            return
        stats.packets += 1
        stats.bytes += len(data)
        if stats.first_packet_time is None:
            stats.first_packet_time = self.clock.time()
            stats.first_packet_wall = self.clock.wall()

    def error_received(self, exc: Exception) -> None:
        log.debug("relay side %s port %d: %s", self.name, self.port, exc)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=self.sock)

    def close(self) -> None:
        self.closed = True
        self.peer = None  # a closed side forwards nothing; no A <-> B cycle left for the cyclic GC
        if self.transport is not None:
            self.transport.close()
        else:
            self.sock.close()


def _pair(a: _Side, b: _Side) -> None:
    a.peer, b.peer = b, a


# --- the relay ---

class MediaRelay:
    """One call's relay: side A (caller) and side B (destination), RTP and optionally RTCP."""

    def __init__(self, allocator: PortAllocator, a: PortPair, b: PortPair, host: str | None = None, *,
                 clock: Clock = LOOP_CLOCK, locals_: Sequence[tuple[str, int] | None] = (None,) * 4) -> None:
        """``host``: the address side A is bound to, as getsockname() gives it (asked when not given);
        ``clock`` stamps the first packets; ``locals_``: the sockets' addresses (A RTP, B RTP, A RTCP,
        B RTCP) when known, each asked of its socket otherwise."""
        self._allocator = allocator
        self._ports = (a.port, b.port)
        self._a = _Side("A", a.rtp, a.port, is_rtp, 8, clock, locals_[0])
        self._b = _Side("B", b.rtp, b.port, is_rtp, 8, clock, locals_[1])
        _pair(self._a, self._b)
        self._a_rtcp = (_Side("A-RTCP", a.rtcp, a.port + 1, is_rtcp, 4, clock, locals_[2])
                        if a.rtcp is not None else None)
        self._b_rtcp = (_Side("B-RTCP", b.rtcp, b.port + 1, is_rtcp, 4, clock, locals_[3])
                        if b.rtcp is not None else None)
        if self._a_rtcp is not None and self._b_rtcp is not None:
            _pair(self._a_rtcp, self._b_rtcp)
        self._all_sides = tuple(s for s in (self._a, self._b, self._a_rtcp, self._b_rtcp) if s is not None)
        self._host = relay_host(a.rtp) if host is None else host
        self.closed = False

    @classmethod
    async def open(cls, allocator: PortAllocator, host: str | None = None, *, rtcp: bool = True,
                   clock: Clock = LOOP_CLOCK) -> MediaRelay:
        """Bind side A and side B (on ``host``, default the allocator's) and start relaying."""
        a = allocator.allocate(host, rtcp=rtcp)
        try:
            b = allocator.allocate(host, rtcp=rtcp)
        except BaseException:
            for sock in (a.rtp, a.rtcp):
                if sock is not None:
                    sock.close()
            allocator.release(a.port)
            raise
        relay = cls(allocator, a, b, clock=clock)
        try:
            for side in relay._sides():
                await side.start()
        except BaseException:
            relay.close()
            raise
        return relay

    def _sides(self) -> tuple[_Side, ...]:
        return self._all_sides

    @property
    def host(self) -> str:
        return self._host if not self.closed else ""

    @property
    def a_port(self) -> int:
        return self._a.port

    @property
    def b_port(self) -> int:
        return self._b.port

    @property
    def a_remote(self) -> Addr | None:
        """Where side A sends (the caller's RTP address, latched or from SDP)."""
        return self._a.remote

    @property
    def b_remote(self) -> Addr | None:
        return self._b.remote

    @property
    def a_to_b(self) -> DirectionStats:
        """RTP from the caller towards the destination (arriving on side A)."""
        return self._a.stats

    @property
    def b_to_a(self) -> DirectionStats:
        return self._b.stats

    @property
    def rtcp_a_to_b(self) -> DirectionStats | None:
        return self._a_rtcp.stats if self._a_rtcp is not None else None

    @property
    def rtcp_b_to_a(self) -> DirectionStats | None:
        return self._b_rtcp.stats if self._b_rtcp is not None else None

    def set_signalling_peers(self, a: Iterable[str], b: Iterable[str]) -> None:
        """The IPs each leg's SIP comes from or goes to (the caller's source; the destination's addresses):
        media from them may latch although the SDP names another IP (a far end behind NAT)."""
        a, b = list(a), list(b)
        for side in self._all_sides:
            side.latch.set_peers(a if side.name.startswith("A") else b)

    def drop_b_to_a(self) -> None:
        """Relay nothing from the destination to the caller (the test-only fault ``one-way-media``): side B
        forwards nothing, its packets count as ``dropped_no_remote``."""
        self._b.peer = None
        if self._b_rtcp is not None:
            self._b_rtcp.peer = None

    def set_directions(self, a_to_b: bool, b_to_a: bool) -> None:
        """Which ways RTP may flow, as the two sides' SDP directions say (reference_server.media): RTP
        arriving for a closed direction is counted as ``held`` and not forwarded. RTCP always flows (RFC 3264
        §5.1: RTCP is still sent on a sendonly, recvonly or inactive stream)."""
        self._a.forwarding, self._b.forwarding = a_to_b, b_to_a

    @property
    def directions(self) -> tuple[bool, bool]:
        """(A -> B open, B -> A open)."""
        return self._a.forwarding, self._b.forwarding

    def set_a_remote(self, addr: Addr | None, rtcp: Addr | None = None) -> None:
        """The caller's RTP address from its SDP; RTCP defaults to its port + 1 (RFC 3550 §11)."""
        self._set_remote(self._a, self._a_rtcp, addr, rtcp)

    def set_b_remote(self, addr: Addr | None, rtcp: Addr | None = None) -> None:
        """The destination's RTP address from its SDP; RTCP defaults to its port + 1."""
        self._set_remote(self._b, self._b_rtcp, addr, rtcp)

    @staticmethod
    def _set_remote(side: _Side, rtcp_side: _Side | None, addr: Addr | None, rtcp: Addr | None) -> None:
        side.set_remote(addr)
        if rtcp_side is not None:
            if rtcp is None and addr is not None and addr[1]:
                rtcp = (addr[0], addr[1] + 1)
            rtcp_side.set_remote(rtcp)

    def set_transforms(self, a_to_b: Transform | None, b_to_a: Transform | None, rtcp_a_to_b: Transform | None = None,
                       rtcp_b_to_a: Transform | None = None) -> None:
        """What packets become on their way through (reference_server.srtp_media: SRTP per leg); None
        forwards them untouched."""
        self._a.transform, self._b.transform = a_to_b, b_to_a
        if self._a_rtcp is not None and self._b_rtcp is not None:
            self._a_rtcp.transform, self._b_rtcp.transform = rtcp_a_to_b, rtcp_b_to_a

    def close(self) -> None:
        """Close every socket and give the ports back to the allocator. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for side in self._sides():
            side.close()
        for port in self._ports:
            self._allocator.release(port)

    def park(self, now: float) -> ParkedRelay | None:
        """Stop relaying but keep the sockets bound for a later call (see RelayRegistry): this relay is
        closed from here on and drops what still arrives until its sockets are reused. None (and closed
        as by close()) when a socket is no longer usable."""
        if self.closed:
            return None
        for side in self._all_sides:
            if side.transport is None or side.transport.is_closing():
                self.close()
                return None
        self.closed = True
        for side in self._all_sides:  # each stays its socket's protocol until reused: let it hold nothing
            side.closed = True
            side.peer = None
            side.transform = None  # an SRTP call's keys and libsrtp sessions go now, not at the reuse
        for port in self._ports:
            self._allocator.park(port)
        sides = (self._a, self._b, self._a_rtcp, self._b_rtcp)
        return ParkedRelay(now, self._ports, [s.sock if s is not None else None for s in sides],
                           [s.transport if s is not None else None for s in sides], self._host,
                           [s.local if s is not None else None for s in sides])

    @classmethod
    def unpark(cls, allocator: PortAllocator, parked: ParkedRelay, *, clock: Clock = LOOP_CLOCK) -> MediaRelay:
        """A new relay on a parked relay's sockets: fresh remotes and counters, relaying at once."""
        a_rtp, b_rtp, a_rtcp, b_rtcp = parked.socks
        assert a_rtp is not None and b_rtp is not None
        a_port, b_port = parked.ports
        for port in parked.ports:
            allocator.unpark(port)
        host = parked.host  # both sides are bound on it
        relay = cls(allocator, PortPair(host, a_port, a_rtp, a_rtcp), PortPair(host, b_port, b_rtp, b_rtcp), host,
                    clock=clock, locals_=parked.locals_)
        for side, transport in zip(relay._sides(), (t for t in parked.transports if t is not None), strict=True):
            side.transport = transport
            transport.set_protocol(side)  # the old call's side stops receiving
        return relay


def relay_host(sock: socket.socket) -> str:
    return str(sock.getsockname()[0])


@dataclass
class ParkedRelay:
    """A finished call's relay sockets, bound and read (packets dropped) until a later call takes them."""

    parked_at: float
    ports: tuple[int, int]
    socks: list[socket.socket | None]  # A RTP, B RTP, A RTCP, B RTCP
    transports: list[asyncio.DatagramTransport | None]
    host: str  # where the sockets are bound, as getsockname() gives it
    locals_: list[tuple[str, int] | None]  # each socket's getsockname(), as socks

    def close(self, allocator: PortAllocator) -> None:
        for transport in self.transports:
            if transport is not None:
                transport.close()
        for port in self.ports:
            allocator.release(port)
