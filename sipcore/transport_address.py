"""Transport addresses as the command line and the project's files write them: ``[transport:]host[:port]``.

    udp:127.0.0.1:5060     tcp:[::1]:5061     tls:127.0.0.1:5061     127.0.0.1:5080 (UDP)     127.0.0.30 (port 5060)

One parser for all of them: ``trunkcheck serve --listen`` and ``--destination``, the server's
configuration, ``trunkcheck simulate``'s addresses and the equipment file. Without a transport an address
is UDP (as SIP's default transport is); without a port it is 5060 unless the caller wants a port. IPv6 goes
in brackets when a port follows (``[::1]:5070``); the host is an IP literal unless the caller accepts
names. A mistake is an :class:`AddressError` (a ValueError) quoting the text and saying what is wrong; the
caller adds where it was (``--listen: ...``, ``FILE:LINE: key: ...``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass

__all__ = [
    "TRANSPORTS", "Address", "AddressError", "TransportAddress", "bracketed", "is_ip_address",
    "parse_transport_address", "split_transport_address",
]

Address = tuple[str, int]
"""A (host, port) pair as sockets take it: where a message goes to or came from."""
TRANSPORTS = ("udp", "tcp", "tls")
"""The transports trunkcheck speaks (TLS: SIP over TLS over TCP, RFC 3261 §26, port 5061 by default)."""
_OTHER_TRANSPORTS = ("sctp", "ws", "wss")
"""Recognised as a transport prefix, so that the message says it is not supported."""
_HOSTNAME_RE = re.compile(r"(?=.{1,253}\Z)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                          r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
IP_HINT = "use an IP address, IPv6 in brackets: [::1]:5060"


class AddressError(ValueError):
    """A transport address that cannot be used; the message quotes it and says why."""


def bracketed(host: str) -> str:
    """A host as it goes before ``:port``: IPv6 in brackets."""
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class TransportAddress:
    """``udp:127.0.0.1:5060``: a transport (lower case), a host (IP literal, IPv6 without brackets, or a
    name where the caller accepts names) and a port."""

    transport: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport}:{bracketed(self.host)}:{self.port}"

    @property
    def addr(self) -> tuple[str, int]:
        """``(host, port)``, as a socket takes it."""
        return self.host, self.port

    @property
    def hostport(self) -> str:
        """``127.0.0.1:5060`` or ``[::1]:5060``."""
        return f"{bracketed(self.host)}:{self.port}"


def parse_transport_address(text: str, *, default_transport: str = "udp", default_port: int | None = 5060,
                            zero_port_ok: bool = False, names_ok: bool = False,
                            ip_hint: str = IP_HINT) -> TransportAddress:
    """Parse ``[transport:]host[:port]``.

    ``default_transport``: the transport when none is written (UDP). ``default_port``: the port when none
    is written; None makes the port required. ``zero_port_ok``: port 0 (any free port) is allowed, for an
    address to bind. ``names_ok``: the host may be a DNS name, not only an IP literal. ``ip_hint`` ends
    the message when the host is not an IP address."""
    transport, host, port = split_transport_address(text, zero_port_ok=zero_port_ok, names_ok=names_ok,
                                                    ip_hint=ip_hint)
    transport = transport or default_transport.lower()
    if transport not in TRANSPORTS:
        raise AddressError(f"{json.dumps(text)}: transport {transport} is not supported (udp, tcp or tls)")
    if port is None:
        if default_port == 5060 and transport == "tls":
            default_port = 5061  # RFC 3261 §19.1.2: SIP over TLS listens on 5061
        if default_port is None:
            raise AddressError(f"{json.dumps(text)} has no port (expected IP:PORT, e.g. 127.0.0.1:5080)")
        port = default_port
    return TransportAddress(transport, host, port)


def split_transport_address(text: str, *, zero_port_ok: bool = False, names_ok: bool = False,
                            ip_hint: str = IP_HINT) -> tuple[str | None, str, int | None]:
    """``[transport:]host[:port]`` as written: ``(transport or None, host, port or None)``, the transport
    lower case, the host an IP literal (IPv6 without brackets) or, with ``names_ok``, a DNS name. For a
    caller that must know what was left out, such as RFC 3263 server location (an explicit port skips the
    NAPTR and SRV look-ups)."""
    value = text.strip()
    transport: str | None = None
    head, colon, tail = value.partition(":")
    if colon and head.lower() in TRANSPORTS + _OTHER_TRANSPORTS:
        if head.lower() not in TRANSPORTS:
            raise AddressError(f"{json.dumps(text)}: transport {head} is not supported (udp, tcp or tls)")
        transport, value = head.lower(), tail
    host, port_text = value, ""
    if value.startswith("["):
        host, bracket, after = value[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise AddressError(f"{json.dumps(text)} has a malformed IPv6 reference (expected [v6]:port)")
        port_text = after[1:]
        if after and not port_text:
            raise AddressError(f"{json.dumps(text)} has an empty port")
        if ":" not in host:
            raise AddressError(f"{json.dumps(text)}: {json.dumps(host)} in brackets is not an IPv6 address")
    elif value.count(":") == 1:
        host, _, port_text = value.partition(":")
        if not port_text:
            raise AddressError(f"{json.dumps(text)} has an empty port")
    host = _check_host(host, text, names_ok=names_ok, ip_hint=ip_hint)
    return transport, host, _port(port_text, text, zero_port_ok) if port_text else None


def is_ip_address(host: str) -> bool:
    """Whether ``host`` is an IP literal (IPv6 with or without brackets)."""
    try:
        ipaddress.ip_address(host[1:-1] if host.startswith("[") and host.endswith("]") else host)
    except ValueError:
        return False
    return True


def _check_host(host: str, text: str, *, names_ok: bool, ip_hint: str) -> str:
    if not host:
        raise AddressError(f"{json.dumps(text)} has no host")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if names_ok and ":" not in host and _HOSTNAME_RE.match(host) and not host.rsplit(".", 1)[-1].isdigit():
        return host  # a name; one ending in a numeric label ("127.0.5.500") is a mistyped IP (RFC 3696 §2)
    raise AddressError(f"{json.dumps(text)}: {json.dumps(host)} is not an IP address ({ip_hint})")


def _port(port_text: str, text: str, zero_port_ok: bool) -> int:
    low = 0 if zero_port_ok else 1
    if not port_text.isdigit() or not low <= int(port_text) <= 65535:
        raise AddressError(f"{json.dumps(text)}: port {json.dumps(port_text)} is not {low}-65535")
    return int(port_text)
