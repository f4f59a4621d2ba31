"""The relays of the calls in progress, by Call-ID, and a pool of finished calls' relay sockets."""

from __future__ import annotations

import resource
from collections import deque

from sipcore.aio.clock import LOOP_CLOCK, Clock

from .relay_ports import NoPortsAvailable, PortAllocator
from .rtp_relay import MediaRelay, ParkedRelay

__all__ = ["RelayRegistry"]


def _default_pool_size() -> int:
    """Parked relays (4 descriptors each) fitting in a quarter of the descriptor limit, at most 1024."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(0, min(1024, soft // 16))


class RelayRegistry:
    """The relays of the calls in progress, by Call-ID.

    Binding, registering and closing four sockets is a large part of what a short call costs, so a closed
    call's relay sockets are parked (up to ``pool_size`` relays; by default as many as a quarter of the
    process's file descriptor limit allows, at most 1024) and handed to a later call once ``reuse_after``
    seconds have passed on ``clock``; until then what arrives on them is dropped, so late packets of an
    ended call do not reach the next one. When the port range (or the descriptors) run out, parked sockets
    are reused sooner. The pool follows the demand: the oldest relay is taken first, so one still parked
    ``max_idle`` seconds (default twice ``reuse_after``) after its call is more than the call rate needs
    and is closed (:meth:`trim`, run on every park and reuse and by the server's housekeeping timer). A
    burst of calls, or a pause of the event loop that bunches them up, would otherwise leave the pool at
    its high water for good: the server's memory and descriptors ratcheting up a step at each burst.
    """

    def __init__(self, allocator: PortAllocator, host: str | None = None, *, rtcp: bool = True,
                 pool_size: int | None = None, reuse_after: float = 2.0, max_idle: float | None = None,
                 clock: Clock = LOOP_CLOCK) -> None:
        self.allocator = allocator
        self.host = host
        self.rtcp = rtcp
        self.pool_size = _default_pool_size() if pool_size is None else pool_size
        self.reuse_after = reuse_after
        self.max_idle = 2 * reuse_after if max_idle is None else max_idle
        self.clock = clock
        self._relays: dict[str, MediaRelay] = {}
        self._parked: deque[ParkedRelay] = deque()

    def trim(self, now: float | None = None) -> int:
        """Close the parked relays idle for more than ``max_idle`` at ``now`` (default: the clock's);
        how many."""
        now = self.clock.time() if now is None else now
        closed = 0
        parked = self._parked
        while parked and now - parked[0].parked_at > self.max_idle:
            parked.popleft().close(self.allocator)
            closed += 1
        return closed

    def _reuse(self, now: float | None) -> MediaRelay | None:
        """A relay on the oldest parked sockets, if parked ``reuse_after`` before ``now`` (None: any)."""
        if now is not None:
            self.trim(now)
        if not self._parked or (now is not None and now - self._parked[0].parked_at < self.reuse_after):
            return None
        return MediaRelay.unpark(self.allocator, self._parked.popleft(), clock=self.clock)

    def open_parked(self, call_id: str) -> MediaRelay | None:
        """The call's relay without waiting: the one it has, else one on parked sockets due for reuse;
        None when new sockets must be bound (``open`` does)."""
        relay = self.get(call_id)
        if relay is None:
            relay = self._reuse(self.clock.time())
            if relay is not None:
                self._relays[call_id] = relay
        return relay

    async def open(self, call_id: str) -> MediaRelay:
        """The call's relay, opened on first use."""
        relay = self.open_parked(call_id)
        if relay is not None:
            return relay
        try:
            relay = await MediaRelay.open(self.allocator, self.host, rtcp=self.rtcp, clock=self.clock)
        except NoPortsAvailable:
            relay = self._reuse(None)
            if relay is None:
                raise
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
        now = self.clock.time()
        parked = relay.park(now) if len(self._parked) < self.pool_size else None
        if parked is not None:
            self._parked.append(parked)
        else:
            relay.close()
        self.trim(now)
        return True

    def close_all(self) -> None:
        """Close every relay and the parked sockets."""
        for call_id in list(self._relays):
            self._relays.pop(call_id).close()
        while self._parked:
            self._parked.popleft().close(self.allocator)

    @property
    def active(self) -> int:
        """Relays open (a relay closed directly no longer counts)."""
        return sum(1 for relay in self._relays.values() if not relay.closed)

    @property
    def parked(self) -> int:
        """Relays whose sockets wait in the pool for a later call."""
        return len(self._parked)

    def __contains__(self, call_id: object) -> bool:
        return isinstance(call_id, str) and self.get(call_id) is not None
