"""The reference server over TLS: a call from a TLS UA relayed to a TLS destination and hung up by the
destination (an in-dialog request back to the UA), the [tls] configuration and --tls-cert/--tls-key."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from harness.suite.tls_certs import TestCA
from reference_server.config import ConfigError, Overrides, load_config, parse_config
from reference_server.destination import parse_destination
from reference_server.server import ReferenceServer, with_listen
from simulator.destination import Destination, script_for
from simulator.settings import DestinationSettings, UaSettings
from simulator.ua import UserAgent
from sipcore.aio.tls import TlsOptions

from ..addresses import loopback

DOMAIN = "example.trunk.voipbin.net"
TRUNK_IP, UA_IP, DEST_IP = loopback(20, subnet=15), loopback(10, subnet=15), loopback(30, subnet=15)


def _config(tmp: Path, destination: str, listen: str) -> str:
    return f"""
[server]
listen = ["{listen}"]
[media]
address = "{TRUNK_IP}"
port_min = 41000
port_max = 41099
[tls]
cert = "trunk.pem"
key = "trunk.key"
ca_file = "ca.pem"
keylog = "{tmp / 'keys.txt'}"
[[trunk]]
domain_name = "example"
username = "alice"
password = "secret"
destination = "{destination}"
"""


def test_a_call_over_tls_both_legs_hung_up_by_the_destination(tmp_path: Path) -> None:
    ca = TestCA.create(tmp_path)
    ca.issue("trunk", dns=[DOMAIN], ips=[TRUNK_IP])
    ua_files, dest_files = ca.issue("ua", ips=[UA_IP]), ca.issue("dest", ips=[DEST_IP])
    cfg = tmp_path / "server.toml"

    async def main() -> tuple[object, list[str], list[str]]:
        dest = await Destination.start(DestinationSettings(
            listen=(DEST_IP, 0), transport="TLS", script=script_for(hangup_after_ms=100),
            tls=TlsOptions(cert=dest_files.cert, key=dest_files.key, ca_file=ca.ca_file)))
        cfg.write_text(_config(tmp_path, f"sips:{DEST_IP}:{dest.local_addr[1]}", f"tls:{TRUNK_IP}:5061"))
        server = ReferenceServer(with_listen(load_config(cfg), f"tls:{TRUNK_IP}:0"))
        await server.start()
        trunk = server.endpoints[0].local_addr
        ua = await UserAgent.start(UaSettings(
            listen=(UA_IP, 0), transport="TLS", password="secret", target=trunk, domain=DOMAIN, hold_ms=5000,
            tls=TlsOptions(cert=ua_files.cert, key=ua_files.key, ca_file=ca.ca_file)))
        try:
            result = await asyncio.wait_for(ua.call("+15550100", expect_remote_bye=True), 15)
            ua_seen = [e.detail["method"] for e in ua.record.select("sip-received") if e.is_request]
            vias = [e.detail["raw"].split("Via: SIP/2.0/", 1)[1][:3] for r in (ua.record, dest.record)
                    for e in r if e.kind.startswith("sip-")]
            return result, ua_seen, vias
        finally:
            await ua.stop()
            await server.stop()
            await dest.stop()

    result, ua_seen, vias = asyncio.run(main())
    assert result.answered and result.ended_by == "remote-bye"  # type: ignore[attr-defined]
    assert ua_seen == ["BYE"]  # the destination's BYE, relayed to the UA over TLS
    assert vias and set(vias) == {"TLS"}
    assert "CLIENT_TRAFFIC_SECRET_0" in (tmp_path / "keys.txt").read_text()


def test_a_tls_listener_needs_a_certificate(tmp_path: Path) -> None:
    text = '[server]\nlisten = ["udp:127.0.0.1:5060", "tls:127.0.0.1:5061"]\n'
    with pytest.raises(ConfigError, match=r"<string>:2: server.listen\[1\]: tls:127.0.0.1:5061 needs a certificate"):
        parse_config(text + '[[trunk]]\ndomain_name = "x1"\nusername = "a"\npassword = "b"\n'
                     'destination = "127.0.0.1"\n')


def test_tls_files_are_checked_when_the_configuration_loads(tmp_path: Path) -> None:
    ca = TestCA.create(tmp_path)
    ca.issue("trunk", dns=[DOMAIN])
    other = ca.issue("other", dns=["other.example"])
    cfg = tmp_path / "server.toml"
    cfg.write_text(_config(tmp_path, "sip:127.0.0.1:5080", "tls:127.0.0.1:5061").replace('"trunk.key"', '"other.key"'))
    with pytest.raises(ConfigError, match=r"server.toml:\d+: tls.cert: TLS certificate .*trunk.pem with key "
                                          r".*other.key: cannot be loaded"):
        load_config(cfg)
    cfg.write_text(_config(tmp_path, "sip:127.0.0.1:5080", "tls:127.0.0.1:5061").replace('"ca.pem"', '"none.pem"'))
    with pytest.raises(ConfigError, match=r"tls.ca_file: TLS CA file .*none.pem: no such file"):
        load_config(cfg)
    assert other.cert.exists()


def test_serve_with_tls_cert_and_key_listens_on_5061_too(tmp_path: Path) -> None:
    files = TestCA.create(tmp_path).issue("trunk", dns=[DOMAIN])
    config = load_config(None, overrides=Overrides(tls_cert=files.cert, tls_key=files.key))
    assert [str(a) for a in config.listen] == ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060", "tls:127.0.0.1:5061"]
    with pytest.raises(ConfigError, match="--listen: tls:127.0.0.1:5061 needs a certificate: give --tls-cert"):
        load_config(None, overrides=Overrides(listen=["tls:127.0.0.1"]))
    with pytest.raises(ConfigError, match="--tls-key: cert and key go together"):
        load_config(None, overrides=Overrides(tls_cert=files.cert))


@pytest.mark.parametrize(("text", "expected"), [
    ("sips:127.0.0.1", ("127.0.0.1", 5061, "tls")),
    ("sip:127.0.0.1:5081;transport=tls", ("127.0.0.1", 5081, "tls")),
    ("tls:127.0.0.1:5082", ("127.0.0.1", 5082, "tls")),
])
def test_tls_destinations(text: str, expected: tuple[str, int, str]) -> None:
    assert dataclasses.astuple(parse_destination(text)) == (*expected, False)


@pytest.mark.parametrize(("text", "expected"), [
    ("sips:Carrier.Example.net", ("carrier.example.net", None, None, True)),  # NAPTR SIPS+D2T, _sips._tcp, A
    ("sips:carrier.example.net:5062", ("carrier.example.net", 5062, "tls", True)),  # A only
    ("sip:carrier.example.net;transport=tls", ("carrier.example.net", None, "tls", False)),  # _sips._tcp, A
    ("tls:carrier.example.net", ("carrier.example.net", None, "tls", False)),
])
def test_tls_destinations_by_name_are_located_through_dns(text: str, expected: tuple[object, ...]) -> None:
    dest = parse_destination(text)
    assert dataclasses.astuple(dest) == expected and dest.by_dns


@pytest.mark.parametrize(("text", "message"), [
    ("sips:127.0.0.1;transport=udp", "a sips: URI is reached over TLS, not udp"),
    ("sips:carrier.example.net;transport=tcp", "a sips: URI is reached over TLS, not tcp"),
])
def test_tls_destination_mistakes(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_destination(text)
