"""The trunk located through DNS, its first SRV target silent (RFC 3263 §4.3; features/dns_failover.feature).

A scenario tagged ``@dns`` gets, besides its usual roles, a silent first SRV target: an address of the run's
loopback block (the roles' /24, host .21, the ladder's ``Silent`` column) where a UDP socket takes every
datagram and answers none (no ICMP error either, so only Timer B ends the wait). The harness starts its own
DNS server for the scenario, dnsmasq on host .22 of that block (found on PATH, or in /usr/sbin), serving
the trunk's domain as a provider would publish it:

    NAPTR example.trunk.voipbin.net   10 50 "s" "SIP+D2U" -> _sip._udp.example.trunk.voipbin.net
    SRV   _sip._udp.example...        sip1 (priority 10) at the silent port, sip2 (priority 20) at the trunk's
    A     sip1 -> 127.0.0.21          sip2 -> the trunk (the embedded reference server or the equipment)

The UA then has no trunk address: it locates the trunk from its Request-URI through that server, sends its
INVITE to sip1, retransmits it (Timer A) until Timer B, and moves on to sip2. T1 may be shortened for the
scenario (RFC 3261 §17.1.1.1 allows a smaller T1 in a closed network): Timer B is 64*T1 all the same.
Not applicable without dnsmasq, or when the roles are not on loopback (the silent target and the DNS
server need addresses of the roles' loopback block, and the capture must see them).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.adapters.dnsmasq import DNSMASQ_MISSING, Dnsmasq, Zone, find_dnsmasq, free_port
from harness.capture.decode import DecodedMessage
from harness.capture.observation import Observation
from harness.topology import Addr, Topology
from sipcore.timers import TimerConfig

__all__ = ["DNS_TAG", "SILENT", "DnsFailover", "check_failover", "check_located", "not_applicable",
           "scenario_topology", "silent_ip"]

DNS_TAG = "dns"
SILENT = "Silent"
"""The ladder column of the silent first SRV target."""
SILENT_HOST, DNS_HOST = 21, 22
"""Hosts of the roles' /24 for the silent target and the scenario's DNS server."""
EARLY = 0.01
"""Seconds a capture timestamp may precede the timer it shows (the timer cannot fire early)."""
SEND_LAG = 0.25
"""Of T1, how late a send may reach the wire after its transaction armed Timer A (a loaded machine): the
next retransmission's gap on the wire shrinks by as much. A UA that does not double is still caught from
the second retransmission on (a fixed 1 x T1 gap against 2 x T1 due)."""
PROMPT = 1.0
"""Seconds after Timer B within which the UA must have moved on to the next target."""


def _block_host(roles: Mapping[str, str], host: int) -> str | None:
    """Host ``host`` of the /24 of the UA's address, when that is on IPv4 loopback; else None."""
    ua = ipaddress.ip_address(roles["UA"])
    if ua.version != 4 or not ua.is_loopback:
        return None
    return str(ipaddress.IPv4Network(f"{ua}/24", strict=False).network_address + host)


def silent_ip(roles: Mapping[str, str]) -> str | None:
    """The silent SRV target's address for these roles (host .21 of the UA's loopback /24); None off loopback."""
    return _block_host(roles, SILENT_HOST)


def not_applicable(tags: Iterable[str], roles: Mapping[str, str], interface: str = "lo") -> str | None:
    """Why a scenario with these tags cannot run in this run (None when it can, or is not a DNS scenario)."""
    if DNS_TAG not in {t.lstrip("@").lower() for t in tags}:
        return None
    if find_dnsmasq() is None:
        return f"not applicable: the scenario's DNS server cannot start: {DNSMASQ_MISSING}"
    if _block_host(roles, SILENT_HOST) is None:
        return (f"not applicable: the silent SRV target and the DNS server need addresses of the roles' loopback "
                f"block, and the harness's UA is at {roles['UA']}")
    if interface != "lo":
        return f"not applicable: the silent SRV target is on loopback, which a capture on {interface} does not see"
    return None


