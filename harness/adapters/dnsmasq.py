"""dnsmasq (Debian ``dnsmasq-base``) as a DNS server serving given NAPTR, SRV and A/AAAA records, for the
scenarios that locate the trunk as RFC 3263 says (and for the tests). It reads no file of the machine
(``--conf-file=/dev/null --no-hosts --no-resolv``) and forwards nothing: a name of its zone it does not hold
is NXDOMAIN (``--local``), so the machine's resolver settings never play a part.

    zone = Zone("trunk.voipbin.net")
    zone.naptr("example.trunk.voipbin.net", 10, 50, "SIP+D2U", "_sip._udp.example.trunk.voipbin.net")
    zone.srv("_sip._udp.example.trunk.voipbin.net", "sip1.example.trunk.voipbin.net", 5070, priority=10)
    zone.host("sip1.example.trunk.voipbin.net", "127.0.0.61")
    server = Dnsmasq.start(zone, "127.0.0.22", 5353, log=Path("dns.log"))   # answers within 5 s, or DnsmasqError
    ...
    server.stop()                                                           # killed, bounded

Every query it answers is logged (``--log-queries``) to ``log``: :meth:`Dnsmasq.queries` lists them.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import dns.exception
import dns.message
import dns.query
import dns.rcode

__all__ = ["DNSMASQ_MISSING", "Dnsmasq", "DnsmasqError", "Zone", "find_dnsmasq", "free_port"]

DNSMASQ_MISSING = "dnsmasq is missing (not on PATH nor in /usr/sbin: install the Debian package dnsmasq-base)"
START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0
_QUERY = re.compile(r"query\[(\w+)\] (\S+) from")


def find_dnsmasq() -> str | None:
    """The dnsmasq binary: on PATH, else in /usr/sbin or /sbin (where Debian puts it; not on a user's
    PATH); None when it is not installed."""
    return shutil.which("dnsmasq") or shutil.which("dnsmasq", path=os.pathsep.join(("/usr/sbin", "/sbin")))


def free_port(ip: str) -> int:
    """A UDP port free on ``ip`` right now (for the DNS server to bind)."""
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((ip, 0))
        return int(sock.getsockname()[1])


class DnsmasqError(RuntimeError):
    """dnsmasq is missing, or did not answer in time (the message has its own output)."""


@dataclass
class Zone:
    """The records to serve. ``local``: the domain answered from these records alone (NXDOMAIN otherwise)."""

    local: str
    options: list[str] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    """What the zone holds, one line a record, for a report (``SRV _sip._udp.example.net: sip1... :5070 ...``)."""

    def naptr(self, name: str, order: int, preference: int, service: str, replacement: str,
              flags: str = "s") -> Zone:
        self.options.append(f"--naptr-record={name},{order},{preference},{flags},{service},,{replacement}")
        self.records.append(f"NAPTR {name}: {order} {preference} \"{flags}\" \"{service}\" -> {replacement}")
        return self

    def srv(self, name: str, target: str, port: int, *, priority: int = 10, weight: int = 0) -> Zone:
        self.options.append(f"--srv-host={name},{target},{port},{priority},{weight}")
        self.records.append(f"SRV {name}: {target}:{port} (priority {priority}, weight {weight})")
        return self

    def host(self, name: str, *addresses: str) -> Zone:
        self.options.append(f"--host-record={name},{','.join(addresses)}")
        self.records.append(f"A/AAAA {name}: {', '.join(addresses)}")
        return self


def _answers(ip: str, port: int, name: str) -> bool:
    query = dns.message.make_query(name, "SOA")
    try:
        reply = dns.query.udp(query, ip, timeout=0.2, port=port)
    except (OSError, dns.exception.Timeout):
        return False
    return reply.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)


class Dnsmasq:
    """A running dnsmasq serving one zone on (ip, port)."""

    def __init__(self, process: subprocess.Popen[str], address: tuple[str, int], log: IO[str],
                 command: list[str]) -> None:
        self.process = process
        self.address = address
        self.command = command
        self._log = log
        self._final: str | None = None  # its output once stopped

    @classmethod
    def start(cls, zone: Zone, ip: str, port: int, *, log: Path | None = None,
              timeout: float = START_TIMEOUT) -> Dnsmasq:
        """dnsmasq for ``zone`` on ``ip``:``port`` (UDP and TCP), answering within ``timeout`` seconds;
        DnsmasqError, with dnsmasq's own output, otherwise. Its log goes to ``log`` (default: a temporary
        file), not a pipe: dnsmasq logs every query and would block once a pipe nobody reads is full."""
        binary = find_dnsmasq()
        if binary is None:
            raise DnsmasqError(DNSMASQ_MISSING)
        user = ["--user=root", "--group=root"] if os.geteuid() == 0 else []  # root: keep it, do not become nobody
        command = [binary, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                   "--pid-file=", *user, "--bind-interfaces", f"--listen-address={ip}", f"--port={port}",
                   "--log-facility=-", "--log-queries", f"--local=/{zone.local}/", *zone.options]
        # kept open while it runs (hence no context manager)
        out: IO[str] = log.open("w+", encoding="utf-8") if log is not None else tempfile.TemporaryFile("w+")  # noqa: SIM115
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True)
        server = cls(process, (ip, port), out, command)
        deadline = time.monotonic() + timeout
        while not _answers(ip, port, zone.local):
            if process.poll() is not None or time.monotonic() > deadline:
                said = server.output()
                server.stop()
                raise DnsmasqError(f"dnsmasq did not answer on {ip}:{port} within {timeout:g} s (exit status "
                                   f"{process.poll()}): {said or 'no output'}\n{' '.join(command)}")
            time.sleep(0.05)
        return server

    def output(self) -> str:
        """What dnsmasq wrote so far (all of it once stopped)."""
        if self._final is not None:
            return self._final
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().strip()
        self._log.seek(0, os.SEEK_END)
        return text

    def queries(self) -> list[tuple[str, str]]:
        """The queries it was asked, in order: (type, name), e.g. ("SRV", "_sip._udp.example.net")."""
        return [(m[1], m[2]) for m in _QUERY.finditer(self.output())]

    def stop(self) -> None:
        """Kill it (bounded); safe to call twice."""
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        if self._final is None:
            self._final = self.output()
            self._log.close()

    def __enter__(self) -> Dnsmasq:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
