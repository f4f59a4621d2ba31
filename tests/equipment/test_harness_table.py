"""The equipment file's ``[harness]`` table: where the harness's own roles are, as the equipment's
configuration names them (an SBC's destination and trusted peer are fixed addresses). Read and checked
with the rest of the file (every mistake naming the file and line), placed in the run's topology, and
checked against this host and the ``--interface`` before any traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.equipment import EquipmentError, load_equipment, parse_equipment, preflight
from harness.suite.equipment_setup import check_on_interface, check_usable, fixed_addresses, plan_for
from harness.topology import LOOPBACK_ROLES, RoleAddresses

from ..addresses import block

SBC = """\
[equipment]
name = "SBC"
role = "trunk"
address = "udp:192.0.2.2:5060"
features = ["basic-auth", "registration"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
destination = "udp:192.0.2.1:5080"

[equipment.registrar]
domain = "example.registrar.voipbin.net"
trusted_peers = ["192.0.2.0/24"]

[[equipment.registrar.extension]]
extension = "1001"
password = "pass1001"

[harness]
ua = "192.0.2.1:5062"
carrier = "192.0.2.1"
destination = "192.0.2.1:5080"
"""
ON_LINK = RoleAddresses.at("192.0.2.1")  # trunkcheck run --interface eth1, eth1 at 192.0.2.1


def refused(text: str, tmp_path: Path) -> EquipmentError:
    path = tmp_path / "sbc.toml"
    path.write_text(text)
    with pytest.raises(EquipmentError) as info:
        load_equipment(path)
    assert str(info.value).startswith(f"{path}:{info.value.line}: "), str(info.value)
    return info.value


def edit(old: str, new: str, text: str = SBC) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def test_the_harness_table_places_the_harness_s_roles() -> None:
    eq = parse_equipment(SBC)
    assert eq.harness == {"ua": ("192.0.2.1", 5062), "carrier": ("192.0.2.1", 0), "destination": ("192.0.2.1", 5080)}
    assert fixed_addresses(eq, ON_LINK) == {"UA": ("192.0.2.1", 5062), "Carrier": ("192.0.2.1", 0),
                                            "Destination": ("192.0.2.1", 5080), "VoIPBin": ("192.0.2.2", 5060)}
    here, there = block().ip(1), block().ip(2)  # this host's (a loopback block), so the plan can bind there
    local = parse_equipment(SBC.replace("192.0.2.1", here).replace("192.0.2.2", there).replace("192.0.2.0/24", here))
    topo = plan_for(local, RoleAddresses.at(here)).allocate()
    assert topo.ua == (here, 5062) and topo.destination == (here, 5080)
    assert topo.carrier[0] == topo.ua2[0] == topo.ua_alt[0] == here
    ports = [topo.ua[1], topo.ua_alt[1], topo.ua2[1], topo.carrier[1], topo.destination[1]]
    assert len(set(ports)) == len(ports), "roles on one IP, each on a port of its own"
    roles = topo.roles()
    assert roles[(here, 5062)] == "UA" and roles[(here, 5080)] == "Destination" and roles[there] == "VoIPBin"


def test_the_destination_may_be_given_in_the_harness_table_alone() -> None:
    eq = parse_equipment(edit('destination = "udp:192.0.2.1:5080"\n', ""))
    assert eq.trunk is not None and eq.trunk.destination is not None
    assert str(eq.trunk.destination) == "udp:192.0.2.1:5080"
    bare = parse_equipment(edit('destination = "192.0.2.1:5080"', 'destination = "192.0.2.1"',
                                edit('destination = "udp:192.0.2.1:5080"\n', "")))
    assert bare.harness["destination"] == ("192.0.2.1", 5060), "where the trunk sends: port 5060 by default"


def test_the_carrier_calls_from_the_harness_s_address_when_a_trusted_peer_covers_it() -> None:
    eq = parse_equipment(edit('carrier = "192.0.2.1"\n', ""))
    assert fixed_addresses(eq, ON_LINK)["Carrier"] == ("192.0.2.1", 0)
    assert fixed_addresses(eq, LOOPBACK_ROLES)["Carrier"] == ("192.0.2.1", 0), "else the network's first host"


@pytest.mark.parametrize(("old", "new", "line", "problem"), [
    ('ua = "192.0.2.1:5062"', 'uac = "192.0.2.1:5062"', 22, 'harness.uac: unknown key; did you mean "ua"?'),
    ('ua = "192.0.2.1:5062"', 'ua = 5062', 22, "harness.ua: expected a string, got an integer"),
    ('ua = "192.0.2.1:5062"', 'ua = "udp:192.0.2.1:5062"', 22, "without a transport"),
    ('ua = "192.0.2.1:5062"', 'ua = "harness.example.net:5062"', 22, "give IP or IP:PORT"),
    ('ua = "192.0.2.1:5062"', 'ua = "192.0.2.1:99999"', 22, "harness.ua:"),
    ('ua = "192.0.2.1:5062"', 'ua = "192.0.2.1:5080"', 24, "harness.destination: 192.0.2.1:5080 is also harness.ua"),
    ('ua = "192.0.2.1:5062"', 'trunk = "192.0.2.1:5062"', 22, "the equipment under test plays the trunk"),
    ('ua = "192.0.2.1:5062"', 'ua = "192.0.2.2:5060"', 22, "is the equipment's own address"),
    ('destination = "192.0.2.1:5080"', 'destination = "192.0.2.1:5090"', 24,
     "differs from equipment.trunk.destination (192.0.2.1:5080, line 11)"),
    ('carrier = "192.0.2.1"', 'carrier = "198.51.100.1"', 23, "198.51.100.1 is not among equipment.registrar.trusted_peers"),
    ("[harness]", "[harness.ua]", 21, "harness.ua: expected a string, got a table"),
])
def test_mistakes_in_the_harness_table_name_the_line(tmp_path: Path, old: str, new: str, line: int,
                                                     problem: str) -> None:
    err = refused(edit(old, new), tmp_path)
    assert err.line == line and problem in str(err), str(err)


def test_a_ua_under_test_gets_its_trunk_from_the_harness_table(tmp_path: Path) -> None:
    ua = """\
[equipment]
name = "Phone"
role = "ua"
address = "udp:192.0.2.2:5062"
adapter = "manual"
features = ["basic-auth"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "bob"
password = "pw"

[harness]
trunk = "192.0.2.1:5070"
"""
    eq = parse_equipment(ua)
    assert eq.trunk is not None and str(eq.trunk.proxy) == "udp:192.0.2.1:5070"
    assert fixed_addresses(eq)["VoIPBin"] == ("192.0.2.1", 5070)
    err = refused(edit('trunk = "192.0.2.1:5070"', 'ua = "192.0.2.1:5062"', ua), tmp_path)
    assert err.line == 14 and "the equipment under test plays the ua" in str(err)
    err = refused(edit("[equipment.trunk]\n", '[equipment.trunk]\nproxy = "192.0.2.1:5060"\n', ua), tmp_path)
    assert "harness.trunk: 192.0.2.1:5070 differs from equipment.trunk.proxy" in str(err)
    no_proxy = edit('\n[harness]\ntrunk = "192.0.2.1:5070"\n', "", ua)
    assert 'missing required key "proxy"' in str(refused(no_proxy, tmp_path)) and "harness.trunk" in str(
        refused(no_proxy, tmp_path))


def test_the_roles_sharing_the_interface_s_ip_are_usable_and_refused_inside_the_harness_s_ports() -> None:
    eq = parse_equipment(SBC)
    check_usable(eq, ON_LINK)  # the destination on the UA's IP: fine when every role shares that IP by port
    with pytest.raises(EquipmentError, match="equipment.trunk.destination: 192.0.2.1 is the harness's UA address"):
        check_usable(eq, LOOPBACK_ROLES.with_roles({"UA": "192.0.2.1"}))
    own_port = parse_equipment(edit('destination = "udp:192.0.2.1:5080"', 'destination = "udp:192.0.2.1:17000"',
                                    edit('destination = "192.0.2.1:5080"\n', "")))
    with pytest.raises(EquipmentError, match=r"equipment.trunk.destination: udp:192.0.2.1:17000 is on the address "
                                             r"of the harness's roles \(192.0.2.1\), in the ports"):
        check_usable(own_port, ON_LINK)
    in_range = parse_equipment(edit('ua = "192.0.2.1:5062"', 'ua = "192.0.2.1:16003"'))
    with pytest.raises(EquipmentError, match="<string>:22: harness.ua: port 16003 is inside the ports the harness "
                                             "hands its other roles"):
        check_usable(in_range, LOOPBACK_ROLES)


def test_every_address_the_file_gives_the_harness_must_be_the_interface_s() -> None:
    eq = parse_equipment(SBC)
    check_on_interface(eq, "eth1", ["192.0.2.1"], ON_LINK)
    with pytest.raises(EquipmentError, match=r"sbc.toml|<string>:22: harness.ua: 192.0.2.1 is not an address of "
                                             r"eth1 \(10.0.0.1\)"):
        check_on_interface(eq, "eth1", ["10.0.0.1"], RoleAddresses.at("10.0.0.1"))
    elsewhere = parse_equipment(edit('\n[harness]\nua = "192.0.2.1:5062"\ncarrier = "192.0.2.1"\ndestination = '
                                     '"192.0.2.1:5080"\n', "", edit('trusted_peers = ["192.0.2.0/24"]',
                                                                     'trusted_peers = ["192.0.2.9"]')))
    with pytest.raises(EquipmentError, match="equipment.registrar.trusted_peers: 192.0.2.9 is not an address of eth1"):
        check_on_interface(elsewhere, "eth1", ["192.0.2.1"], ON_LINK)


def test_an_address_that_is_not_this_host_s_is_refused_before_any_traffic() -> None:
    """Without --interface too: pre-flight finds the harness cannot take an address of ``[harness]``."""
    text = edit('ua = "192.0.2.1:5062"', 'ua = "198.51.100.7:5062"')
    eq = parse_equipment(text.replace("192.0.2.2", "127.0.0.1").replace("192.0.2.1", "127.0.0.1")
                         .replace("192.0.2.0/24", "127.0.0.1"))
    with pytest.raises(EquipmentError, match="<string>:22: harness.ua: the harness's ua must be at "
                                             "198.51.100.7:5062, but 198.51.100.7 is not an address of this host"):
        preflight(eq, timeout=0.2)


def test_the_remote_sbc_example_places_the_harness_where_its_comments_say() -> None:
    eq = load_equipment(Path(__file__).resolve().parents[2] / "examples" / "equipment" / "remote-sbc.toml")
    assert eq.harness == {"ua": ("192.0.2.1", 5062), "destination": ("192.0.2.1", 5080)}
    assert eq.trunk is not None and str(eq.trunk.destination) == "udp:192.0.2.1:5080"
    check_on_interface(eq, "eth1", ["192.0.2.1"], ON_LINK)
    check_usable(eq, ON_LINK)
