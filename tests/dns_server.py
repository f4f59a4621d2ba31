"""A real DNS server for tests: dnsmasq (Debian ``dnsmasq-base``) serving NAPTR, SRV and A records given as
data, on an address of the test process's own loopback block and a port other than 53. It reads no file
of the machine (``--conf-file=/dev/null --no-hosts --no-resolv``) and forwards nothing: a name it does not
hold is NXDOMAIN (``--local``), so the machine's resolver settings never play a part.

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
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import dns.message
import dns.query
import dns.rcode

from .addresses import block

__all__ = ["DNSMASQ", "TRUNK", "Zone", "dnsmasq", "dnsmasq_missing", "trunk_zone"]

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
PORT = 5353
START_TIMEOUT = 5.0
_hosts = itertools.count(1)


def dnsmasq_missing() -> str | None:
    """Why the DNS tests cannot run (None when they can)."""
    if shutil.which(DNSMASQ) is None:
        return "dnsmasq is not installed (Debian package dnsmasq-base; scripts/setup.sh installs it)"
    return None


@dataclass
class Zone:
    """The records to serve. ``local``: the domain answered from these records alone (NXDOMAIN otherwise)."""

    local: str
    options: list[str] = field(default_factory=list)

    def naptr(self, name: str, order: int, preference: int, service: str, replacement: str,
              flags: str = "s") -> Zone:
        self.options.append(f"--naptr-record={name},{order},{preference},{flags},{service},,{replacement}")
        return self

    def srv(self, name: str, target: str, port: int, *, priority: int = 10, weight: int = 0) -> Zone:
        self.options.append(f"--srv-host={name},{target},{port},{priority},{weight}")
        return self

    def host(self, name: str, *addresses: str) -> Zone:
        self.options.append(f"--host-record={name},{','.join(addresses)}")
        return self


def _answers(ip: str, port: int, name: str) -> bool:
    query = dns.message.make_query(name, "SOA")
    try:
        reply = dns.query.udp(query, ip, timeout=0.2, port=port)
    except (OSError, dns.exception.Timeout):
        return False
    return reply.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)


@contextlib.contextmanager
def dnsmasq(zone: Zone, ip: str | None = None, port: int = PORT) -> Iterator[tuple[str, int]]:
    """Run dnsmasq for ``zone`` on ``ip`` (default: a fresh address 127.N.53.x of this process's block) and
    ``port`` while the block runs; yields (ip, port). Fails, with dnsmasq's own output, when it does not
    answer within START_TIMEOUT seconds."""
    ip = ip or block().ip(next(_hosts) % 250 + 1, subnet=53)
    command = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
               "--pid-file=", "--user=root", "--group=root", "--bind-interfaces", f"--listen-address={ip}",
               f"--port={port}", "--log-facility=-", "--log-queries", f"--local=/{zone.local}/", *zone.options]
    # not a pipe: dnsmasq logs every query and would block once a pipe nobody reads is full
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _answers(ip, port, zone.local):
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    process.wait(5)
                    log.seek(0)
                    raise RuntimeError(f"dnsmasq did not answer on {ip}:{port} within {START_TIMEOUT:g} s (exit "
                                       f"status {process.returncode}): {log.read().strip()}\n{' '.join(command)}")
                time.sleep(0.05)
            yield ip, port
        finally:
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)

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
