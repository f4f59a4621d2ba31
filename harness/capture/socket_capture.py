"""Capture without a raw socket: what trunkcheck's own sockets send and receive, written as a pcap.

When this process may not open a packet socket (no root, no CAP_NET_RAW), `trunkcheck run --capture
sockets` (or `auto`) taps the sockets of the scenario's event loop instead (sipcore.aio.tap): the SIP and
RTP every simulated agent (UA, second UA, carrier, destination) and the embedded reference server (its SIP
and its RTP relay) send and receive, with both addresses and the time, framed like a raw capture on
loopback (harness.capture.pcap_writer), so tshark decodes the pcap as any other.

- A datagram between two of trunkcheck's own sockets is reported twice, by its sender and by its receiver:
  whichever report comes second is dropped, so each datagram is in the pcap once. A datagram to or from a
  socket that is not trunkcheck's (equipment under test, SIPp) is reported once and kept.
- What never reaches trunkcheck's sockets is not in the pcap: packets between equipment under test and a
  peer that is not trunkcheck, and what the kernel dropped before a socket read it. `SEES` and
  `CANNOT_SEE` say so in the reports.
- TCP is not written: a scenario whose SIP went over TCP fails at its first assertion with a CaptureError
  saying it needs raw capture, never a pass on a partial pcap.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from harness.capture.pcap_writer import PcapWriter
from harness.capture.sniffer import CaptureError
from sipcore.aio.tap import set_tap

__all__ = ["CANNOT_SEE", "SEES", "SocketCapture"]

Addr = tuple[str, int]
SEES = ("what trunkcheck's own sockets sent and received: its UAs, destination and carrier, and the embedded "
        "reference trunk's SIP and RTP relay")
CANNOT_SEE = ("packets that never reach trunkcheck's sockets (between equipment under test and a peer that is not "
              "trunkcheck, or dropped before a socket read them), and SIP over TCP (needs raw capture)")
_Key = tuple[Addr, Addr, int, int]  # src, dst, length, hash of the payload


class SocketCapture:
    """Same life as `harness.capture.sniffer.Capture` (start, stop, packet_count), fed by a tap on `loop`."""

    def __init__(self, path: str | os.PathLike[str], loop: asyncio.AbstractEventLoop,
                 addresses: Iterable[str] | None = None) -> None:
        self.path = Path(path)
        self.loop = loop
        self.addresses = {ipaddress.ip_address(a) for a in addresses or ()}
        self.packet_count = 0  # datagrams kept (after de-duplication)
        self.duplicates = 0  # second reports of a datagram between two of trunkcheck's sockets
        self.dropped = 0  # for parity with Capture: a tap drops nothing
        self.tcp: list[tuple[Addr, Addr]] = []  # TCP connections seen (not written)
        self._frames: list[tuple[float, int, Addr, Addr, bytes]] = []
        self._unmatched: dict[bool, Counter[_Key]] = {True: Counter(), False: Counter()}
        self._lock = threading.Lock()
        self._running = False

    def __enter__(self) -> SocketCapture:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop(raise_errors=exc is None)

    def start(self) -> SocketCapture:
        if self._running:
            raise CaptureError(f"capture to {self.path} already started")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._running = True
        set_tap(self.loop, self)
        return self

    def stop(self, *, raise_errors: bool = True) -> int:
        """Remove the tap and write the pcap (frames in time order); returns the number written. A
        CaptureError when TCP was seen (unless `raise_errors` is false)."""
        if not self._running:
            return self.packet_count
        self._running = False
        set_tap(self.loop, None)
        with self._lock:
            frames = sorted(self._frames, key=lambda f: (f[0], f[1]))
            self._frames = []
        with PcapWriter(self.path) as pcap:
            for at, _, src, dst, data in frames:
                pcap.udp(src, dst, data, at)
        if self.tcp and raise_errors:
            conns = ", ".join(f"{s[0]}:{s[1]} -> {d[0]}:{d[1]}" for s, d in self.tcp[:3])
            raise CaptureError(
                f"SIP went over TCP ({conns}): capture from trunkcheck's sockets writes UDP only, so {self.path} "
                "misses it; run this scenario with raw capture (--capture raw, as root or with CAP_NET_RAW)")
        return self.packet_count

    # -- sipcore.aio.tap.Tap ---------------------------------------------------------------------------
    def _ours(self, src: Addr, dst: Addr) -> bool:
        try:  # a name, not an address, cannot be framed (the sockets send to addresses)
            ends = (ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0]))
        except ValueError:
            return False
        return not self.addresses or any(ip in self.addresses for ip in ends)

    def datagram(self, src: Addr, dst: Addr, data: bytes, *, sent: bool, at: float) -> None:
        if not self._ours(src, dst):
            return
        key: _Key = (src, dst, len(data), hash(data))
        with self._lock:
            other = self._unmatched[not sent]
            if other[key]:  # the other end already reported this datagram
                other[key] -= 1
                if not other[key]:
                    del other[key]
                self.duplicates += 1
                return
            self._unmatched[sent][key] += 1
            self._frames.append((at, self.packet_count, src, dst, data))
            self.packet_count += 1

    def stream(self, src: Addr, dst: Addr, data: bytes, *, sent: bool, at: float) -> None:
        if not self._ours(src, dst):
            return
        with self._lock:
            conn = (src, dst) if sent else (dst, src)
            if conn not in self.tcp and (conn[1], conn[0]) not in self.tcp:
                self.tcp.append(conn)
