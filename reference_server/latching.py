"""Where one side of the media relay sends: symmetric latching (RFC 4961) that a stranger cannot hijack.

A far end behind NAT announces an address in its SDP that nobody outside can reach (c=10.0.0.5) and sends
its RTP from another (the NAT's public address and port). A relay that sends to the SDP address gives
one-way audio; a relay that follows every new source is open to the "RTP Bleed" attack (a stranger sends a
few packets to the relay's port and receives the call's audio from then on). The policy here, per relay
side and per stream (RTP and RTCP each have one), in the spirit of what SBCs call "restricted latching":

- Until a source is latched, the side sends to the SDP address.
- Announced sources: the SDP address's IP and the IPs the call's signalling came from on that leg
  (``peer_ips``: the caller's SIP source, the destination's address); with neither known, every source is.
  So are 127.0.0.1 and ::1: the source the kernel gives an unbound socket sending over loopback, which
  only a process on the relay's own host can send from (Linux drops 127/8 sources arriving on any other
  interface).
- The exact SDP address latches at its first packet. Any other source on an announced IP latches once it
  has sent ``CONFIRM_PACKETS`` packets in a row with one SSRC (a stray packet latches nothing); the packets
  before that are held back (counted as ``learning``), not relayed.
- A source on an unannounced IP (a host whose RTP leaves by another route than its SIP: baresip with
  c=10.200.0.1 sending from 127.0.0.1) latches only if it keeps one SSRC for ``FOREIGN_HOLD_SECONDS``
  while nothing at all arrives from an announced IP; its packets are held back meanwhile. Once anything
  from an announced IP arrives, unannounced sources are strangers; within the window an announced source
  displaces an unannounced one already latched.
- Learning is early only: it ends ``WINDOW_SECONDS`` after the first packet from an allowed source, or
  once ``WINDOW_PACKETS`` packets from allowed sources have been held back. Within it, the exact SDP address still displaces a source latched
  before it (the SDP is preferred when packets do arrive from it). After it nothing re-latches, except the
  exact SDP address while nothing is latched.
- Once latched, packets from any other source are dropped and counted (``rejected_source``); the first
  ``LOGGED_STRANGERS`` such sources are logged, one line each. A new SSRC from the latched source is
  relayed: a new stream of the same peer (after a re-INVITE, a restarted sender).
- A new SDP naming another address (a re-INVITE moving the media) starts learning over; one naming the
  same address (a session refresh) keeps the latch. Hold (port 0, c=0.0.0.0) clears the remote.

Sans-IO: time is a parameter (``now``), no sockets; :mod:`reference_server.rtp_relay` asks ``admit`` for
every packet.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
from collections.abc import Iterable

Addr = tuple[str, int]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address | str

__all__ = ["CONFIRM_PACKETS", "FOREIGN_HOLD_SECONDS", "LOGGED_STRANGERS", "WINDOW_PACKETS", "WINDOW_SECONDS", "Latch", "Verdict",
           "ip_of", "is_unspecified"]

CONFIRM_PACKETS = 2
FOREIGN_HOLD_SECONDS = 0.5  # 25 packets at 20 ms: fewer than WINDOW_PACKETS
WINDOW_SECONDS = 3.0
WINDOW_PACKETS = 50
LOGGED_STRANGERS = 8
_MAX_CANDIDATES = 8  # sources being confirmed at once; more are strangers


@functools.lru_cache(maxsize=1024)
def ip_of(text: str) -> IP:
    """An IP address for comparison (the text itself when it is a name); remembered, since every relayed
    packet's source is compared."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return text


