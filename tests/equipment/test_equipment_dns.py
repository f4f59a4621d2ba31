"""Equipment files that give addresses by name (``address = "sip:example.trunk.voipbin.net"``, a trunk's
``destination`` or a UA's ``proxy`` as a host name): located when the file is loaded, as RFC 3263 says,
asking the file's ``dns`` server (dnsmasq, started here on this process's loopback block), and the run uses
the addresses DNS gave. Addresses given as IPs are used as written, without DNS."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from harness.equipment import EquipmentError, load_equipment, parse_equipment
from sipcore.transport_address import TransportAddress

from ..addresses import block
from ..dns_server import TRUNK, Zone, dnsmasq, dnsmasq_missing, trunk_zone
from .run_support import EXAMPLES, examples_in_block, needs_run, statuses, summary, trunkcheck_run

needs_dnsmasq = pytest.mark.skipif(dnsmasq_missing() is not None, reason=str(dnsmasq_missing()))

SIP1, SIP2, DEST = block().ip(61, subnet=56), block().ip(62, subnet=56), block().ip(30, subnet=56)

TRUNK_FILE = """\
[equipment]
name = "SBC by name"
role = "trunk"
dns = "{dns}"
address = "{address}"
features = ["basic-auth"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
destination = "{destination}"
"""

UA_FILE = """\
[equipment]
name = "phone"
role = "ua"
address = "udp:127.0.5.40:5062"
adapter = "manual"
features = ["basic-auth"]
dns = "{dns}"

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
proxy = "{proxy}"
"""


def zone(port1: int = 5070, port2: int = 5071) -> Zone:
    return trunk_zone((SIP1, port1), (SIP2, port2)).host(f"dest.{TRUNK}", DEST)


@needs_dnsmasq
def test_names_are_located_when_the_file_is_loaded() -> None:
    with dnsmasq(zone()) as (ip, port):
        text = TRUNK_FILE.format(dns=f"{ip}:{port}", address=f"sip:{TRUNK}", destination=f"udp:dest.{TRUNK}:5080")
        eq = parse_equipment(text, "eq.toml")
        again = parse_equipment(text, "eq.toml")
    assert eq.address == TransportAddress("udp", SIP1, 5070)  # NAPTR, SRV priority 10, A
    assert eq.trunk is not None and eq.trunk.destination == TransportAddress("udp", DEST, 5080)  # a port: A only
    assert eq.dns == (ip, port)
    assert eq.located == {"equipment.address": (f"sip:{TRUNK}", eq.address),
                          "equipment.trunk.destination": (f"udp:dest.{TRUNK}:5080", eq.trunk.destination)}
    assert again.address == eq.address  # the runner and behave each load the file: they agree


@needs_dnsmasq
def test_a_uas_proxy_by_name() -> None:
    with dnsmasq(zone()) as (ip, port):
        eq = parse_equipment(UA_FILE.format(dns=f"{ip}:{port}", proxy=TRUNK), "ua.toml")
    assert eq.trunk is not None and eq.trunk.proxy == TransportAddress("udp", SIP1, 5070)


@needs_dnsmasq
def test_a_name_dns_does_not_know_names_file_line_and_key() -> None:
    with dnsmasq(zone()) as (ip, port), pytest.raises(EquipmentError) as err:
        parse_equipment(TRUNK_FILE.format(dns=f"{ip}:{port}", address=f"sip:nowhere.{TRUNK}",
                                          destination="127.0.5.30:5080"), "eq.toml")
    assert str(err.value).startswith(f"eq.toml:5: equipment.address: cannot locate sip:nowhere.{TRUNK}: "
                                     f"NAPTR nowhere.{TRUNK}: no records")


@pytest.mark.parametrize(("dns", "message"), [
    ("resolver.example", 'eq.toml:4: equipment.dns: DNS server "resolver.example": "resolver.example" is not an IP'),
    ("udp:127.0.0.1:53", 'eq.toml:4: equipment.dns: DNS server "udp:127.0.0.1:53": give IP[:PORT], without a transport'),
])
def test_a_bad_dns_server_is_refused(dns: str, message: str) -> None:
    with pytest.raises(EquipmentError) as err:
        parse_equipment(TRUNK_FILE.format(dns=dns, address="udp:127.0.5.50:5060", destination="127.0.5.30:5080"),
                        "eq.toml")
    assert str(err.value).startswith(message)


def test_ip_addresses_ask_no_dns() -> None:
    """A silent DNS server: a file giving IPs loads at once (no query), one giving a name says the server
    did not answer, within the query's bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((block().ip(99, subnet=56), 0))
        dns = "{}:{}".format(*silent.getsockname())
        started = time.monotonic()
        eq = parse_equipment(TRUNK_FILE.format(dns=dns, address="udp:127.0.5.50:5060", destination="127.0.5.30:5080"))
        assert time.monotonic() - started < 1.0 and eq.address == TransportAddress("udp", "127.0.5.50", 5060)
        with pytest.raises(EquipmentError, match=f"no answer from the DNS server {dns} within 2 s"):
            parse_equipment(TRUNK_FILE.format(dns=dns, address=f"sip:{TRUNK}", destination="127.0.5.30:5080"))


@needs_dnsmasq
@pytest.mark.interop
@needs_run[0]
@needs_run[1]
def test_a_run_against_equipment_given_by_name(tmp_path: Path) -> None:
    """The reference trunk as equipment (examples/equipment/reference-trunk-one-ip.toml) with its address
    and its destination given by name: the run finds them through DNS and passes the documented call."""
    folder = examples_in_block(tmp_path / "examples")
    one_ip = block().ip(1)
    by_name = folder / "by-name.toml"
    with dnsmasq(trunk_zone((one_ip, 5070), (SIP2, 5071)).host(f"dest.{TRUNK}", one_ip)) as (ip, port):
        text = (folder / "reference-trunk-one-ip.toml").read_text()
        text = text.replace(f'address = "udp:{one_ip}:5070"', f'address = "sip:{TRUNK}"\ndns = "{ip}:{port}"')
        text = text.replace(f'destination = "udp:{one_ip}:5090"', f'destination = "dest.{TRUNK}:5090"')
        by_name.write_text(text)
        eq = load_equipment(by_name)
        assert eq.address == TransportAddress("udp", one_ip, 5070), eq.address
        proc = trunkcheck_run(tmp_path, "--equipment", str(by_name), "--features",
                              str(EXAMPLES.parents[1] / "features" / "outgoing_call_basic_auth.feature"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary(proc)["failed"] == 0 and summary(proc)["passed"] > 0, proc.stdout
    assert statuses(tmp_path / "r")["The documented call flow, the caller hangs up"] == "passed"
    assert f"by-name.toml:16: equipment.address sip:{TRUNK} is udp:{one_ip}:5070 (located through DNS" in proc.stdout
