"""A real DNS server for tests: dnsmasq (Debian ``dnsmasq-base``, run by harness.adapters.dnsmasq) serving
NAPTR, SRV and A records given as data, on an address of the test process's own loopback block and a port
other than 53. It reads no file of the machine and forwards nothing, so the machine's resolver settings
never play a part.

    zone = Zone("trunk.voipbin.net")
    zone.naptr("example.trunk.voipbin.net", 10, 50, "SIP+D2U", "_sip._udp.example.trunk.voipbin.net")
    zone.srv("_sip._udp.example.trunk.voipbin.net", "sip1.example.trunk.voipbin.net", 5070, priority=10, weight=60)
    zone.host("sip1.example.trunk.voipbin.net", "127.N.53.61")
    with dnsmasq(zone) as server:         # (ip, port); started within 5 s, killed at the end
        ...
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

from harness.adapters.dnsmasq import DNSMASQ_MISSING, Dnsmasq, Zone, find_dnsmasq

from .addresses import block

__all__ = ["TRUNK", "Zone", "dnsmasq", "dnsmasq_missing", "trunk_zone"]

PORT = 5353
_hosts = itertools.count(1)


def dnsmasq_missing() -> str | None:
    """Why the DNS tests cannot run (None when they can)."""
    return DNSMASQ_MISSING if find_dnsmasq() is None else None


@contextlib.contextmanager
def dnsmasq(zone: Zone, ip: str | None = None, port: int = PORT) -> Iterator[tuple[str, int]]:
    """Run dnsmasq for ``zone`` on ``ip`` (default: a fresh address 127.N.53.x of this process's block) and
    ``port`` while the block runs; yields (ip, port). Fails, with dnsmasq's own output, when it does not
    answer within 5 seconds (harness.adapters.dnsmasq)."""
    ip = ip or block().ip(next(_hosts) % 250 + 1, subnet=53)
    with Dnsmasq.start(zone, ip, port) as server:
        yield server.address

TRUNK = "example.trunk.voipbin.net"


def trunk_zone(first: tuple[str, int], second: tuple[str, int], tcp: tuple[str, int] | None = None, *,
               weights: tuple[int, int] = (0, 0), same_priority: bool = False, domain: str = TRUNK) -> Zone:
    """``example.trunk.voipbin.net`` (or ``domain``) as a trunk provider would publish it: NAPTR SIP+D2U
    (order 10) and SIP+D2T (order 20); ``_sip._udp`` SRV to sip1 (``first``, priority 10) and sip2
    (``second``, priority 20, or 10 with ``same_priority``), with ``weights``; ``_sip._tcp`` SRV to sip3
    (``tcp``) when given; A records for each."""
    zone = Zone(domain.split(".", 1)[1])
    zone.naptr(domain, 10, 50, "SIP+D2U", f"_sip._udp.{domain}")
    zone.naptr(domain, 20, 50, "SIP+D2T", f"_sip._tcp.{domain}")
    zone.srv(f"_sip._udp.{domain}", f"sip1.{domain}", first[1], priority=10, weight=weights[0])
    zone.srv(f"_sip._udp.{domain}", f"sip2.{domain}", second[1], priority=10 if same_priority else 20,
             weight=weights[1])
    zone.host(f"sip1.{domain}", first[0])
    zone.host(f"sip2.{domain}", second[0])
    if tcp is not None:
        zone.srv(f"_sip._tcp.{domain}", f"sip3.{domain}", tcp[1], priority=10)
        zone.host(f"sip3.{domain}", tcp[0])
    return zone
