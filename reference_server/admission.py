"""Admission control: new calls refused with 503 + Retry-After while the server is saturated.

Past its capacity a server that takes every INVITE answers all of them late: their retransmissions add to
the load, Timer B fires on calls it did accept, and the whole trunk collapses. RFC 3261 §21.5.4 gives the
way out: 503 Service Unavailable with Retry-After, at once, for the calls it cannot take, so that the calls
it took complete. The server is saturated when one of these holds:

* **delay**: in each ``interval`` (50 ms) every message waited more than ``max_loop_lag`` (30 ms): the
  smallest of the delays measured in the interval is past it. The delays are those of a probe scheduled
  every ``probe_interval`` on the event loop (how late it ran) and, in a worker of a multi-worker server,
  of each datagram from when the dispatcher read it until the worker did (with a backlog the loop's own
  lag stays short while datagrams wait in the socket). Taking the smallest (CoDel's reasoning, RFC 8289
  §3) ignores a burst or a single pause, after which the queue drains, and catches a server that stays
  behind. The decision holds for the next interval;
* **pending INVITEs**: ``max_pending`` INVITE server transactions of this process await their final
  response (calls being set up): a new one would be one too many.

The check runs on each
message as the transport delivers it, before the transaction layer, authentication or a call sees it: a
new INVITE (no To tag) without credentials is answered statelessly, 503 with ``Retry-After:
retry_after`` and a Warning naming the cause; its ACK then matches nothing and is dropped. An INVITE that
carries credentials (the second half of an authenticated call the server challenged) is refused only past
twice the thresholds: the challenge was already paid for. Requests within a dialog, CANCEL, ACK and
responses always pass, so admitted calls run to their end.

In a multi-worker server the delay rule is applied at the front door: a worker tells the dispatcher when it
is delayed, and the dispatcher answers its new INVITEs 503 at once (:mod:`reference_server.front_door`).
A worker itself refuses only past the pending limits, when it reads the INVITE off its channel, ahead of
the backlog it is working through (:class:`reference_server.worker.WorkerServer`); an INVITE the door let
through before it knew the worker was delayed has already waited in the channel, and is taken: a refusal
after that wait would be the late answer admission control is there to avoid (measured: README, Workers and
overload). Either way the decision is made once, on arrival.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sipcore.aio.clock import Clock, TimerHandle
from sipcore.aio.transport import Addr, Transport
from sipcore.errors import SIPParseError
from sipcore.message import Request, Response

from .sip_util import build_response, warning

log = logging.getLogger(__name__)

__all__ = ["Admission", "AdmissionConfig"]

_CREDENTIALS = ("Proxy-Authorization", "Authorization")
LOG_EVERY = 10.0


@dataclass(frozen=True)
class AdmissionConfig:
    """Thresholds of :class:`Admission` (seconds, counts); see the module docstring."""

    max_loop_lag: float = 0.03
    max_pending: int = 2000
    retry_after: int = 5
    interval: float = 0.05
    probe_interval: float = 0.01

    def __post_init__(self) -> None:
        if self.max_loop_lag <= 0 or self.max_pending < 1 or self.retry_after < 0 or self.interval <= 0 \
                or self.probe_interval <= 0:
            raise ValueError(f"admission thresholds must be positive: {self}")


class Admission:
    """The overload state of one server process and the screen that refuses new calls during it.
    ``pending()`` counts the INVITE server transactions awaiting their final response."""

    def __init__(self, config: AdmissionConfig, clock: Clock, pending: Callable[[], int], *,
                 user_agent: str = "", tag: Callable[[], str] = lambda: "503") -> None:
        self.config = config
        self.clock = clock
        self.pending = pending
        self.user_agent = user_agent
        self.tag = tag
        self.delayed = False  # the last interval's smallest delay was past max_loop_lag
        self.delay = 0.0  # ... that delay, seconds
        self.cause = ""
        self.refused = 0
        self.admitted = 0
        self._min = float("inf")
        self._next_log = 0.0
        self._interval_end = 0.0
        self._excused, self._excused_until = 0.0, 0.0  # a pause of the server's own (excuse)
        self._probe: TimerHandle | None = None
        self._due = 0.0
        self.on_change: Callable[[bool, str], object] | None = None
        """Told (True, cause) at the end of every interval that leaves the server delayed, and (False, "")
        at the first that does not: a worker tells its dispatcher (:mod:`reference_server.front_door`)."""
        self.after_probe: Callable[[float], object] | None = None
        """Called with the time after each probe: periodic work that can ride on the probe's wake-up instead
        of waking the event loop itself (the GC pacer's ticks, :meth:`GcPacer.follow`)."""

    # -- the state ----------------------------------------------------------------------------------
    def start(self) -> None:
        now = self.clock.time()
        self._interval_end = now + self.config.interval
        self._due = now + self.config.probe_interval
        self._probe = self.clock.call_at(self._due, self._on_probe)

    def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            self._probe = None

    def _on_probe(self) -> None:
        now = self.clock.time()
        self.note_delay(now - self._due, now)
        self._due = now + self.config.probe_interval
        self._probe = self.clock.call_at(self._due, self._on_probe)
        if self.after_probe is not None:
            self.after_probe(now)

    def excuse(self, pause: float) -> None:
        """The server itself just stalled ``pause`` s (a scheduled full garbage collection): delays measured
        until the backlog has drained are counted less that pause, so the server's own housekeeping does not
        refuse calls; a server that stays behind afterwards is still caught."""
        now = self.clock.time()
        self._excused, self._excused_until = pause, now + pause + 2 * self.config.interval

    def note_delay(self, delay: float, now: float) -> None:
        """A measured delay: the probe's lag, or how long a datagram waited for this worker."""
        if now < self._excused_until:
            delay = max(0.0, delay - self._excused)
        if delay < self._min:
            self._min = delay
        if now >= self._interval_end:
            was = self.delayed
            self.delay, self.delayed = self._min, self._min > self.config.max_loop_lag
            if self.delayed:
                self.cause = (f"messages waited {self.delay * 1000:.0f} ms or more "
                              f"(> {self.config.max_loop_lag * 1000:.0f} ms)")
                if not was and now >= self._next_log:  # at most one line per LOG_EVERY seconds
                    self._next_log = now + LOG_EVERY
                    log.warning("overloaded (%s): new calls get 503; %d refused, %d taken so far", self.cause,
                                self.refused, self.admitted)
            if (self.delayed or was) and self.on_change is not None:
                self.on_change(self.delayed, self.cause if self.delayed else "")
            self._min = float("inf")
            self._interval_end = now + self.config.interval

    def overloaded(self, now: float) -> bool:
        if now >= self._interval_end + self.config.interval:  # no sample for a whole interval: idle
            self.note_delay(0.0, now)
        return self.delayed

    # -- the screen ---------------------------------------------------------------------------------
    def may_refuse(self, now: float) -> bool:
        """Whether a new INVITE could be refused now (cheap: nothing parsed)."""
        return self.overloaded(now) or self.at_limit()

    def screen(self, message: Request | Response, addr: Addr, transport: Transport) -> bool:
        """True when ``message`` was refused here (a 503 sent); False: deliver it."""
        if not _new_invite(message):
            return False
        if self._refuse_new(message, addr, transport):
            return True
        self.admitted += 1
        return False

    def count(self, message: Request | Response, addr: Addr, transport: Transport) -> bool:
        """Counts a new INVITE as taken; never refuses (a screen for messages already decided on)."""
        if _new_invite(message):
            self.admitted += 1
        return False

    def at_limit(self) -> bool:
        """Whether ``max_pending`` INVITEs are being set up (cheap: nothing parsed)."""
        return self.pending() >= self.config.max_pending

    def refuse(self, message: Request | Response, addr: Addr, transport: Transport, *, on_delay: bool = True) -> bool:
        """True when ``message`` is a new INVITE this server refuses now: its 503 was sent. With ``on_delay``
        False only the pending limits refuse (a worker's check of what the dispatcher let through)."""
        return _new_invite(message) and self._refuse_new(message, addr, transport, on_delay)

    def _refuse_new(self, message: Request | Response, addr: Addr, transport: Transport,
                    on_delay: bool = True) -> bool:
        assert isinstance(message, Request)  # a new INVITE (_new_invite)
        now = self.clock.time()
        pending, limit = self.pending(), self.config.max_pending
        overloaded = on_delay and self.overloaded(now)
        credentials = any(message.headers.get(name) is not None for name in _CREDENTIALS)
        if credentials:  # the second INVITE of a call this server challenged: refused only when far past
            refuse = pending >= 2 * limit or (overloaded and self.delay > 2 * self.config.max_loop_lag)
        else:
            refuse = overloaded or pending >= limit
        if not refuse:
            return False
        if pending >= limit and not overloaded:
            self.cause = f"{pending} INVITEs pending, at most {limit}"
        self.refused += 1
        response = build_response(message, 503, to_tag=self.tag(), server=self.user_agent, headers=[
            ("Retry-After", str(self.config.retry_after)),
            ("Warning", warning(_agent(transport), f"overloaded: {self.cause}"))])
        transport.send(response.to_bytes(), addr)
        return True


def _new_invite(message: Request | Response) -> bool:
    if not isinstance(message, Request) or message.method != "INVITE":
        return False
    try:
        return message.to.tag is None
    except SIPParseError:  # the server's own checks answer it
        return False


def _agent(transport: Transport) -> str:
    host, port = transport.local_addr[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
