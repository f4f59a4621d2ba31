"""OPTIONS keep-alive toward a trunk's destinations (``[[trunk]] options_interval``, ``options_timeout``).

Each destination given by IP address is pinged with an out-of-dialog OPTIONS as soon as the server starts,
then every ``interval`` seconds, as SBCs and carriers do (Teams Direct Routing expects one a minute; Ribbon's
interop plan about one per 10 s at most). A destination is **down** after a ping that gets no final response
within ``timeout`` seconds, a 408 or a 503 (a transport error, ICMP unreachable, is a 503 too: RFC 3261
§8.1.3.1); it is **up** again on the next final response of any other status (any answer shows a live SIP
stack: a 404 or 405 to OPTIONS is still an answer). Every change is logged: ``destination
sip:198.51.100.7:5060 of trunk example is down: no answer to OPTIONS within 5 s``. Calls are routed to the
destinations that are up (:meth:`KeepAlive.is_up`); a destination never pinged counts as up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sipcore.aio.clock import Clock, TimerHandle
from sipcore.aio.endpoint import SipEndpoint
from sipcore.builders import new_request
from sipcore.ids import IdGenerator
from sipcore.transaction import ClientTransaction, Event, ResponseReceived, TransactionTimeout

from .sip_util import ACCEPT, ALLOW, local_addr

log = logging.getLogger("reference_server.keepalive")

__all__ = ["DOWN_STATUSES", "KeepAlive", "KeepAliveSettings"]

DOWN_STATUSES = frozenset({408, 503})
"""Final responses to a ping that mark the destination down (RFC 3261 §21.4.9, §21.5.4)."""


@dataclass(frozen=True)
class KeepAliveSettings:
    """``interval``: seconds between pings (0: no pings); ``timeout``: seconds a ping may go unanswered."""

    interval: float = 0.0
    timeout: float = 5.0

    @property
    def enabled(self) -> bool:
        return self.interval > 0


Addr = tuple[str, int]


class KeepAlive:
    """Pings one destination of one trunk; see the module docstring."""

    def __init__(self, trunk: str, uri: str, addr: Addr, endpoint: SipEndpoint, settings: KeepAliveSettings, *,
                 ids: IdGenerator, clock: Clock, from_host: str, via_host: str, user_agent: str = "") -> None:
        self.trunk, self.uri, self.addr, self.endpoint = trunk, uri, addr, endpoint
        self.settings, self.ids, self.clock = settings, ids, clock
        self.from_host, self.via_host, self.user_agent = from_host, via_host, user_agent
        self.up = True
        self.pings = 0
        self._cseq = 0
        self._next: TimerHandle | None = None
        self._deadline: TimerHandle | None = None
        self._pending: ClientTransaction | None = None
        self.on_change: Callable[[KeepAlive], None] | None = None

    def start(self) -> None:
        """The first ping now, then one every interval."""
        self._ping()

    def stop(self) -> None:
        for handle in (self._next, self._deadline):
            if handle is not None:
                handle.cancel()
        self._next = self._deadline = None
        self._pending = None

    def _ping(self) -> None:
        self._next = self.clock.call_later(self.settings.interval, self._ping)
        if self._pending is not None:  # the previous ping is still out: its deadline decides
            return
        self._cseq += 1
        local = local_addr(self.endpoint, self.via_host)
        options = new_request(
            "OPTIONS", self.uri, from_uri=f"sip:keepalive@{self.from_host}", to_uri=self.uri, local_addr=local,
            transport=self.endpoint.transport_name, from_tag=self.ids.tag(), call_id=self.ids.call_id(local[0]),
            cseq=self._cseq, branch=self.ids.branch(), max_forwards=70,
            extra_headers=[("Allow", ALLOW), ("Accept", ACCEPT)], user_agent=self.user_agent or None)
        self.pings += 1
        try:
            self._pending = self.endpoint.send_request(options, self.addr, self._on_event)
        except OSError as exc:
            self._set(False, f"cannot send OPTIONS: {exc.strerror or exc}")
            return
        self._deadline = self.clock.call_later(self.settings.timeout, self._no_answer, self._pending)

    def _no_answer(self, transaction: ClientTransaction) -> None:
        if self._pending is transaction:
            self._pending = None
            self._set(False, f"no answer to OPTIONS within {self.settings.timeout:g} s")

    def _on_event(self, event: Event) -> None:
        if isinstance(event, ResponseReceived) and event.response.status >= 200:
            response = event.response
            if self._pending is event.transaction:
                self._pending = None
                if self._deadline is not None:
                    self._deadline.cancel()
                    self._deadline = None
            answer = f"{response.status} {response.reason}"
            if response.status in DOWN_STATUSES:
                self._set(False, f"OPTIONS answered {answer}")
            else:
                self._set(True, f"OPTIONS answered {answer}")
        elif isinstance(event, TransactionTimeout) and self._pending is event.transaction:
            self._no_answer(event.transaction)

    def _set(self, up: bool, why: str) -> None:
        if up == self.up:
            return
        self.up = up
        state = "up again" if up else "down"
        level = logging.INFO if up else logging.WARNING
        log.log(level, "destination %s of trunk %s is %s: %s", self.uri, self.trunk, state, why)
        if self.on_change is not None:
            self.on_change(self)
