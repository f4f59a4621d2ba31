"""RFC 3263 server location over real DNS: dnspython's asyncio resolver answers the queries of
:class:`sipcore.locate.Locator`, each bounded by a timeout.

    resolver = SipResolver(("127.0.0.53", 5353))      # None: the system's resolver (/etc/resolv.conf)
    targets = await resolver.locate("sip:+15550100@example.trunk.voipbin.net", transports=("udp",),
                                    families=("A",))  # [TransportAddress("udp", "127.0.0.61", 5070), ...]

NXDOMAIN and no data are "no records" (the locator falls back as RFC 3263 says); SERVFAIL or REFUSED
from every server is no records too, and the trace says so; no answer within the timeout ends the
location with a :class:`~sipcore.locate.LocateError` naming the query and the server. Answers are cached
for their TTL (dnspython's cache), so a server locating the same destination for every call asks DNS
once per TTL. ``locate_blocking`` is for callers outside an event loop (a configuration loader).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
from collections.abc import Sequence
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver

from ..locate import (
    FAMILIES,
    TRANSPORTS,
    LocateError,
    Locator,
    Naptr,
    Query,
    Rng,
    ServerName,
    Srv,
    parse_server,
)
from ..transport_address import TransportAddress, bracketed

__all__ = ["DEFAULT_TIMEOUT", "SipResolver", "locate_blocking"]

DEFAULT_TIMEOUT = 2.0
"""Seconds a query may take (retries within it included) before location gives up."""


class SipResolver:
    """RFC 3263 location with ``nameserver`` (IP, port), or the system's resolver when None."""

    def __init__(self, nameserver: tuple[str, int] | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                 rng: Rng | None = None, cache: bool = True) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout {timeout!r}: give seconds above 0")
        self.nameserver = nameserver
        self.timeout = timeout
        self.rng: Rng = rng if rng is not None else random.SystemRandom()
        self.cache = cache
        self.trace: list[str] = []
        """The queries of the last :meth:`locate` and what each answered."""
        self._resolver: dns.asyncresolver.Resolver | None = None

    @property
    def server_text(self) -> str:
        """``127.0.0.53:5353``, or ``the system resolver`` (its servers when known)."""
        if self.nameserver is not None:
            return f"{bracketed(self.nameserver[0])}:{self.nameserver[1]}"
        servers = ", ".join(str(s) for s in self._resolver.nameservers) if self._resolver else ""
        return f"the system resolver ({servers})" if servers else "the system resolver"

    def _dns(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            if self.nameserver is not None:
                resolver = dns.asyncresolver.Resolver(configure=False)
                resolver.nameservers = [self.nameserver[0]]
                resolver.port = self.nameserver[1]
            else:
                try:
                    resolver = dns.asyncresolver.Resolver()
                except (dns.resolver.NoResolverConfiguration, OSError) as exc:
                    raise LocateError(f"no DNS server is configured on this machine ({exc}): name one with "
                                      "--dns IP[:PORT]") from None
            resolver.timeout = resolver.lifetime = self.timeout
            if self.cache:
                resolver.cache = dns.resolver.Cache()
            self._resolver = resolver
        return self._resolver

    async def query(self, query: Query) -> tuple[list[Any], str | None]:
        """``(records, problem)`` for one query; LocateError when the server does not answer in time."""
        resolver = self._dns()
        try:
            answer = await resolver.resolve(dns.name.from_text(query.name), query.rdtype, search=False,
                                            lifetime=self.timeout)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return [], None
        except dns.exception.Timeout:
            raise LocateError(f"{query}: no answer from the DNS server {self.server_text} within "
                              f"{self.timeout:g} s") from None
        except dns.resolver.NoNameservers as exc:
            return [], f"no usable answer ({_errors(exc)})"
        except dns.exception.DNSException as exc:
            return [], f"{type(exc).__name__}: {exc}"
        return [_record(rdata) for rdata in answer], None

    async def locate(self, server: ServerName | str, *, transports: Sequence[str] = TRANSPORTS,
                     families: Sequence[str] = FAMILIES) -> list[TransportAddress]:
        """The transport addresses to try for ``server`` (a URI or ``[transport:]host[:port]``), in order."""
        if isinstance(server, str):
            server = parse_server(server)
        locator = Locator(server, rng=self.rng, transports=transports, families=families)
        self.trace = locator.trace
        while (query := locator.next_query()) is not None:
            try:
                records, problem = await self.query(query)
            except LocateError as exc:
                done = "; ".join(locator.trace)
                raise LocateError(f"cannot locate {server}: {done + '; ' if done else ''}{exc}") from None
            locator.answer(query, records, problem)
        return locator.targets()


def _record(rdata: Any) -> Any:
    rdtype = rdata.rdtype.name if hasattr(rdata.rdtype, "name") else str(rdata.rdtype)
    if rdtype == "NAPTR":
        return Naptr(rdata.order, rdata.preference, rdata.flags.decode("ascii", "replace"),
                     rdata.service.decode("ascii", "replace"), rdata.regexp.decode("ascii", "replace"),
                     rdata.replacement.to_text(omit_final_dot=True))
    if rdtype == "SRV":
        return Srv(rdata.priority, rdata.weight, rdata.port, rdata.target.to_text(omit_final_dot=True))
    return str(rdata.address)


def _errors(exc: dns.resolver.NoNameservers) -> str:
    errors = exc.kwargs.get("errors") or []
    said = [f"{server} answered {error}" if not isinstance(error, Exception) else f"{server}: {error}"
            for server, _tcp, _port, error in ((e[0], e[1], e[2], e[3]) for e in errors)]
    return "; ".join(dict.fromkeys(said)) or "every DNS server failed"


def locate_blocking(server: ServerName | str, *, nameserver: tuple[str, int] | None = None,
                    timeout: float = DEFAULT_TIMEOUT, rng: Rng | None = None,
                    transports: Sequence[str] = TRANSPORTS,
                    families: Sequence[str] = FAMILIES) -> list[TransportAddress]:
    """:meth:`SipResolver.locate` for a caller that is not a coroutine (it runs its own event loop, in a
    worker thread when this thread already runs one). Bounded by the queries' timeouts."""
    resolver = SipResolver(nameserver, timeout=timeout, rng=rng)

    def run() -> list[TransportAddress]:
        return asyncio.run(resolver.locate(server, transports=transports, families=families))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()
