"""RTP port pairs for the media relay: even ports for RTP and the next odd one for RTCP (RFC 3550 §11),
bound by the allocator itself so that a port another process holds is skipped. Used by
:mod:`reference_server.rtp_relay`, which re-exports these names.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass

log = logging.getLogger("reference_server.rtp_relay")

__all__ = ["NoPortsAvailable", "PortAllocator", "PortPair"]


class NoPortsAvailable(RuntimeError):
    """Every RTP port pair in the allocator's range is in use or refused by the OS."""


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
        self._parked: set[int] = set()  # released by their call, sockets kept bound by RelayRegistry's pool

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
            if port in self._in_use or port in self._parked:
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

    def park(self, port: int) -> None:
        """The call gave the pair back but its sockets stay bound, for reuse (no longer counted in use)."""
        self.release(port)
        self._parked.add(port)

    def unpark(self, port: int) -> None:
        """A parked pair is handed to a call again."""
        if port not in self._parked:
            raise ValueError(f"RTP port {port} is not parked on {self.host}")
        self._parked.discard(port)
        self._in_use.add(port)

    def release(self, port: int) -> None:
        if port in self._parked:  # a parked pair's sockets are closed
            self._parked.discard(port)
            return
        if port not in self._in_use:
            raise ValueError(f"RTP port {port} is not allocated from {self.host} "
                             f"{self.port_min}-{self.port_max}")
        self._in_use.discard(port)
