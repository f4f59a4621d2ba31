"""Where one call on a trunk goes: the trunk's destinations as B-leg targets, in the order they are tried.

An IP destination is a target at once; a host name is located for the call as RFC 3263 says (NAPTR, SRV,
A/AAAA over the transports and address families the server listens on), its addresses after the first
becoming the target's ``alternates``. The destinations are chained in order (the first target carries the
others as its ``fallback``, :mod:`reference_server.failover`), those a 503 with Retry-After holds down left
out; every target carries the trunk's ``destination_timeout``, and, when the trunk has several
destinations, the mark that makes the caller's answer 503 once all of them have failed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable

from sipcore.aio.clock import Clock
from sipcore.aio.endpoint import SipEndpoint
from sipcore.aio.resolver import SipResolver
from sipcore.locate import LocateError, ServerName

from .config import Destination, Trunk
from .destination_health import DestinationHealth
from .failover import chain
from .legs import Target
from .sip_util import host_port

log = logging.getLogger(__name__)

__all__ = ["NoDestination", "TrunkTargets"]

EndpointFor = Callable[[str, SipEndpoint], "SipEndpoint | None"]
"""The server's endpoint for a transport ("udp", "tcp"), preferring the one the call came in on."""


class NoDestination(LocateError):
    """No destination of the trunk can be tried now; ``headers`` go on the 503 (a Retry-After)."""

    def __init__(self, message: str, headers: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.headers = headers or []


class TrunkTargets:
    """The targets of one call on ``trunk`` to ``callee`` (from ``user``, shown as ``display``), which came
    in on ``endpoint``; see the module docstring."""

    def __init__(self, trunk: Trunk, callee: str, user: str, display: str | None, endpoint: SipEndpoint,
                 endpoint_for: EndpointFor, resolver: SipResolver, health: DestinationHealth, clock: Clock) -> None:
        self.trunk, self.callee, self.user, self.display = trunk, callee, user, display
        self.endpoint, self.endpoint_for = endpoint, endpoint_for
        self.resolver, self.health, self.clock = resolver, health, clock

    @property
    def by_dns(self) -> bool:
        """Some destination is a host name: the targets are found by :meth:`locate`, when the call starts."""
        return any(dest.by_dns for dest in self.trunk.destinations)

    def _target(self, dest: Destination, addr: tuple[str, int], out: SipEndpoint) -> Target:
        hostport = host_port(dest.host, dest.port)
        params = f";transport={dest.transport}" if dest.transport == "tcp" else ""
        return Target(f"sip:{self.callee}@{hostport}{params}", f"sip:{self.callee}@{hostport}",
                      f"sip:{self.user}@{self.trunk.host}", self.display, addr, out, srtp=self.trunk.destination_srtp)

    def static(self) -> Target:
        """Every destination an IP address: the chained target; NoDestination when none can be tried."""
        targets = []
        for dest in self.trunk.destinations:
            assert dest.transport is not None and dest.port is not None
            out = self.endpoint_for(dest.transport, self.endpoint)
            if out is None:
                log.warning("trunk %s: no %s listener to reach %s", self.trunk.name, dest.transport, dest.uri)
                continue
            targets.append(self._target(dest, (dest.host, dest.port), out))
        if not targets:
            raise NoDestination(f"no listener of this server reaches {self.trunk.destination.uri}")
        return self._chain(targets)

    async def locate(self) -> list[Target]:
        """Every destination located (RFC 3263 for names), chained; LocateError when none is left."""
        found: list[Target] = []
        errors: list[str] = []
        for dest in self.trunk.destinations:
            try:
                found.append(await self._locate(dest))
            except LocateError as exc:
                errors.append(str(exc))
        if not found:
            raise LocateError("; ".join(errors))
        return [self._chain(found)]

    def _chain(self, targets: list[Target]) -> Target:
        trunk = self.trunk
        up, wait = self.health.available(targets, self.clock.time())
        if not up:
            raise NoDestination(f"every destination of trunk {trunk.name} is down (Retry-After)",
                                [("Retry-After", str(max(1, math.ceil(wait))))])
        timeout, several = trunk.destination_timeout, len(trunk.destinations) > 1

        def mark(target: Target) -> Target:
            return dataclasses.replace(target, timeout=timeout, failover=several,
                                       alternates=tuple(mark(a) for a in target.alternates))

        return chain([mark(t) for t in up])

    async def _locate(self, dest: Destination) -> Target:
        """A destination located as RFC 3263 says over the transports and address families the server
        listens on: one target, carrying the other addresses found as its alternates (tried in turn on a
        timeout, a transport error or a 503). LocateError when DNS leads nowhere."""
        routes: dict[tuple[str, str], SipEndpoint] = {}  # (transport, A or AAAA) -> the endpoint to send from
        for transport in ("udp", "tcp"):
            out = self.endpoint_for(transport, self.endpoint)
            if out is not None and dest.transport in (None, transport):
                routes[(transport, "AAAA" if ":" in out.local_addr[0] else "A")] = out
        if not routes:
            raise LocateError(f"no {(dest.transport or 'UDP or TCP').upper()} listener to reach {dest.uri}")
        families = sorted({family for _, family in routes})
        located = await self.resolver.locate(ServerName(dest.host, dest.port, dest.transport, dest.uri),
                                             transports=list(dict.fromkeys(t for t, _ in routes)), families=families)
        usable = [(found, routes[key]) for found in located
                  if (key := (found.transport, "AAAA" if ":" in found.host else "A")) in routes]
        if not usable:
            raise LocateError(f"{dest.uri} is {', '.join(map(str, located))}: no listener of this server reaches it")
        out = usable[0][1]  # one endpoint for the call's addresses: a retry keeps the INVITE's Via
        targets = [self._target(dest, found.addr, out) for found, endpoint in usable if endpoint is out]
        log.debug("trunk %s: destination %s is %s", self.trunk.name, dest.uri, ", ".join(str(t) for t in located))
        return dataclasses.replace(targets[0], alternates=tuple(targets[1:]))
