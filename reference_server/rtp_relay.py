"""The trunk's media relay: the B2BUA anchors each call's RTP on two sockets of its own.

Side A faces the caller (the UA), side B the destination. A packet arriving on side A is sent from side B
to the B remote, and the other way round, so each far end sees one address for the trunk. The remotes
come from SDP (``set_a_remote`` / ``set_b_remote``) and are corrected by symmetric latching (RFC 4961):
the first packet arriving on a side sets that side's remote to its real source, which is what a caller
behind NAT needs. Only the IP the SDP named (or, without SDP, the first latched IP) may latch or send, so
a stranger cannot hijack the stream.

Ports come from a :class:`PortAllocator`: even ports for RTP and the next odd one for RTCP
(RFC 3550 §11), relayed the same way, its remote defaulting to the RTP port + 1.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

log = logging.getLogger(__name__)

Addr = tuple[str, int]


class NoPortsAvailable(RuntimeError):
    """Every RTP port pair in the allocator's range is in use or refused by the OS."""


# --- ports ---

@dataclass
class PortPair:
    """An even RTP port bound on ``host``, with its RTCP socket on port + 1 when asked for."""

    host: str
    port: int
    rtp: socket.socket
    rtcp: socket.socket | None


def _bind_udp(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class PortAllocator:
    """Hands out RTP/RTCP port pairs (even, even + 1) within ``port_min..port_max`` (inclusive).

    It binds the sockets itself, so a port another process holds is skipped rather than handed out. The
    search resumes after the last port handed out, so a released port is not reused at once (late packets
    of an ended call do not land in the next one).
    """

    def __init__(self, host: str, port_min: int, port_max: int) -> None:
        if not 1 <= port_min <= port_max <= 65535:
            raise ValueError(f"RTP port range {port_min}-{port_max} is not within 1-65535 in order")
        first = port_min + port_min % 2
        self._candidates = range(first, port_max, 2)  # p + 1 <= port_max for every p
        if not self._candidates:
            raise ValueError(f"RTP port range {port_min}-{port_max} holds no even RTP port with its odd "
                             "RTCP port")
        self.host = host
        self.port_min = port_min
        self.port_max = port_max
        self._cursor = 0
        self._in_use: set[int] = set()

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    @property
    def capacity(self) -> int:
        return len(self._candidates)

    def allocate(self, host: str | None = None, *, rtcp: bool = True) -> PortPair:
        """Bind the next free pair on ``host`` (default: the allocator's); raises NoPortsAvailable."""
        host = host or self.host
        total = len(self._candidates)
        refused = 0
        for i in range(total):
            port = self._candidates[(self._cursor + i) % total]
            if port in self._in_use:
                continue
            try:
                rtp_sock = _bind_udp(host, port)
            except OSError as exc:
                log.debug("RTP port %s:%d refused: %s", host, port, exc)
                refused += 1
                continue
            rtcp_sock: socket.socket | None = None
            if rtcp:
                try:
                    rtcp_sock = _bind_udp(host, port + 1)
                except OSError as exc:
                    rtp_sock.close()
                    log.debug("RTCP port %s:%d refused: %s", host, port + 1, exc)
                    refused += 1
                    continue
            self._cursor = (self._cursor + i + 1) % total
            self._in_use.add(port)
            return PortPair(host, port, rtp_sock, rtcp_sock)
        raise NoPortsAvailable(f"no free RTP port pair on {host} in {self.port_min}-{self.port_max}: "
                               f"{len(self._in_use)} in use by calls, {refused} refused by the OS")

    def release(self, port: int) -> None:
        if port not in self._in_use:
            raise ValueError(f"RTP port {port} is not allocated from {self.host} "
                             f"{self.port_min}-{self.port_max}")
        self._in_use.discard(port)


# --- one direction's counters ---

@dataclass
class DirectionStats:
    """Datagrams arriving on one side, i.e. flowing in one direction.

    ``packets``/``bytes`` were forwarded; ``first_packet_time`` (loop.time()) and ``first_packet_wall``
    (time.time()) stamp the first forwarded one. Dropped: ``dropped_no_remote`` (the other side's remote
    unknown yet), ``rejected_source`` (from an IP other than the expected one), ``malformed`` (not RTP/RTCP
    version 2).
    """

    packets: int = 0
    bytes: int = 0
    first_packet_time: float | None = None
    first_packet_wall: float | None = None
    dropped_no_remote: int = 0
    rejected_source: int = 0
    malformed: int = 0


def is_rtp(data: bytes) -> bool:
    """At least the 12-byte fixed header with version 2 (RFC 3550 §5.1)."""
    return len(data) >= 12 and data[0] >> 6 == 2


def is_rtcp(data: bytes) -> bool:
    """At least a header and SSRC (8 bytes), version 2, packet type 192..223 (RFC 5761 §4)."""
    return len(data) >= 8 and data[0] >> 6 == 2 and 192 <= data[1] <= 223


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | str:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return text


class _Side(asyncio.DatagramProtocol):
    """One relay socket: accepts from its far end, forwards through its peer side."""

    def __init__(self, name: str, sock: socket.socket, validate: Callable[[bytes], bool]) -> None:
        self.name = name
        self.sock = sock
        self.port = int(sock.getsockname()[1])
        self.validate = validate
        self.stats = DirectionStats()
        self.peer: _Side | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: Addr | None = None
        self.expected_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | str | None = None
        self.latched = False
        self.closed = False

    def set_remote(self, addr: Addr | None) -> None:
        """The far end's address from SDP; None, port 0 or an unspecified IP (hold) clears the remote.
        Latching starts over: the next packet from the expected IP sets the real source."""
        self.latched = False
        if addr is None or addr[1] == 0 or _ip(addr[0]) in (ipaddress.ip_address("0.0.0.0"),
                                                           ipaddress.ip_address("::")):
            self.remote = None
            return
        self.remote = (addr[0], int(addr[1]))
        self.expected_ip = _ip(addr[0])

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # cast, not isinstance: Python 3.11's selector datagram transport does not subclass DatagramTransport
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if self.closed:
            return
        src = (str(addr[0]), int(addr[1]))
        stats = self.stats
        if not self.validate(data):
            stats.malformed += 1
            return
        allowed = self.expected_ip
        if allowed is None and self.latched and self.remote is not None:
            allowed = _ip(self.remote[0])
        if allowed is not None and _ip(src[0]) != allowed:
            stats.rejected_source += 1
            return
        if not self.latched:
            if self.remote != src:
                log.debug("relay side %s port %d latched to %s:%d (was %s)", self.name, self.port, *src,
                          self.remote)
            self.remote = src
            self.latched = True
        peer = self.peer
        if peer is None or peer.remote is None or peer.transport is None or peer.transport.is_closing():
            stats.dropped_no_remote += 1
            return
        try:
            peer.transport.sendto(data, peer.remote)
        except (OSError, ValueError, TypeError) as exc:  # a bad remote must not take the relay down
            log.info("relay side %s port %d cannot send to %s: %s", peer.name, peer.port, peer.remote, exc)
            stats.dropped_no_remote += 1
            return
        stats.packets += 1
        stats.bytes += len(data)
        if stats.first_packet_time is None:
            stats.first_packet_time = asyncio.get_running_loop().time()
            stats.first_packet_wall = time.time()

    def error_received(self, exc: Exception) -> None:
        log.debug("relay side %s port %d: %s", self.name, self.port, exc)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, sock=self.sock)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        else:
            self.sock.close()


