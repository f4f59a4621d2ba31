"""Locating a SIP server as RFC 3263 §4 says, sans-IO: which DNS queries to make and, from their answers,
the ordered list of transport addresses to try.

    server = parse_server("sip:+15550100@example.trunk.voipbin.net")
    locator = Locator(server, transports=("udp",), families=("A",), rng=random.Random(7))
    while (query := locator.next_query()) is not None:
        locator.answer(query, records)      # Naptr / Srv records, or IP strings for A/AAAA; () for none
    targets = locator.targets()             # [TransportAddress("udp", "127.0.0.61", 5070), ...]

What is asked (§4.1 for the transport, §4.2 for the address and port):

- a numeric IP: nothing; the transport written (``;transport=``, ``sips:`` or a ``udp:``/``tcp:``/``tls:`` prefix) else UDP
  (TCP for a client that speaks only TCP), the port written else the transport's default (5060; 5061
  for TLS);
- a name with a port: A/AAAA, at that port, over the transport written else UDP (as above);
- a name with a transport but no port: SRV for that transport, else A/AAAA at the default port;
- a name alone: NAPTR; the records of flag "s" whose service the client speaks (``SIP+D2U``, ``SIP+D2T``)
  in order, then preference; the first whose SRV records lead to addresses is used. Without NAPTR
  records, SRV for each transport the client speaks in turn (``_sip._udp``, ``_sip._tcp``). Without any
  SRV record, A/AAAA of the name at the default port, over the first NAPTR service's transport, else UDP
  (as above).

TLS (RFC 3263 §4.1, RFC 5630): a ``sips:`` URI is reached over TLS only: of its NAPTR records only
``SIPS+D2T`` counts, its SRV name is ``_sips._tcp``, and without either its A/AAAA at port 5061. A
``;transport=tls`` (or ``tls:``) name asks SRV ``_sips._tcp`` then A/AAAA at 5061. A client that speaks TLS
(``transports`` holding "tls") takes a ``SIPS+D2T`` record of a sip: URI's domain too. The certificate of
a server found so is checked against the SIP domain located (the URI's host), never the SRV target's name
(RFC 5922 §4): :attr:`ServerName.host`.

SRV records are ordered by priority, then by weighted random choice within a priority (RFC 2782: the
zero-weight records first, then a running sum against a random number in 0..total), the random source
passed in. A target of "." means the service is decidedly not available (RFC 2782): no A/AAAA fallback.
Each SRV target contributes its addresses in A then AAAA order; duplicates are dropped.

:func:`locate_from_records` runs the same machine on records given as data.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ProtocolError, SIPParseError
from .transport_address import (
    AddressError,
    TransportAddress,
    bracketed,
    is_ip_address,
    split_transport_address,
)
from .uri import parse_sip_uri

__all__ = [
    "DEFAULT_PORTS", "FAMILIES", "LocateError", "Locator", "Naptr", "Query", "Rng", "ServerName", "Srv",
    "locate_from_records", "order_srv", "parse_nameserver", "parse_server",
]

DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}
"""RFC 3261 §19.1.2: 5060 for SIP over UDP and TCP, 5061 for SIP over TLS."""
FAMILIES = ("A", "AAAA")
NAPTR_SERVICES = {"sip+d2u": "udp", "sip+d2t": "tcp", "sips+d2t": "tls", "sip+d2s": "sctp",
                  "sips+d2s": "sctp-tls", "sip+d2w": "ws", "sips+d2w": "wss"}
"""NAPTR service fields of RFC 3263 §4.1 (and RFC 4168, RFC 7118) and the transport each names."""
TRANSPORTS = ("udp", "tcp")
"""The transports a client speaks unless it says otherwise (add "tls" to locate TLS servers)."""
SPOKEN = ("udp", "tcp", "tls")
"""Every transport the locator can locate."""
MAX_SRV_TARGETS = 16
"""SRV targets looked up per service at most: a zone with more is cut short (and the trace says so)."""
_FINAL_DOT = re.compile(r"(?<=[A-Za-z0-9])\.(?=(:\d*)?\Z)")


class LocateError(ValueError):
    """A server that cannot be located: a bad name or URI, or DNS that leads nowhere. The message names
    what was asked and what each query answered."""


class Rng(Protocol):
    """The random source of RFC 2782's weighted choice: ``random.Random(seed)`` fits."""

    def randint(self, a: int, b: int) -> int: ...


@dataclass(frozen=True)
class Naptr:
    """A NAPTR record (RFC 3403)."""

    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str


