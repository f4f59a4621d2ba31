"""Where a trunk sends its calls: ``[[trunk]] destination`` and ``--destination``, parsed.

``sip:127.0.0.1:5080``, ``sip:127.0.0.1:5080;transport=tcp``, ``sips:127.0.0.1:5081`` (TLS, port 5061 when
left out), ``tls:127.0.0.1:5081``, ``127.0.0.1:5080`` (UDP), ``sip:carrier.example.net`` (located through
DNS for each call, RFC 3263). A TLS destination given by IP address must carry that address as an
iPAddress SAN in its certificate (RFC 5922 §7 for a peer without a SIP domain of its own); one given by
name (``sips:carrier.example.net``: NAPTR ``SIPS+D2T``, SRV ``_sips._tcp``, A/AAAA at 5061;
``sip:carrier.example.net;transport=tls`` or ``tls:carrier.example.net``: SRV ``_sips._tcp``, then A/AAAA)
must be certified for that SIP domain, whatever SRV target served it (RFC 5922 §4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from sipcore.errors import SIPParseError
from sipcore.transport_address import TRANSPORTS, bracketed, is_ip_address, split_transport_address
from sipcore.uri import parse_sip_uri

__all__ = ["Destination", "parse_destination"]


@dataclass(frozen=True)
class Destination:
    """Where a trunk's authenticated calls go: an IP address (port and transport always set), or a host
    name located for each call as RFC 3263 says (NAPTR, SRV, A/AAAA; port and transport None where DNS
    decides), the next target tried on a timeout, a transport error or a 503."""

    host: str
    port: int | None = 5060
    transport: str | None = "udp"
    secure: bool = False
    """A sips: URI given by name: TLS only, NAPTR limited to SIPS+D2T (RFC 3263 §4.1)."""

    @cached_property  # asked for every call: worked out once (the fields are frozen)
    def by_dns(self) -> bool:
        """The host is a name: located through DNS for each call."""
        return not is_ip_address(self.host)

    @cached_property
    def uri(self) -> str:
        port = "" if self.port is None else f":{self.port}"
        if self.secure:
            return f"sips:{bracketed(self.host)}{port}"
        transport = "" if self.transport is None else f";transport={self.transport}"
        return f"sip:{bracketed(self.host)}{port}{transport}"


def parse_destination(text: str) -> Destination:
    """``sip:host[:port][;transport=udp|tcp|tls]``, ``sips:host[:port]``, or a transport address:
    ``[udp:|tcp:|tls:]host[:port]``. An IP address gets UDP (TLS for sips:) and port 5060 (5061 for TLS)
    when left out; a host name keeps them unset for DNS to decide (RFC 3263: NAPTR and SRV unless the port
    is written). ValueError naming the text and the problem."""
    if not text.lower().startswith(("sip:", "sips:")):
        transport, host, port = split_transport_address(text, names_ok=True,
                                                        ip_hint="expected an IP address or a host name")
        return _destination(text, host, port, transport)
    try:
        uri = parse_sip_uri(text)
    except SIPParseError as exc:
        raise ValueError(f"{json.dumps(text)} is not a valid sip: URI ({exc.message})") from None
    extra = [p for p in uri.params if p.lower() != "transport"]
    if uri.user is not None or extra or uri.headers:
        raise ValueError(f"{json.dumps(text)}: only host, port and ;transport= are allowed")
    transport = uri.transport
    if transport is not None and transport not in TRANSPORTS:
        raise ValueError(f"{json.dumps(text)}: transport {transport!r} is not udp, tcp or tls")
    host = uri.host.strip("[]")
    if not is_ip_address(host):
        try:
            split_transport_address(host, names_ok=True)
        except ValueError:
            raise ValueError(f"{json.dumps(text)}: {json.dumps(host)} is not an IP address or a host name") from None
    if uri.scheme.lower() == "sips":
        if transport not in (None, "tls"):
            raise ValueError(f"{json.dumps(text)}: a sips: URI is reached over TLS, not {transport}")
        if not is_ip_address(host):  # TLS only; without a port NAPTR chooses among SIPS+D2T records
            return Destination(host.lower().rstrip("."), uri.port, None if uri.port is None else "tls", secure=True)
        transport = "tls"
    return _destination(text, host, uri.port, transport)


def _destination(text: str, host: str, port: int | None, transport: str | None) -> Destination:
    if is_ip_address(host):
        return Destination(host, port or (5061 if transport == "tls" else 5060), transport or "udp")
    return Destination(host.lower().rstrip("."), port, transport)
