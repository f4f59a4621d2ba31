"""Taps: what trunkcheck's own sockets send and receive, for a capture that needs no raw socket.

A tap is installed per event loop; every socket of sipcore.aio (SIP over UDP and TCP, RTP) and the
reference server's RTP relay report each datagram or stream segment to the tap of the loop they run on.
With no tap installed the cost is one dict test per datagram.

    set_tap(loop, tap)                     # tap.datagram(...) / tap.stream(...) from now on
    set_tap(loop, None)                    # removed

Keyed by the loop (not one process-wide slot), so two runs on two loops in one process keep apart.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Tap", "report_datagram", "report_stream", "set_tap", "tap_of"]

Addr = tuple[str, int]


class Tap(Protocol):
    def datagram(self, src: Addr, dst: Addr, data: bytes, *, sent: bool, at: float) -> None:
        """A UDP datagram `src` -> `dst`, seen by its sender (`sent`) or its receiver, at wall time `at`."""

    def stream(self, src: Addr, dst: Addr, data: bytes, *, sent: bool, at: float) -> None:
        """Octets of a TCP connection `src` -> `dst`, as one side wrote or read them."""


_TAPS: dict[asyncio.AbstractEventLoop, Tap] = {}


def set_tap(loop: asyncio.AbstractEventLoop, tap: Tap | None) -> None:
    if tap is None:
        _TAPS.pop(loop, None)
    else:
        _TAPS[loop] = tap


def tap_of(loop: asyncio.AbstractEventLoop | None = None) -> Tap | None:
    if not _TAPS:
        return None
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
    return _TAPS.get(loop)


def _addr(addr: tuple[object, ...]) -> Addr:
    return (str(addr[0]), int(str(addr[1])))


def report_datagram(local: tuple[object, ...], peer: tuple[object, ...], data: bytes, *, sent: bool,
                    loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Hand a datagram to the loop's tap, if any (`local` is this socket's address, `peer` the other end)."""
    if _TAPS:
        _report("datagram", local, peer, data, sent, loop)


def report_stream(local: tuple[object, ...], peer: tuple[object, ...], data: bytes, *, sent: bool,
                  loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Hand octets written to or read from a TCP connection to the loop's tap, if any."""
    if _TAPS:
        _report("stream", local, peer, data, sent, loop)


def _report(kind: str, local: tuple[object, ...], peer: tuple[object, ...], data: bytes, sent: bool,
            loop: asyncio.AbstractEventLoop | None) -> None:
    tap = tap_of(loop)
    if tap is None:
        return
    me, other = _addr(local), _addr(peer)
    src, dst = (me, other) if sent else (other, me)
    seen = tap.datagram if kind == "datagram" else tap.stream
    seen(src, dst, bytes(data), sent=sent, at=time.time())