def scenario_topology(topology: Topology, tags: Iterable[str], roles: Mapping[str, str]) -> Topology:
    """``topology``, for a DNS scenario with the silent target's address as the ``Silent`` role (so the capture
    takes it in and the ladder draws it); unchanged for any other scenario."""
    ip = _block_host(roles, SILENT_HOST)
    if DNS_TAG not in {t.lstrip("@").lower() for t in tags} or ip is None:
        return topology
    return replace(topology, aliases=(*topology.aliases, (ip, SILENT)))


def silent_address(topology: Topology) -> Addr:
    """Where the silent target listens: the ``Silent`` address, at the trunk's port (same port, another host,
    as a provider's two servers would be); inside the scenario's capture filter."""
    for ip, role in topology.aliases:
        if role == SILENT:
            return ip, topology.trunk[1]
    raise RuntimeError("this scenario has no silent SRV target: tag it @dns")


@dataclass
class DnsFailover:
    """One scenario's DNS server and silent first SRV target; :meth:`close` stops both."""

    domain: str
    first: Addr  # silent
    second: Addr  # the trunk
    server: Dnsmasq
    zone: Zone
    silent: socket.socket
    t1: float = TimerConfig().t1

    @classmethod
    def start(cls, domain: str, topology: Topology, log: Path) -> DnsFailover:
        """Bind the silent socket, then start dnsmasq (bounded) serving ``domain``; its log goes to ``log``."""
        first, second = silent_address(topology), topology.trunk
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            silent.bind(first)
        except OSError as exc:
            silent.close()
            raise RuntimeError(f"the silent SRV target cannot bind {first[0]}:{first[1]}: {exc.strerror}") from None
        zone = Zone(domain.split(".", 1)[1] if "." in domain else domain)
        zone.naptr(domain, 10, 50, "SIP+D2U", f"_sip._udp.{domain}")
        zone.srv(f"_sip._udp.{domain}", f"sip1.{domain}", first[1], priority=10)
        zone.srv(f"_sip._udp.{domain}", f"sip2.{domain}", second[1], priority=20)
        zone.host(f"sip1.{domain}", first[0])
        zone.host(f"sip2.{domain}", second[0])
        dns_ip = _block_host({"UA": first[0]}, DNS_HOST)
        assert dns_ip is not None  # the silent address is on loopback
        try:
            server = Dnsmasq.start(zone, dns_ip, free_port(dns_ip), log=log)
        except Exception:
            silent.close()
            raise
        return cls(domain, first, second, server, zone, silent)

    @property
    def timer_b(self) -> float:
        return 64 * self.t1

    def ua_changes(self) -> dict[str, Any]:
        """The UA's settings in this scenario: no trunk address (DNS finds it), this DNS server, this T1; its
        ring timeout leaves Timer B's wait out."""
        return {"target": None, "alternates": (), "dns": self.server.address, "timers": TimerConfig(t1=self.t1),
                "ring_timeout_ms": 5000 + round(self.timer_b * 1000)}

    def notes(self) -> list[str]:
        host, port = self.server.address
        return [f"DNS: dnsmasq on {host}:{port} served " + "; ".join(self.zone.records),
                "DNS queries: " + (", ".join(f"{t} {n}" for t, n in self.server.queries() if t != "SOA") or "none")]

    def close(self) -> None:
        self.server.stop()
        self.silent.close()


def check_located(failover: DnsFailover) -> None:
    """The UA asked the scenario's DNS server, in RFC 3263's order: NAPTR of the domain, SRV of the NAPTR
    record's replacement, A of the SRV targets. AssertionError naming what it asked otherwise."""
    asked = [(t, n.lower()) for t, n in failover.server.queries() if t != "SOA"]
    d = failover.domain
    wanted = [("NAPTR", d), ("SRV", f"_sip._udp.{d}"), ("A", f"sip1.{d}"), ("A", f"sip2.{d}")]
    if asked[:len(wanted)] != wanted:
        raise AssertionError("the UA did not locate the trunk as RFC 3263 §4 says: expected the queries "
                             + ", ".join(f"{t} {n}" for t, n in wanted) + "; the DNS server was asked "
                             + (", ".join(f"{t} {n}" for t, n in asked) or "nothing"))


