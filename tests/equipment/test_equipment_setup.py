"""How an equipment file takes its place in a run: its addresses fixed in the topology, the account the
scenarios use, the clashes refused before any traffic (naming the line), the start hook for images."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.equipment import EquipmentError, load_equipment, parse_equipment, preflight
from harness.suite.equipment_setup import (
    check_usable,
    fixed_addresses,
    plan_for,
    sip_ports,
    start_equipment,
    trunk_settings,
)
from harness.topology import RoleAddresses

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "equipment"

UA = """\
[equipment]
name = "Phone"
role = "ua"
address = "udp:127.0.0.41:5062"
adapter = "manual"
features = ["basic-auth"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "bob"
password = "pw"
proxy = "udp:127.0.0.20:5060"
"""


def test_a_trunk_under_test_fixes_voipbin_destination_and_carrier() -> None:
    eq = load_equipment(EXAMPLES / "kamailio-trunk.toml")
    assert fixed_addresses(eq) == {"VoIPBin": ("127.0.0.50", 5060), "Destination": ("127.0.0.30", 5080),
                                   "Carrier": ("127.0.0.12", 0)}
    assert sip_ports(eq) == [5060, 5080]
    topo = plan_for(eq).allocate()
    assert topo.external_trunk and topo.roles()["127.0.0.50"] == "VoIPBin"
    settings = trunk_settings(eq)
    assert (settings.host, settings.username, settings.password) == ("example.trunk.voipbin.net", "alice", "secret")
    assert settings.registrar_domain == "example.registrar.voipbin.net" and settings.extensions == {
        "1001": "pass1001", "1002": "pass1002"}


def test_a_ua_under_test_on_its_proxys_ip_is_accepted_and_keyed_by_port() -> None:
    eq = parse_equipment(UA.replace("127.0.0.41:5062", "127.0.0.20:5062"), "phone.toml")
    check_usable(eq)
    roles = plan_for(eq).allocate().roles()
    assert roles[("127.0.0.20", 5062)] == "UA" and roles[("127.0.0.20", 5060)] == "VoIPBin"
    assert roles["127.0.0.20"] == "UA"


def test_a_ua_under_test_fixes_ua_and_the_harness_trunk() -> None:
    eq = parse_equipment(UA, "phone.toml")
    assert fixed_addresses(eq) == {"UA": ("127.0.0.41", 5062), "VoIPBin": ("127.0.0.20", 5060)}
    topo = plan_for(eq).allocate()
    assert not topo.external_trunk and topo.ua == ("127.0.0.41", 5062)
    settings = trunk_settings(eq)
    assert (settings.domain_name, settings.host, settings.username) == ("example", "example.trunk.voipbin.net", "bob")


@pytest.mark.parametrize(("old", "new", "message"), [
    ('address = "udp:127.0.0.41:5062"', 'address = "udp:127.0.0.30:5062"',
     r"phone\.toml:4: equipment\.address: 127\.0\.0\.30 is the harness's Destination address"),
    ('address = "udp:127.0.0.41:5062"', 'address = "udp:127.0.0.20:5060"',
     r"phone\.toml:4: equipment\.address: udp:127\.0\.0\.20:5060 is also the proxy's address "
     r"\(equipment\.trunk\.proxy, line 12\): two roles cannot share one ip:port"),
    ('proxy = "udp:127.0.0.20:5060"', 'proxy = "udp:127.0.0.12:5060"',
     r"phone\.toml:12: equipment\.trunk\.proxy: 127\.0\.0\.12 is the address of another harness role"),
    ('domain = "example.trunk.voipbin.net"', 'domain = "example.trunk.voipbin.net"\nrealm = "other"',
     r"phone\.toml:10: equipment\.trunk\.realm: the harness's trunk challenges in the realm of its domain"),
])
def test_a_ua_under_test_that_clashes_with_the_harness_is_refused(old: str, new: str, message: str) -> None:
    with pytest.raises(EquipmentError, match=message):
        check_usable(parse_equipment(UA.replace(old, new, 1), "phone.toml"))


def test_the_harness_addresses_checked_are_the_runs_own() -> None:
    """A run with --loopback 127.42.0.0 has its destination at 127.42.0.30: a UA there clashes in that run
    only, and that run's plan puts the harness's roles in its block."""
    eq = parse_equipment(UA.replace("127.0.0.41:5062", "127.42.0.30:5062"), "phone.toml")
    check_usable(eq)
    block = RoleAddresses.loopback("127.42.0.0")
    with pytest.raises(EquipmentError, match=r"phone\.toml:4: equipment\.address: 127\.42\.0\.30 is the harness's "
                                             "Destination address"):
        check_usable(eq, block)
    topo = plan_for(parse_equipment(UA, "phone.toml"), block).allocate()
    assert topo.destination[0] == "127.42.0.30" and topo.ua2[0] == "127.42.0.11" and topo.ua == ("127.0.0.41", 5062)


def test_a_trunk_and_its_destination_on_one_ip_are_accepted_and_keyed_by_port() -> None:
    """The laptop set-up: trunk and destination on 127.0.0.1, told apart by port. SIP of each goes to its
    column by port; anything else on the shared IP (the trunk's relay ports) is the trunk's."""
    eq = load_equipment(EXAMPLES / "reference-trunk-one-ip.toml")
    check_usable(eq)
    assert fixed_addresses(eq) == {"VoIPBin": ("127.0.0.1", 5070), "Destination": ("127.0.0.1", 5090),
                                   "Carrier": ("127.0.0.12", 0)}
    topo = plan_for(eq).allocate()
    roles = topo.roles()
    assert roles[("127.0.0.1", 5070)] == "VoIPBin" and roles[("127.0.0.1", 5090)] == "Destination"
    assert roles["127.0.0.1"] == "VoIPBin", "the equipment's media ports are not known up front"
    assert roles["127.0.0.10"] == "UA" and ("127.0.0.10", topo.ua[1]) not in roles, "an IP of its own: by IP"
    assert "127.0.0.1" in topo.addresses() and sip_ports(eq) == [5070, 5090]
    bpf = topo.capture_filter()
    assert "port 5070" in bpf and "port 5090" in bpf


def test_two_roles_on_one_ip_and_port_are_refused_naming_both_lines() -> None:
    text = (EXAMPLES / "kamailio-trunk.toml").read_text().replace('destination = "udp:127.0.0.30:5080"',
                                                                   'destination = "tcp:127.0.0.50:5060"')
    eq = parse_equipment(text, "k.toml", base_dir=EXAMPLES)
    line = text[:text.index('address = "udp:127.0.0.50')].count("\n") + 1
    with pytest.raises(EquipmentError, match=rf"k\.toml:\d+: equipment\.trunk\.destination: tcp:127\.0\.0\.50:5060 "
                                             rf"is also the trunk's own address \(equipment\.address, line {line}\): "
                                             "two roles cannot share one ip:port"):
        check_usable(eq)
    check_usable(parse_equipment(text.replace("tcp:127.0.0.50:5060", "udp:127.0.0.50:5090"), "k.toml",
                                 base_dir=EXAMPLES))
    with pytest.raises(EquipmentError, match=r"k\.toml:\d+: equipment\.trunk\.destination: 127\.0\.0\.10 is the "
                                             "harness's UA address"):
        check_usable(parse_equipment(text.replace("tcp:127.0.0.50:5060", "udp:127.0.0.10:5090"), "k.toml",
                                     base_dir=EXAMPLES))


def test_an_adapter_that_is_not_installed_is_refused() -> None:
    text = UA.replace('adapter = "manual"', 'adapter = "sipp"') + '\n[equipment.sipp]\nbinary = "no-such-sipp"\n'
    with pytest.raises(EquipmentError, match=r"phone\.toml:5: equipment\.adapter: SIPp is not installed"):
        check_usable(parse_equipment(text, "phone.toml"))


def test_an_image_needs_a_starter_and_the_starter_starts_it(tmp_path: Path) -> None:
    text = (EXAMPLES / "kamailio-trunk.toml").read_text()
    text = text[:text.index("\n[equipment.process]")] + '\n[equipment.image]\nname = "kamailio:5.6"\n'
    eq = parse_equipment(text, "k.toml")
    preflight(eq)  # nothing listens on 127.0.0.50 yet: an image is pinged once started, not before
    with pytest.raises(EquipmentError, match=r"k\.toml:\d+: equipment\.image: an image is started only in the docker topology"):
        check_usable(eq)
    started: list[tuple[str, Path]] = []

    class Fake:
        name = "fake"
        log_path = tmp_path / "log"

        def log_tail(self, max_chars: int = 4000) -> str:
            return ""

        def running(self) -> bool:
            return True

        def stop(self) -> int | None:
            return 0

        def close(self) -> None:
            pass

    def starter(equipment, workdir: Path) -> Fake:  # type: ignore[no-untyped-def]
        started.append((equipment.image.name, workdir))
        return Fake()

    with pytest.raises(EquipmentError, match=r"k\.toml:\d+: equipment\.image: an image is started only in the docker topology"):
        start_equipment(eq, tmp_path / "equipment")
    check_usable(eq, image_starter=starter)
    assert isinstance(start_equipment(eq, tmp_path / "equipment", image_starter=starter), Fake)
    assert started == [("kamailio:5.6", tmp_path / "equipment")]


def test_media_addresses_join_the_equipments_column_and_a_bad_one_names_its_line() -> None:
    text = UA.replace('adapter = "manual"', 'adapter = "manual"\nmedia_addresses = ["127.0.0.42"]')
    eq = parse_equipment(text, "phone.toml")
    assert eq.media_addresses == ("127.0.0.42",) and plan_for(eq).allocate().roles()["127.0.0.42"] == "UA"
    with pytest.raises(EquipmentError, match=r'phone\.toml:6: equipment\.media_addresses\[0\]: "10\.0\.0\.0/8" is '
                                             "not an IP address"):
        parse_equipment(text.replace("127.0.0.42", "10.0.0.0/8"), "phone.toml")