@dataclass(frozen=True)
class Srv:
    """An SRV record (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Query:
    """A DNS query the locator wants answered: a name (no trailing dot, lower case) and a type."""

    name: str
    rdtype: str  # "NAPTR", "SRV", "A" or "AAAA"

    def __str__(self) -> str:
        return f"{self.rdtype} {self.name}"


@dataclass(frozen=True)
class ServerName:
    """The server to locate, as written: a host (name or IP literal), and the port and transport when
    written (None when left out: DNS decides). ``text`` is the original, for messages."""

    host: str
    port: int | None = None
    transport: str | None = None
    text: str = ""
    secure: bool = False
    """A sips: URI: reached over TLS only (RFC 3261 §19.1, RFC 3263 §4.1)."""

    @property
    def numeric(self) -> bool:
        return is_ip_address(self.host)

    def __str__(self) -> str:
        return self.text or bracketed(self.host) + (f":{self.port}" if self.port else "")


def _name(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _check_transport(transport: str, text: str) -> str:
    transport = transport.lower()
    if transport not in SPOKEN:
        raise LocateError(f"{json.dumps(text)}: transport {transport} is not supported (udp, tcp or tls)")
    return transport


def parse_server(text: str) -> ServerName:
    """A SIP or SIPS URI (``sip:+15550100@example.trunk.voipbin.net;transport=tcp``: its host, or its
    ``maddr``, port and transport; the user part does not matter; ``sips:``: TLS only), or
    ``[udp:|tcp:|tls:]host[:port]`` (a name or an IP literal, IPv6 in brackets). LocateError, quoting the
    text, for anything else."""
    value = text.strip()
    if value.lower().startswith(("sip:", "sips:")):
        try:
            uri = parse_sip_uri(value)
        except SIPParseError as exc:
            raise LocateError(f"{json.dumps(text)} is not a valid SIP URI: {exc.message}") from None
        host = uri.param("maddr") or uri.host
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not is_ip_address(host) and not _valid_name(host):
            raise LocateError(f"{json.dumps(text)}: {json.dumps(host)} is not a host name or an IP address")
        transport = _check_transport(uri.transport, text) if uri.transport else None
        secure = uri.scheme.lower() == "sips"
        if secure:
            if transport not in (None, "tls"):
                raise LocateError(f"{json.dumps(text)}: a sips: URI is reached over TLS, not {transport}")
            if is_ip_address(host) or uri.port is not None:
                transport = "tls"  # nothing for NAPTR to choose
        return ServerName(_host(host), uri.port, transport, value, secure)
    value = _FINAL_DOT.sub("", value)  # a fully qualified name: "example.net." or "example.net.:5060"
    try:
        transport, host, port = split_transport_address(value, names_ok=True,
                                                        ip_hint="expected a host name, an IP address or a sip: URI")
    except AddressError as exc:
        raise LocateError(str(exc)) from None
    if transport is not None:
        transport = _check_transport(transport, text)
    return ServerName(_host(host), port, transport, value, transport == "tls")


def _host(host: str) -> str:
    return str(ipaddress.ip_address(host)) if is_ip_address(host) else _name(host)


def _valid_name(host: str) -> bool:
    try:
        split_transport_address(host, names_ok=True)
    except AddressError:
        return False
    return True


def parse_nameserver(text: str) -> tuple[str, int]:
    """``IP[:PORT]`` of a DNS server (``127.0.0.53``, ``127.0.0.53:5353``, ``[::1]:53``): the port 53
    unless written. LocateError (a ValueError) naming the text otherwise."""
    try:
        transport, host, port = split_transport_address(text, ip_hint="a DNS server is given by its IP "
                                                        "address, e.g. 127.0.0.53:5353")
    except AddressError as exc:
        raise LocateError(f"DNS server {exc}") from None
    if transport is not None:
        raise LocateError(f"DNS server {json.dumps(text)}: give IP[:PORT], without a transport")
    return host, 53 if port is None else port


def order_srv(records: Iterable[Srv], rng: Rng) -> list[Srv]:
    """``records`` in the order RFC 2782 says to try them: by priority, lowest first; within a priority by
    weighted random choice (zero-weight records first in the running sum, a random number in 0..total,
    the first record whose running sum reaches it is next; repeat with the rest)."""
    out: list[Srv] = []
    by_priority: dict[int, list[Srv]] = {}
    for record in records:
        by_priority.setdefault(record.priority, []).append(record)
    for priority in sorted(by_priority):
        group = sorted(by_priority[priority], key=lambda r: r.weight != 0)  # stable: zero weights first
        while group:
            total = sum(r.weight for r in group)
            pick = rng.randint(0, total) if total else 0
            running = 0
            for index, record in enumerate(group):
                running += record.weight
                if running >= pick:
                    out.append(group.pop(index))
                    break
    return out


Plan = Generator[Query, Sequence[Any], list[TransportAddress]]


class Locator:
    """The queries of RFC 3263 §4 for one server, one at a time, and the targets they lead to.

    ``transports``: what the client speaks, in its order of preference (a subset of udp, tcp, tls).
    ``families``: the address records to ask for ("A", "AAAA"), in order. ``rng``: RFC 2782's random
    source. :meth:`answer` each query :meth:`next_query` names, until it names none; then :meth:`targets`.
    """

    def __init__(self, server: ServerName, *, rng: Rng, transports: Sequence[str] = TRANSPORTS,
                 families: Sequence[str] = FAMILIES) -> None:
        self.server = server
        self.rng = rng
        self.transports = tuple(t.lower() for t in transports)
        self.families = tuple(families)
        if not self.transports or any(t not in SPOKEN for t in self.transports):
            raise ValueError(f"transports {transports!r}: give one or more of {', '.join(SPOKEN)}")
        if not self.families or any(f not in FAMILIES for f in self.families):
            raise ValueError(f"families {families!r}: give A, AAAA or both")
        self.trace: list[str] = []
        """What each query answered, in order (``SRV _sip._udp.example.net: 2 records``)."""
        self._pending: Query | None = None
        self._result: list[TransportAddress] = []
        self._error: LocateError | None = None
        self._plan = self._run()
        self._advance(None)

    def next_query(self) -> Query | None:
        """The query to answer next; None once the targets are known (or location has failed)."""
        return self._pending

    def answer(self, query: Query, records: Sequence[Any] = (), problem: str | None = None) -> None:
        """The answer to ``query``: its records (:class:`Naptr`, :class:`Srv`, or IP address strings for
        A/AAAA), none for NXDOMAIN or no data; ``problem`` says why when the server did not answer usefully
        (SERVFAIL, REFUSED ...): the locator goes on as RFC 3263 does without records, and says so."""
        if self._pending is None or query != self._pending:
            raise ProtocolError(f"answer for {query}, but the locator is waiting for "
                                f"{self._pending or 'nothing (it is done)'}")
        self._trace(query, records, problem)
        self._advance(() if problem else records)

    def targets(self) -> list[TransportAddress]:
        """The transport addresses to try, in order (RFC 3263 §4.3: the next on a transport error, a
        timeout or a 503). LocateError naming the queries and their answers when there is none."""
        if self._pending is not None:
            raise ProtocolError(f"the locator is still waiting for the answer to {self._pending}")
        if self._error is not None:
            raise self._error
        if not self._result:
            raise LocateError(f"cannot locate {self.server}: " + "; ".join(self.trace))
        return list(self._result)

    # -- the machine ------------------------------------------------------------------------------------
    def _advance(self, value: Sequence[Any] | None) -> None:
        try:
            self._pending = next(self._plan) if value is None else self._plan.send(value)
        except StopIteration as stop:
            self._pending, self._result = None, _unique(stop.value)
        except LocateError as exc:
            self._pending, self._error = None, exc

    def _trace(self, query: Query, records: Sequence[Any], problem: str | None) -> None:
        if problem:
            what = problem
        elif not records:
            what = "no records"
        elif query.rdtype == "SRV":
            what = ", ".join(f"{r.target}:{r.port} (priority {r.priority}, weight {r.weight})" for r in records)
        elif query.rdtype == "NAPTR":
            what = ", ".join(f"{r.service} -> {r.replacement} (order {r.order}, preference {r.preference})"
                             for r in records)
        else:
            what = ", ".join(str(r) for r in records)
        self.trace.append(f"{query}: {what}")

    @property
    def _default(self) -> str:
        """The transport when neither the name nor DNS says: UDP for a sip: URI (§4.1), unless this client
        does not speak it; TLS for a sips: URI (§4.1)."""
        if self.server.secure:
            return "tls"
        return "udp" if "udp" in self.transports else self.transports[0]

    def _require(self, transport: str) -> str:
        if transport not in self.transports:
            raise LocateError(f"{self.server}: the server is reached over {transport.upper()}, but this client "
                              f"speaks {' and '.join(t.upper() for t in self.transports)}")
        return transport

    def _run(self) -> Plan:
        server = self.server
        host = server.host
        if server.secure:
            self._require("tls")
        if server.numeric:  # §4.1, §4.2: no DNS at all
            transport = self._require(server.transport or self._default)
            return [TransportAddress(transport, host, server.port or DEFAULT_PORTS[transport])]
        if server.port is not None:  # §4.2: a name with a port: A/AAAA only
            transport = self._require(server.transport or self._default)
            return [TransportAddress(transport, ip, server.port) for ip in (yield from self._addresses(host))]
        if server.transport is not None:
            fallback = self._require(server.transport)
            services = [(fallback, _srv_name(fallback, host))]
        else:
            naptr = yield Query(host, "NAPTR")
            services = self._services(naptr)
            fallback = services[0][0] if services else self._default
            if not services:
                spoken = ("tls",) if server.secure else self.transports
                services = [(t, _srv_name(t, host)) for t in spoken if t in self.transports]
        srv_found = False
        for transport, name in services:
            records: Sequence[Srv] = yield Query(name, "SRV")
            srv_found = srv_found or bool(records)
            targets: list[TransportAddress] = []
            ordered = order_srv(records, self.rng)
            if len(ordered) > MAX_SRV_TARGETS:
                self.trace.append(f"SRV {name}: only the first {MAX_SRV_TARGETS} of {len(ordered)} targets tried")
                ordered = ordered[:MAX_SRV_TARGETS]
            for record in ordered:
                target = _name(record.target)
                if not target:  # "." : decidedly not available (RFC 2782)
                    self.trace.append(f"SRV {name}: target \".\": the service is not available at this domain")
                    continue
                for ip in (yield from self._addresses(target)):
                    targets.append(TransportAddress(transport, ip, record.port))
            if targets:
                return targets
        if srv_found:
            return []
        return [TransportAddress(fallback, ip, DEFAULT_PORTS[fallback]) for ip in (yield from self._addresses(host))]

    def _services(self, records: Sequence[Naptr]) -> list[tuple[str, str]]:
        """RFC 3263 §4.1: the NAPTR records of flag "s" whose service this client speaks, by order then
        preference, as (transport, SRV name). LocateError when there are records but none usable."""
        usable: list[tuple[int, int, str, str]] = []
        offered: list[str] = []
        for record in records:
            transport = NAPTR_SERVICES.get(record.service.lower())
            if record.flags.lower() != "s" or transport is None:
                continue
            offered.append(record.service.upper())
            if transport in self.transports and (transport == "tls" or not self.server.secure):  # sips: SIPS+D2T
                usable.append((record.order, record.preference, transport, _name(record.replacement)))
        usable.sort(key=lambda u: (u[0], u[1]))
        if records and not usable:
            what = ", ".join(dict.fromkeys(offered)) or "no SIP service (flag \"s\", SIP+D2U or SIP+D2T)"
            speaks = ", ".join(_SERVICE_OF[t] for t in self.transports if not self.server.secure or t == "tls")
            raise LocateError(f"{self.server}: its NAPTR records offer {what}; this client speaks "
                              f"{speaks or 'no TLS (a sips: URI needs SIPS+D2T)'}")
        return [(transport, replacement) for _, _, transport, replacement in usable if replacement]

    def _addresses(self, name: str) -> Generator[Query, Sequence[Any], list[str]]:
        out: list[str] = []
        for family in self.families:
            records = yield Query(name, family)
            for record in records:
                text = str(record)
                if is_ip_address(text):
                    out.append(str(ipaddress.ip_address(text)))
        return out


_SERVICE_OF = {"udp": "SIP+D2U", "tcp": "SIP+D2T", "tls": "SIPS+D2T"}


def _srv_name(transport: str, host: str) -> str:
    """RFC 3263 §4.1: ``_sip._udp``, ``_sip._tcp``, and ``_sips._tcp`` for TLS."""
    return f"_sips._tcp.{host}" if transport == "tls" else f"_sip._{transport}.{host}"


def _unique(targets: Iterable[TransportAddress]) -> list[TransportAddress]:
    return list(dict.fromkeys(targets))


def locate_from_records(server: ServerName | str, records: Mapping[tuple[str, str], Sequence[Any]], *,
                        rng: Rng, transports: Sequence[str] = TRANSPORTS,
                        families: Sequence[str] = FAMILIES) -> list[TransportAddress]:
    """The targets for ``server`` with DNS given as data: ``{(name, type): records}`` (names compared
    case-insensitively, without a trailing dot; a missing key is no records)."""
    if isinstance(server, str):
        server = parse_server(server)
    table = {(_name(name), rdtype.upper()): list(answer) for (name, rdtype), answer in records.items()}
    locator = Locator(server, rng=rng, transports=transports, families=families)
    while (query := locator.next_query()) is not None:
        locator.answer(query, table.get((query.name, query.rdtype), ()))
    return locator.targets()