def check_failover(obs: Observation, failover: DnsFailover) -> str:
    """The INVITE to the silent first target retransmitted with Timer A doubling from T1 (RFC 3261
    §17.1.1.2), then, once Timer B (64*T1) fired and not before, the same INVITE (Call-ID, CSeq) as a new
    transaction (branch) to the trunk (RFC 3263 §4.3), and nothing more to the silent target. Returns a note
    with the observed schedule; AssertionError naming the frames otherwise."""
    t1, timer_b = failover.t1, failover.timer_b
    invites = [m for m in obs.decoded if isinstance(m, DecodedMessage) and m.method == "INVITE"
               and obs.role(m.src) == "UA"]
    silent = [m for m in invites if obs.role(m.dst) == SILENT]
    if not silent:
        raise AssertionError(f"the UA sent no INVITE to the first SRV target ({SILENT}, {failover.first[0]}:"
                             f"{failover.first[1]})")
    first = silent[0]
    moved = next((m for m in invites if obs.role(m.dst) == "VoIPBin" and m.call_id == first.call_id), None)
    if moved is None:
        raise AssertionError(f"the UA never sent the INVITE (Call-ID {first.call_id}) to the second SRV target "
                             f"(VoIPBin, {failover.second[0]}:{failover.second[1]})")
    before = [m for m in silent if m.time < moved.time]
    after = [m for m in silent if m.time >= moved.time]
    if after:
        raise AssertionError(f"the UA sent the INVITE to {SILENT} again after moving on ({obs.where(after[0])})")
    other = [m for m in before if (m.call_id, m.cseq_num, m.via_branch) != (first.call_id, first.cseq_num, first.via_branch)]
    if other:
        raise AssertionError(f"{obs.where(other[0])} is not a retransmission of the INVITE in frame {first.frame_no}")
    for k in range(1, len(before)):
        gap, due = before[k].time - before[k - 1].time, t1 * 2 ** (k - 1)
        if gap < due - EARLY - SEND_LAG * t1:
            raise AssertionError(f"retransmission {k} of the INVITE ({obs.where(before[k])}) came {gap * 1000:.0f} ms "
                                 f"after the previous send; Timer A is due after {due * 1000:g} ms (T1 doubling)")
    due_sends = 7  # at 0, 1, 3, 7, 15, 31 and 63 T1, before Timer B at 64 T1; the last may lose that race
    if len(before) < due_sends - 1:
        raise AssertionError(f"the UA sent the INVITE {len(before)} times to {SILENT} before moving on; Timer A "
                             f"retransmits it {due_sends - 1} times within Timer B ({timer_b:g} s)")
    waited = moved.time - first.time
    if waited < timer_b - EARLY:
        raise AssertionError(f"the UA moved on to VoIPBin ({obs.where(moved)}) {waited:.3f} s after its first INVITE, "
                             f"before Timer B ({timer_b:g} s) fired")
    if waited > timer_b + PROMPT:
        raise AssertionError(f"the UA moved on to VoIPBin ({obs.where(moved)}) only {waited:.3f} s after its first "
                             f"INVITE; Timer B fired at {timer_b:g} s")
    if moved.cseq_num != first.cseq_num or moved.via_branch == first.via_branch:
        raise AssertionError(f"the INVITE to VoIPBin ({obs.where(moved)}: CSeq {moved.cseq_num}, branch "
                             f"{moved.via_branch}) is not the same request as a new transaction (CSeq "
                             f"{first.cseq_num}, a branch other than {first.via_branch}: RFC 3263 §4.3)")
    gaps = ", ".join(f"{(b.time - a.time) * 1000:.0f}" for a, b in zip(before, before[1:], strict=False))
    return (f"failover: {len(before)} INVITEs to {SILENT} (frames {before[0].frame_no}-{before[-1].frame_no}; "
            f"retransmitted after {gaps} ms), then the INVITE to VoIPBin {waited:.3f} s after the first (Timer B "
            f"{timer_b:g} s = 64 x T1 {t1 * 1000:g} ms)")
