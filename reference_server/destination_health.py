"""Destinations a 503 with Retry-After (RFC 3261 §21.5.4, §20.33) asked not to be tried for a while: the
server-wide memory :mod:`reference_server.failover` consults before it sends a call to one of a trunk's
destinations. A Retry-After holds a destination down for at most ``MAX_HOLD`` seconds."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from sipcore.message import Response

from .legs import Target
from .sip_util import Addr

__all__ = ["MAX_HOLD", "DestinationHealth", "retry_after"]

MAX_HOLD = 3600.0
"""The longest a Retry-After keeps a destination down (a peer's mistake should not black-hole a trunk)."""
_SECONDS = re.compile(r"\s*(\d{1,10})")


def retry_after(response: Response) -> float | None:
    """The seconds of the response's Retry-After (``120``, ``120;duration=60``, ``120 (comment)``)."""
    value = response.headers.get("Retry-After")
    match = _SECONDS.match(value) if value is not None else None
    return None if match is None else float(match.group(1))


class DestinationHealth:
    """Destinations (transport addresses) that asked, with a 503 and Retry-After, not to be tried until
    then; shared by every call of a server."""

    def __init__(self) -> None:
        self._until: dict[Addr, float] = {}
        self.publish: Callable[[Addr, float], None] | None = None
        """Set by a worker of a multi-worker server: tells the other workers (reference_server.shared_state)."""

    def note(self, addr: Addr, response: Response, now: float) -> float | None:
        """Remember a 503's Retry-After for ``addr``; the seconds it holds it down (None: not held)."""
        seconds = retry_after(response) if response.status == 503 else None
        if not seconds:
            return None
        seconds = min(seconds, MAX_HOLD)
        self._until[addr] = now + seconds
        if self.publish is not None:
            self.publish(addr, now + seconds)
        return seconds

    def hold_until(self, addr: Addr, until: float) -> None:
        """Another worker's 503: ``addr`` is down until ``until`` (the machine's monotonic clock)."""
        self._until[addr] = max(until, self._until.get(addr, 0.0))

    def down_for(self, addr: Addr, now: float) -> float:
        """Seconds ``addr`` stays down (0: it may be tried)."""
        until = self._until.get(addr)
        if until is None:
            return 0.0
        if until <= now:
            del self._until[addr]
            return 0.0
        return until - now

    def available(self, targets: Sequence[Target], now: float) -> tuple[list[Target], float]:
        """The targets not down, in order, and (when none is left) the shortest time until one is."""
        up = [t for t in targets if not self.down_for(t.addr, now)]
        wait = 0.0 if up or not targets else min(self.down_for(t.addr, now) for t in targets)
        return up, wait