def _pair(a: _Side, b: _Side) -> None:
    a.peer, b.peer = b, a


# --- the relay ---

class MediaRelay:
    """One call's relay: side A (caller) and side B (destination), RTP and optionally RTCP."""

    def __init__(self, allocator: PortAllocator, a: PortPair, b: PortPair) -> None:
        self._allocator = allocator
        self._ports = (a.port, b.port)
        self._a = _Side("A", a.rtp, is_rtp)
        self._b = _Side("B", b.rtp, is_rtp)
        _pair(self._a, self._b)
        self._a_rtcp = _Side("A-RTCP", a.rtcp, is_rtcp) if a.rtcp is not None else None
        self._b_rtcp = _Side("B-RTCP", b.rtcp, is_rtcp) if b.rtcp is not None else None
        if self._a_rtcp is not None and self._b_rtcp is not None:
            _pair(self._a_rtcp, self._b_rtcp)
        self.closed = False

    @classmethod
    async def open(cls, allocator: PortAllocator, host: str | None = None, *, rtcp: bool = True) -> MediaRelay:
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
        relay = cls(allocator, a, b)
        try:
            for side in relay._sides():
                await side.start()
        except BaseException:
            relay.close()
            raise
        return relay

    def _sides(self) -> list[_Side]:
        return [s for s in (self._a, self._b, self._a_rtcp, self._b_rtcp) if s is not None]

    @property
    def host(self) -> str:
        return str(self._a.sock.getsockname()[0]) if not self.closed else ""

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

    def close(self) -> None:
        """Close every socket and give the ports back to the allocator. Idempotent."""
        if self.closed:
            return
        self.closed = True
        for side in self._sides():
            side.close()
        for port in self._ports:
            self._allocator.release(port)


class RelayRegistry:
    """The relays of the calls in progress, by Call-ID."""

    def __init__(self, allocator: PortAllocator, host: str | None = None, *, rtcp: bool = True) -> None:
        self.allocator = allocator
        self.host = host
        self.rtcp = rtcp
        self._relays: dict[str, MediaRelay] = {}

    async def open(self, call_id: str) -> MediaRelay:
        """The call's relay, opened on first use."""
        existing = self.get(call_id)
        if existing is not None:
            return existing
        relay = await MediaRelay.open(self.allocator, self.host, rtcp=self.rtcp)
        raced = self.get(call_id)
        if raced is not None:  # opened concurrently for the same call
            relay.close()
            return raced
        self._relays[call_id] = relay
        return relay

    def get(self, call_id: str) -> MediaRelay | None:
        relay = self._relays.get(call_id)
        if relay is not None and relay.closed:
            del self._relays[call_id]
            return None
        return relay

    def close(self, call_id: str) -> bool:
        """Close the call's relay; False when it had none."""
        relay = self._relays.pop(call_id, None)
        if relay is None:
            return False
        relay.close()
        return True

    def close_all(self) -> None:
        for call_id in list(self._relays):
            self.close(call_id)

    @property
    def active(self) -> int:
        """Relays open (a relay closed directly no longer counts)."""
        return sum(1 for relay in self._relays.values() if not relay.closed)

    def __contains__(self, call_id: object) -> bool:
        return isinstance(call_id, str) and self.get(call_id) is not None
