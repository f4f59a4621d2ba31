"""A trunk's destination given by host name, located for each call as RFC 3263 says (NAPTR, SRV, A/AAAA)
over the transports and address families the server listens on, TLS among them.

A TLS target found through DNS must present a certificate for the destination's SIP domain (the name the
trunk's destination gives), whatever SRV target or address DNS led to (RFC 5922 §4: the SRV target's name
is not the identity checked): the TLS endpoint is told which name each located address must show.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from sipcore.aio.endpoint import SipEndpoint
from sipcore.aio.resolver import SipResolver
from sipcore.aio.tls import TlsTransport
from sipcore.locate import LocateError, ServerName

from .destination import Destination
from .legs import Target
from .sip_util import host_port

__all__ = ["locate_destination"]

log = logging.getLogger("reference_server")
EndpointFor = Callable[[str, SipEndpoint], "SipEndpoint | None"]


def _wanted(dest: Destination, transport: str) -> bool:
    if dest.secure:
        return transport == "tls"
    return dest.transport in (None, transport)


async def locate_destination(resolver: SipResolver, endpoint_for: EndpointFor, dest: Destination, callee: str,
                             user: str, display: str | None, trunk_name: str, trunk_host: str, srtp: bool,
                             prefer: SipEndpoint) -> list[Target]:
    """One target, carrying the other addresses found as its alternates (tried in turn on a timeout, a
    transport error or a 503). LocateError when DNS leads nowhere."""
    routes: dict[tuple[str, str], SipEndpoint] = {}  # (transport, A or AAAA) -> the endpoint to send from
    for transport in ("udp", "tcp", "tls"):
        out = endpoint_for(transport, prefer)
        if out is not None and _wanted(dest, transport):
            routes[(transport, "AAAA" if ":" in out.local_addr[0] else "A")] = out
    if not routes:
        wanted = "TLS" if dest.secure else (dest.transport or "UDP, TCP or TLS").upper()
        raise LocateError(f"no {wanted} listener to reach {dest.uri}")
    families = sorted({family for _, family in routes})
    located = await resolver.locate(ServerName(dest.host, dest.port, dest.transport, dest.uri, dest.secure),
                                    transports=list(dict.fromkeys(t for t, _ in routes)), families=families)
    usable = [(found, routes[key]) for found in located
              if (key := (found.transport, "AAAA" if ":" in found.host else "A")) in routes]
    if not usable:
        raise LocateError(f"{dest.uri} is {', '.join(map(str, located))}: no listener of this server reaches it")
    out = usable[0][1]  # one endpoint for the call's addresses: a retry keeps the INVITE's Via
    if isinstance(out.transport, TlsTransport):
        for found, endpoint in usable:
            if endpoint is out:
                out.transport.expect_name(found.addr, dest.host)  # RFC 5922 §4: the domain, not the SRV target
    hostport = host_port(dest.host, dest.port)
    scheme = "sips" if dest.secure else "sip"
    params = f";transport={dest.transport}" if dest.transport in ("tcp", "tls") and not dest.secure else ""
    targets = [Target(f"{scheme}:{callee}@{hostport}{params}", f"{scheme}:{callee}@{hostport}", f"sip:{user}@{trunk_host}",
                      display, found.addr, out, srtp=srtp)
               for found, endpoint in usable if endpoint is out]
    log.debug("trunk %s: destination %s is %s", trunk_name, dest.uri, ", ".join(str(t) for t in located))
    return [dataclasses.replace(targets[0], alternates=tuple(targets[1:]))]