_UNSPECIFIED = (ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::"))
_THIS_HOST = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@functools.lru_cache(maxsize=1024)
def is_unspecified(text: str) -> bool:
    """Whether ``text`` is 0.0.0.0 or :: however written (SDP's hold address); remembered, as ip_of."""
    return ip_of(text) in _UNSPECIFIED


class Verdict(enum.Enum):
    RELAY = "relay"  # from the latched source (or latching it now): relay it
    LEARNING = "learning"  # an allowed source not confirmed yet: held back
    STRANGER = "stranger"  # anyone else: dropped


class Latch:
    """One relay side's far-end address: from SDP, corrected by the first packets (module docstring)."""

    def __init__(self) -> None:
        self.sdp: Addr | None = None  # the address the far end's SDP named
        self.remote: Addr | None = None  # where the side sends: the SDP address until a source latches
        self.latched = False
        self.foreign = False  # latched to a source on an unannounced IP
        self.peer_ips: frozenset[IP] = frozenset()
        self._window_end: float | None = None  # set by the first allowed packet
        self._window_packets = 0
        self._announced_seen = False  # a packet from an announced IP arrived while learning
        self._candidates: dict[Addr, tuple[int, int, float]] = {}  # source -> (SSRC, packets in a row, since)
        self._logged: set[Addr] = set()

    def set_peers(self, ips: Iterable[str]) -> None:
        """The IPs this leg's signalling uses: sources on them may latch although the SDP names another."""
        self.peer_ips = frozenset(ip_of(ip) for ip in ips)

    def set_sdp(self, addr: Addr | None) -> None:
        """The far end's address from its SDP; None, port 0 or an unspecified IP (hold) clears the remote."""
        if addr is None or addr[1] == 0 or is_unspecified(addr[0]):
            self.sdp = self.remote = None
            self._restart()
            return
        addr = (addr[0], int(addr[1]))
        if self.latched and addr == self.sdp:
            return  # the same SDP again (a session refresh): the latch stands
        self.sdp = self.remote = addr
        self._restart()

    def _restart(self) -> None:
        self.latched = self.foreign = self._announced_seen = False
        self._window_end = None
        self._window_packets = 0
        self._candidates.clear()

    def _allowed(self, ip: str) -> bool:
        sdp_ip = ip_of(self.sdp[0]) if self.sdp is not None else None
        if sdp_ip is None and not self.peer_ips:
            return True
        source = ip_of(ip)
        return source == sdp_ip or source in self.peer_ips or source in _THIS_HOST

    def admit(self, src: Addr, ssrc: int, now: float) -> Verdict:
        """What to do with a packet from ``src`` carrying ``ssrc``, arriving at ``now``."""
        if self.latched and src == self.remote:
            return Verdict.RELAY
        if src == self.sdp and (not self.latched or self._in_window(now)):
            self._latch(src)  # the SDP address: at once, and it displaces an early latch
            return Verdict.RELAY
        announced = self._allowed(src[0])
        if self.latched and not (self.foreign and announced and self._in_window(now)):
            return Verdict.STRANGER
        if self._window_end is None:
            self._window_end = now + WINDOW_SECONDS
        elif not self._in_window(now):
            return Verdict.STRANGER
        if announced:
            self._announced_seen = True
        elif self._announced_seen:
            return Verdict.STRANGER
        self._window_packets += 1
        previous = self._candidates.get(src)
        if previous is None and len(self._candidates) >= _MAX_CANDIDATES:
            return Verdict.STRANGER
        same = previous is not None and previous[0] == ssrc
        count, since = (previous[1] + 1, previous[2]) if previous is not None and same else (1, now)
        self._candidates[src] = (ssrc, count, since)
        if count >= CONFIRM_PACKETS and (announced or now - since >= FOREIGN_HOLD_SECONDS):
            self._latch(src)
            self.foreign = not announced
            return Verdict.RELAY
        return Verdict.LEARNING

    def _in_window(self, now: float) -> bool:
        end = self._window_end
        return end is None or (now <= end and self._window_packets < WINDOW_PACKETS)

    def _latch(self, src: Addr) -> None:
        self.remote = src
        self.latched, self.foreign = True, False
        self._candidates.clear()
        if self._window_end is None:
            self._window_end = -1.0  # latched on the SDP address before any learning: the window is over

    def log_stranger(self, src: Addr) -> str | None:
        """The log line's tail for a dropped stranger's packet: for the first packet of each of the first
        ``LOGGED_STRANGERS`` sources only (later ones are only counted); None otherwise."""
        if src in self._logged or len(self._logged) >= LOGGED_STRANGERS:
            return None
        self._logged.add(src)
        latched = f"latched to {self.remote[0]}:{self.remote[1]}" if self.latched and self.remote else "not latched"
        more = "; further stranger sources are not logged" if len(self._logged) == LOGGED_STRANGERS else ""
        return f"{latched}{more}"
