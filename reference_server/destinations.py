"""Where a trunk sends its calls: one :class:`Destination` or several in order (``destination = [...]``).

Each is an IP address (port and transport always set), or a host name located for each call as RFC 3263
says (NAPTR, SRV, A/AAAA; port and transport None where DNS decides). With several, a call goes to the
first available and moves on to the next when one answers 503 or 408, gives no response at all (Timer B,
or the trunk's shorter ``destination_timeout``) or cannot be reached (a transport error): see
:mod:`reference_server.failover`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sipcore.errors import SIPParseError
from sipcore.transport_address import TRANSPORTS, bracketed, is_ip_address, split_transport_address
from sipcore.uri import parse_sip_uri

__all__ = ["Destination", "parse_destination"]


@dataclass(frozen=True)
class Destination:
    """One place a trunk's authenticated calls go; see the module docstring."""

    host: str
    port: int | None = 5060
    transport: str | None = "udp"

    @property
    def by_dns(self) -> bool:
        """The host is a name: located through DNS for each call."""
        return not is_ip_address(self.host)

    @property
    def uri(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        transport = "" if self.transport is None else f";transport={self.transport}"
        return f"sip:{bracketed(self.host)}{port}{transport}"


def parse_destination(text: str) -> Destination:
    """``sip:host[:port][;transport=udp|tcp]``, or a transport address: ``[udp:|tcp:]host[:port]``. An IP
    address gets UDP and port 5060 when left out; a host name keeps them unset for DNS to decide (RFC
    3263: NAPTR and SRV unless the port is written)."""
    if not text.lower().startswith(("sip:", "sips:")):
        transport, host, port = split_transport_address(text, names_ok=True,
                                                        ip_hint="expected an IP address or a host name")
        return _destination(host, port, transport)
    try:
        uri = parse_sip_uri(text)
    except SIPParseError as exc:
        raise ValueError(f"{json.dumps(text)} is not a valid sip: URI ({exc.message})") from None
    if uri.scheme.lower() != "sip":
        raise ValueError(f"{json.dumps(text)}: sips (TLS) is not supported; use sip:")
    extra = [p for p in uri.params if p.lower() != "transport"]
    if uri.user is not None or extra or uri.headers:
        raise ValueError(f"{json.dumps(text)}: only host, port and ;transport= are allowed")
    transport = uri.transport
    if transport is not None and transport not in TRANSPORTS:
        raise ValueError(f"{json.dumps(text)}: transport {transport!r} is not udp or tcp")
    host = uri.host.strip("[]")
    if not is_ip_address(host):
        try:
            split_transport_address(host, names_ok=True)
        except ValueError:
            raise ValueError(f"{json.dumps(text)}: {json.dumps(host)} is not an IP address or a host name") from None
    return _destination(host, uri.port, transport)


def _destination(host: str, port: int | None, transport: str | None) -> Destination:
    if is_ip_address(host):
        return Destination(host, port or 5060, transport or "udp")
    return Destination(host.lower().rstrip("."), port, transport)
