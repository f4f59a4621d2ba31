"""Where a trunk's calls go: the targets of one call, and the keep-alive that says which destinations are up.

A trunk call's outgoing INVITE carries the identity the trunk's policy gives it (:mod:`reference_server.identity`:
From, P-Asserted-Identity, Privacy, numbers in E.164). Its destinations (``destination``, one or an array)
are tried in order, those the OPTIONS keep-alive (:mod:`reference_server.keepalive`) marks down, or a 503's
Retry-After holds down (:mod:`reference_server.destination_health`), left out; when every destination is
down the call is refused at once (503, Retry-After) instead of waiting for Timer B. The next destinations
are the first target's ``fallback``, each tried with an INVITE of its own (:mod:`reference_server.failover`);
every target carries the trunk's ``destination_timeout``. A destination named by host name is located for
each call as RFC 3263 says (over TLS too: a ``sips:`` name takes only NAPTR SIPS+D2T and SRV ``_sips._tcp``,
and its certificate must name that domain, not the SRV target, RFC 5922 §4); the other addresses found are the
first target's alternates.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from sipcore.aio.clock import Clock
from sipcore.aio.endpoint import SipEndpoint
from sipcore.aio.resolver import SipResolver
from sipcore.aio.tls import TlsTransport
from sipcore.ids import IdGenerator
from sipcore.locate import LocateError, ServerName
from sipcore.message import Request

from .config import Trunk
from .destination import Destination
from .destination_health import DestinationHealth
from .failover import chain
from .identity import OutgoingIdentity, outgoing_identity
from .keepalive import KeepAlive
from .legs import Target
from .sip_util import host_port

log = logging.getLogger("reference_server")

__all__ = ["CallPlan", "TrunkDestinations"]

EndpointFor = Callable[[str, SipEndpoint], "SipEndpoint | None"]
RETRY_AFTER = 30  # seconds a caller should wait when every destination is down (RFC 3261 §20.33)


@dataclass(frozen=True)
class CallPlan:
    """What :meth:`TrunkDestinations.plan` decided for one call: its targets, or the refusal."""

    targets: list[Target]
    identity: OutgoingIdentity
    refusal: tuple[int, str] | None = None  # (status, why) when the call goes nowhere
    retry_after: int = RETRY_AFTER  # the refusal's Retry-After
    dns: Destination | None = None  # a destination named by host name: locate it first


class TrunkDestinations:
    def __init__(self, ids: IdGenerator, clock: Clock, resolver: SipResolver, endpoint_for: EndpointFor, *,
                 via_host: str, user_agent: str = "", health: DestinationHealth | None = None) -> None:
        self.ids, self.clock, self.resolver, self.endpoint_for = ids, clock, resolver, endpoint_for
        self.health = health or DestinationHealth()
        self.via_host, self.user_agent = via_host, user_agent
        self.monitors: dict[tuple[str, Destination], KeepAlive] = {}
        self.pinging = True  # False on the workers of a multi-worker server but the first: it pings for all
        self.states: dict[tuple[str, str], bool] = {}  # (trunk, destination URI) -> up, as the pinging worker saw
        self.publish_state: Callable[[str, str, bool], None] | None = None  # the pinging worker tells the others

    # -- keep-alive ---------------------------------------------------------------------------------
    def start(self, trunks: tuple[Trunk, ...], endpoints: list[SipEndpoint]) -> None:
        """Ping every IP destination of the trunks with a keep-alive interval (the first ping now)."""
        if not endpoints or not self.pinging:
            return
        for trunk in trunks:
            if not trunk.keepalive.enabled:
                continue
            for dest in trunk.destinations:
                if dest.by_dns or dest.transport is None or dest.port is None:
                    continue
                out = self.endpoint_for(dest.transport, endpoints[0])
                if out is None:
                    log.warning("trunk %s: no %s listener to ping %s", trunk.name, dest.transport, dest.uri)
                    continue
                monitor = KeepAlive(trunk.name, dest.uri, (dest.host, dest.port), out, trunk.keepalive,
                                    ids=self.ids, clock=self.clock, from_host=trunk.host, via_host=self.via_host,
                                    user_agent=self.user_agent)
                self.monitors[(trunk.name, dest)] = monitor
                if self.publish_state is not None:
                    monitor.on_change = lambda m: self.publish_state(m.trunk, m.uri, m.up) if self.publish_state else None
                monitor.start()

    def stop(self) -> None:
        for monitor in self.monitors.values():
            monitor.stop()
        self.monitors.clear()

    def is_up(self, trunk: Trunk, dest: Destination) -> bool:
        monitor = self.monitors.get((trunk.name, dest))
        if monitor is not None:
            return monitor.up
        return self.states.get((trunk.name, dest.uri), True)

    # -- one call -----------------------------------------------------------------------------------
    def plan(self, trunk: Trunk, request: Request, endpoint: SipEndpoint, *, caller: str, display: str | None,
             callee: str) -> CallPlan:
        """The targets of a call on ``trunk`` (the INVITE ``request`` came in on ``endpoint``)."""
        identity = outgoing_identity(request, trunk.identity, caller=caller, display=display, callee=callee,
                                     host=trunk.host)
        if trunk.destination.by_dns:
            return CallPlan([], identity, dns=trunk.destination)
        up = [d for d in trunk.destinations if self.is_up(trunk, d)]
        if not up:
            down = ", ".join(d.uri for d in trunk.destinations)
            return CallPlan([], identity, (503, f"every destination of trunk {trunk.name} is down "
                                               f"(unanswered OPTIONS): {down}"))
        targets: list[Target] = []
        timeout, several = trunk.destination_timeout, len(trunk.destinations) > 1  # what _chain would mark
        for dest in up:
            assert dest.transport is not None and dest.port is not None
            out = self.endpoint_for(dest.transport, endpoint)
            if out is not None:
                targets.append(self._target(dest.host, dest.port, dest, identity, out, (dest.host, dest.port),
                                            trunk.destination_srtp, timeout=timeout, failover=several))
        if not targets:
            return CallPlan([], identity, (503, f"no {up[0].transport} listener to reach {up[0].uri}"))
        available, wait = self.health.available(targets, self.clock.time())
        if not available:
            return CallPlan([], identity, (503, f"every destination of trunk {trunk.name} is down (Retry-After)"),
                            retry_after=max(1, math.ceil(wait)))
        return CallPlan([chain(available)], identity)  # marked already, and no alternates to mark

    @staticmethod
    def _chain(trunk: Trunk, targets: list[Target]) -> Target:
        """The first target, the others its fallback, each with the trunk's destination timeout and, when the
        trunk has several destinations, the mark that makes the caller's answer 503 once all have failed."""
        timeout, several = trunk.destination_timeout, len(trunk.destinations) > 1

        def mark(target: Target) -> Target:
            return dataclasses.replace(target, timeout=timeout, failover=several,
                                       alternates=tuple(mark(a) for a in target.alternates))

        return chain([mark(t) for t in targets])

    @staticmethod
    def _target(host: str, port: int | None, dest: Destination, identity: OutgoingIdentity, out: SipEndpoint,
                addr: tuple[str, int], srtp: bool, *, timeout: float | None = None, failover: bool = False) -> Target:
        hostport = host_port(host, port)
        scheme = "sips" if dest.secure else "sip"  # a sips: destination by name: TLS says the scheme
        transport = f";transport={dest.transport}" if dest.transport in ("tcp", "tls") and not dest.secure else ""
        user = f"{identity.callee}@{hostport}{identity.callee_params}"
        return Target(f"{scheme}:{user}{transport}", f"{scheme}:{user}", identity.from_uri, identity.from_display,
                      addr, out, headers=identity.headers, srtp=srtp, timeout=timeout, failover=failover)

    async def locate(self, trunk: Trunk, dest: Destination, identity: OutgoingIdentity,
                     prefer: SipEndpoint) -> list[Target]:
        """A destination named by host name, located as RFC 3263 says over the transports and address
        families the server listens on: one target, carrying the other addresses found as its alternates
        (tried in turn on a timeout, a transport error or a 503). LocateError when DNS leads nowhere."""
        routes: dict[tuple[str, str], SipEndpoint] = {}  # (transport, A or AAAA) -> the endpoint to send from
        for transport in ("udp", "tcp", "tls"):
            out = self.endpoint_for(transport, prefer)
            wanted = transport == "tls" if dest.secure else dest.transport in (None, transport)
            if out is not None and wanted:
                routes[(transport, "AAAA" if ":" in out.local_addr[0] else "A")] = out
        if not routes:
            wanted_text = "TLS" if dest.secure else (dest.transport or "UDP, TCP or TLS").upper()
            raise LocateError(f"no {wanted_text} listener to reach {dest.uri}")
        families = sorted({family for _, family in routes})
        located = await self.resolver.locate(ServerName(dest.host, dest.port, dest.transport, dest.uri, dest.secure),
                                             transports=list(dict.fromkeys(t for t, _ in routes)), families=families)
        usable = [(found, routes[key]) for found in located
                  if (key := (found.transport, "AAAA" if ":" in found.host else "A")) in routes]
        if not usable:
            raise LocateError(f"{dest.uri} is {', '.join(map(str, located))}: no listener of this server reaches it")
        out = usable[0][1]  # one endpoint for the call's addresses: a retry keeps the INVITE's Via
        if isinstance(out.transport, TlsTransport):  # RFC 5922 §4: the certificate names the domain asked
            for found, endpoint in usable:  # for, not the SRV target or the address DNS led to
                if endpoint is out:
                    out.transport.expect_name(found.addr, dest.host)
        targets = [self._target(dest.host, dest.port, dest, identity, out, found.addr, trunk.destination_srtp)
                   for found, endpoint in usable if endpoint is out]
        log.debug("trunk %s: destination %s is %s", trunk.name, dest.uri, ", ".join(str(t) for t in located))
        return [self._chain(trunk, [dataclasses.replace(targets[0], alternates=tuple(targets[1:]))])]
