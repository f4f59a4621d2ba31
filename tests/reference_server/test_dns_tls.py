"""A TLS destination named by its SIP domain and located through DNS (RFC 3263: NAPTR SIPS+D2T, SRV
``_sips._tcp``, A, served by dnsmasq), its certificate checked against that domain, never against the SRV
target's host name or the address DNS led to (RFC 5922 §4). The UA reaches the trunk over TLS too, found the
same way from a sips: URI."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from harness.suite.tls_certs import CertFiles, TestCA
from reference_server.config import load_config
from reference_server.server import ReferenceServer, with_listen
from simulator.destination import Destination, script_for
from simulator.settings import DestinationSettings, UaSettings
from simulator.ua import UserAgent
from sipcore.aio.resolver import SipResolver
from sipcore.aio.tls import TlsOptions

from ..addresses import loopback
from ..dns_server import Zone, dnsmasq, dnsmasq_missing

pytestmark = pytest.mark.skipif(dnsmasq_missing() is not None, reason=str(dnsmasq_missing()))

DOMAIN = "example.trunk.voipbin.net"
CARRIER = "carrier.test"
TRUNK_IP, UA_IP, DEST_IP = loopback(20, subnet=56), loopback(10, subnet=56), loopback(30, subnet=56)
DEST_PORT = 5071


def _zone() -> Zone:
    zone = Zone(CARRIER)
    zone.naptr(CARRIER, 10, 10, "SIP+D2U", f"_sip._udp.{CARRIER}")  # preferred, but a sips: URI takes TLS only
    zone.naptr(CARRIER, 20, 10, "SIPS+D2T", f"_sips._tcp.{CARRIER}")
    zone.srv(f"_sip._udp.{CARRIER}", f"udp.{CARRIER}", 5999, priority=10)
    zone.srv(f"_sips._tcp.{CARRIER}", f"edge1.{CARRIER}", DEST_PORT, priority=10)
    return zone.host(f"edge1.{CARRIER}", DEST_IP).host(f"udp.{CARRIER}", "192.0.2.99")


def _config(tmp: Path, dns: tuple[str, int]) -> str:
    return f"""
[server]
listen = ["tls:{TRUNK_IP}:5061"]
dns = "{dns[0]}:{dns[1]}"
[media]
address = "{TRUNK_IP}"
port_min = 41200
port_max = 41299
[tls]
cert = "trunk.pem"
key = "trunk.key"
ca_file = "ca.pem"
[[trunk]]
domain_name = "example"
username = "alice"
password = "secret"
destination = "sips:{CARRIER}"
"""


async def _call(tmp: Path, ca: TestCA, dest_cert: CertFiles, dns: tuple[str, int]) -> tuple[Any, list[str]]:
    dest = await Destination.start(DestinationSettings(
        listen=(DEST_IP, DEST_PORT), transport="TLS", script=script_for(),
        tls=TlsOptions(cert=dest_cert.cert, key=dest_cert.key, ca_file=ca.ca_file)))
    cfg = tmp / "server.toml"
    cfg.write_text(_config(tmp, dns))
    server = ReferenceServer(with_listen(load_config(cfg), f"tls:{TRUNK_IP}:0"))
    await server.start()
    ua = await UserAgent.start(UaSettings(
        listen=(UA_IP, 0), transport="TLS", password="secret", target=server.endpoints[0].local_addr,
        domain=DOMAIN, hold_ms=200, tls=TlsOptions(ca_file=ca.ca_file, accept=False)))
    try:
        result = await asyncio.wait_for(ua.call("+15550100"), 15)
        uris = [str(e.detail.get("raw", "")).split(" ", 2)[1] for e in dest.record.select("sip-received")
                if e.is_request and e.detail.get("method") == "INVITE"]
        return result, uris
    finally:
        await ua.stop()
        await server.stop()
        await dest.stop()


def test_a_sips_destination_is_located_by_naptr_and_srv_and_certified_for_its_domain(tmp_path: Path) -> None:
    ca = TestCA.create(tmp_path)
    ca.issue("trunk", dns=[DOMAIN], ips=[TRUNK_IP])
    dest_cert = ca.issue("carrier", dns=[CARRIER])  # the SIP domain only: not edge1.carrier.test, no IP SAN
    with dnsmasq(_zone()) as dns:
        result, uris = asyncio.run(_call(tmp_path, ca, dest_cert, dns))
    assert result.status == 200, f"{result.status} {result.reason}"
    assert uris == [f"sips:+15550100@{CARRIER}"]


def test_a_certificate_for_the_srv_target_only_is_refused(tmp_path: Path) -> None:
    """RFC 5922 §4: the name to check is the domain asked for; a certificate naming only the host DNS led to
    could be any host an attacker's DNS answer names."""
    ca = TestCA.create(tmp_path)
    ca.issue("trunk", dns=[DOMAIN], ips=[TRUNK_IP])
    dest_cert = ca.issue("edge", dns=[f"edge1.{CARRIER}"], ips=[DEST_IP])
    with dnsmasq(_zone()) as dns:
        result, uris = asyncio.run(_call(tmp_path, ca, dest_cert, dns))
    assert uris == []  # no INVITE over the refused connection
    assert result.status == 503, f"{result.status} {result.reason}"
    assert f"names DNS:edge1.{CARRIER}, IP:{DEST_IP}, not {CARRIER} (RFC 5922)" in (result.reason or "")


def test_the_ua_locates_a_sips_trunk_and_checks_the_trunks_domain(tmp_path: Path) -> None:
    """The resolver as the simulator's UA uses it: sips:+1@domain -> _sips._tcp -> A, transport TLS."""
    zone = Zone(DOMAIN).srv(f"_sips._tcp.{DOMAIN}", f"sbc.{DOMAIN}", 5062, priority=10).host(f"sbc.{DOMAIN}", TRUNK_IP)
    with dnsmasq(zone) as dns:
        located = asyncio.run(SipResolver(dns).locate(f"sips:+15550100@{DOMAIN}", transports=("udp", "tls")))
    assert [str(t) for t in located] == [f"tls:{TRUNK_IP}:5062"]
