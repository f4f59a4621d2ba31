"""Topology: one loopback address per role, ports unique per scenario, never a busy port."""

from __future__ import annotations

import socket

import pytest

from harness import topology
from harness.cli import run as runner_cli
from harness.cli.ladder import main as ladder_main
from harness.topology import LOOPBACK_ROLES, RTP_BASE, SIP_BASE, SIP_PORT_RANGE, PortPlan, RoleAddresses

DEFAULT_ROLES = {"127.0.0.10": "UA", "127.0.0.11": "UA2", "127.0.0.12": "Carrier", "127.0.0.20": "VoIPBin",
                 "127.0.0.30": "Destination", "127.0.0.31": "Destination2"}


def test_each_role_has_its_own_loopback_address_and_the_roles_name_the_columns():
    topo = PortPlan(first_slot=3).allocate()
    assert topo.ua[0] == "127.0.0.10" and topo.trunk[0] == "127.0.0.20" and topo.destination[0] == "127.0.0.30"
    assert topo.roles() == DEFAULT_ROLES == {ip: role for role, ip in LOOPBACK_ROLES.items()}
    assert topo.ua_alt[0] == topo.ua[0] and topo.ua_alt[1] != topo.ua[1]


def test_consecutive_scenarios_never_share_a_port():
    plan = PortPlan(first_slot=10)
    seen: set[int] = set()
    for _ in range(20):
        topo = plan.allocate()
        ports = set(topo.sip_ports()) | set(range(topo.relay_ports[0], topo.relay_ports[1] + 1))
        assert not ports & seen
        seen |= ports


def test_sip_and_rtp_port_ranges_are_disjoint_so_a_sip_port_is_never_rtp():
    lo, hi = (int(p) for p in SIP_PORT_RANGE.split("-"))
    topo = PortPlan(first_slot=499).allocate()
    assert all(lo <= p <= hi for p in topo.sip_ports())
    assert hi < RTP_BASE and topo.relay_ports[0] >= RTP_BASE and topo.relay_ports[1] < 32768
    assert lo == SIP_BASE


def test_a_slot_with_a_busy_port_is_skipped():
    plan = PortPlan(first_slot=42)
    probe = plan._topology(42)
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(probe.destination)
    try:
        topo = PortPlan(first_slot=42).allocate()
        assert topo.slot == 43
    finally:
        blocker.close()


def test_the_capture_filter_keeps_only_the_scenario_s_ports():
    topo = PortPlan(first_slot=7).allocate()
    bpf = topo.capture_filter()
    for port in topo.sip_ports():
        assert f"port {port}" in bpf
    assert f"portrange {topo.relay_ports[0]}-{topo.relay_ports[1]}" in bpf


def test_an_external_trunk_is_a_parameter():
    topo = PortPlan(trunk=("127.0.0.99", 5060), first_slot=1).allocate()
    assert topo.trunk == ("127.0.0.99", 5060) and topo.external_trunk
    assert topo.roles()["127.0.0.99"] == "VoIPBin"
    bpf = topo.capture_filter()  # its RTP ports are unknown: by address, without other scenarios' ports
    assert bpf.startswith("(udp or tcp) and not ((portrange 16000-19999 or portrange 20000-29999) and not (")
    assert "port 5060" in bpf


def test_equipment_fixes_its_addresses_and_takes_its_roles_column():
    """A trunk under test at 127.0.0.50 with a media address of its own: the VoIPBin column is both; the
    harness's destination listens where the trunk sends its calls; the carrier calls from the trusted
    peer's host, on the scenario's own port."""
    plan = PortPlan(fixed={"VoIPBin": ("127.0.0.50", 5060), "Destination": ("127.0.0.30", 5080),
                           "Carrier": ("127.0.0.13", 0)}, external_trunk=True, aliases={"127.0.0.51": "VoIPBin"},
                    first_slot=7)
    a, b = plan.allocate(), plan.allocate()
    assert a.trunk == b.trunk == ("127.0.0.50", 5060) and a.destination == b.destination == ("127.0.0.30", 5080)
    assert a.carrier[0] == "127.0.0.13" and a.carrier[1] != b.carrier[1] and a.ua[1] != b.ua[1]
    assert a.roles()["127.0.0.50"] == a.roles()["127.0.0.51"] == "VoIPBin"
    assert {"127.0.0.50", "127.0.0.51", "127.0.0.13"} <= set(a.addresses())
    assert a.external_trunk and a.fixed_roles == {"VoIPBin", "Destination"}


def test_an_equipment_scenario_captures_its_addresses_but_not_other_scenarios_ports():
    """Equipment's RTP ports are unknown, so the filter keeps everything between the addresses except
    what touches the harness ranges of other scenarios (a concurrent run on the same loopback addresses)."""
    topo = PortPlan(fixed={"UA": ("127.0.0.40", 5062), "VoIPBin": ("127.0.0.20", 5060)}, first_slot=5).allocate()
    bpf = topo.capture_filter()
    assert bpf.startswith("(udp or tcp) and not ((portrange 16000-19999 or portrange 20000-29999) and not (")
    assert "port 5062" in bpf and "port 5060" in bpf and f"portrange {topo.relay_ports[0]}-{topo.relay_ports[1]}" in bpf
    assert not topo.external_trunk and topo.roles()["127.0.0.40"] == "UA"


def test_a_fixed_address_is_not_checked_free_the_equipment_may_hold_it():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.70", 0))
        port = held.getsockname()[1]
        topo = PortPlan(fixed={"UA": ("127.0.0.70", port)}, first_slot=11).allocate()
        assert topo.ua == ("127.0.0.70", port)


def test_roles_sharing_an_ip_are_keyed_by_port_and_the_ip_is_the_equipments():
    """A trunk under test and the harness's destination on 127.0.0.1: SIP by port, and the rest of the IP
    (the trunk's media, whose ports the harness does not know) is the trunk's; other roles stay by IP."""
    plan = PortPlan(fixed={"VoIPBin": ("127.0.0.1", 5070), "Destination": ("127.0.0.1", 5090)},
                    external_trunk=True, first_slot=9)
    topo = plan.allocate()
    assert topo.equipment_role == "VoIPBin"
    assert topo.roles() == {("127.0.0.1", 5070): "VoIPBin", ("127.0.0.1", 5090): "Destination",
                            "127.0.0.1": "VoIPBin", "127.0.0.10": "UA", "127.0.0.11": "UA2", "127.0.0.12": "Carrier",
                            "127.0.0.31": "Destination2"}
    bpf = topo.capture_filter()
    assert "port 5070" in bpf and "port 5090" in bpf and "127.0.0.1" in topo.addresses()


def test_a_ua_under_test_on_the_harness_trunks_ip_leaves_the_relay_range_to_the_trunk():
    topo = PortPlan(fixed={"UA": ("127.0.0.1", 5062), "VoIPBin": ("127.0.0.1", 5060)}, equipment_role="UA",
                    first_slot=13).allocate()
    roles = topo.roles()
    assert roles[("127.0.0.1", 5062)] == "UA" and roles[("127.0.0.1", 5060)] == "VoIPBin"
    assert roles["127.0.0.1"] == "UA", "the UA's media ports are its own to choose"
    assert all(roles[("127.0.0.1", p)] == "VoIPBin" for p in range(topo.relay_ports[0], topo.relay_ports[1] + 1))


def test_loopback_moves_every_role_to_another_block_keeping_the_last_octet(monkeypatch):
    topo = PortPlan(first_slot=4, roles=RoleAddresses.loopback("127.42.0.0")).allocate()
    assert topo.roles() == {"127.42.0.10": "UA", "127.42.0.11": "UA2", "127.42.0.12": "Carrier",
                            "127.42.0.20": "VoIPBin", "127.42.0.30": "Destination", "127.42.0.31": "Destination2"}
    assert topo.ua_alt[0] == "127.42.0.10"
    monkeypatch.setenv(topology.LOOPBACK_ENV, "127.43.0.0")
    assert RoleAddresses.from_environment()["VoIPBin"] == "127.43.0.20"  # no value: $TRUNKCHECK_LOOPBACK
    assert RoleAddresses.from_environment("127.44.0.0")["VoIPBin"] == "127.44.0.20"  # --loopback comes first
    monkeypatch.delenv(topology.LOOPBACK_ENV)
    assert RoleAddresses.from_environment() == LOOPBACK_ROLES


def test_a_run_elsewhere_on_loopback_moves_no_other_runs_roles(tmp_path, capsys):
    """--loopback is that run's: the defaults, and every other port plan of the process, stay where they
    were (two runs, or a run and `trunkcheck ladder`, can share a process)."""
    assert ladder_main([str(tmp_path / "none.pcap"), "--trunkcheck-roles", "--loopback", "127.42.0.0"]) == 2
    assert runner_cli.main(["--loopback", "127.43.0.0", "--features", str(tmp_path / "none.feature")]) == 2
    assert "no such" in capsys.readouterr().err
    assert PortPlan(first_slot=6).allocate().roles() == DEFAULT_ROLES
    block = RoleAddresses.loopback("127.42.0.0")
    assert PortPlan(first_slot=7, roles=block).allocate().trunk[0] == "127.42.0.20"
    assert PortPlan(first_slot=8).allocate().trunk[0] == "127.0.0.20"


def test_role_addresses_name_every_role_and_never_change():
    with pytest.raises(ValueError, match="unknown: Proxy; missing: Carrier"):
        RoleAddresses({"UA": "127.0.0.10", "UA2": "127.0.0.11", "Proxy": "127.0.0.12", "VoIPBin": "127.0.0.20",
                       "Destination": "127.0.0.30", "Destination2": "127.0.0.31"})
    moved = LOOPBACK_ROLES.with_roles({"UA": "198.18.60.10", "Destination": "198.18.60.30"})
    assert moved["UA"] == "198.18.60.10" and moved["VoIPBin"] == "127.0.0.20" and LOOPBACK_ROLES["UA"] == "127.0.0.10"
    with pytest.raises(TypeError):
        LOOPBACK_ROLES["UA"] = "127.0.0.99"  # type: ignore[index]
    assert list(moved) == ["UA", "UA2", "Carrier", "VoIPBin", "Destination", "Destination2"]
    assert hash(moved) != hash(LOOPBACK_ROLES)


@pytest.mark.parametrize(("base", "message"), [
    ("127.0.0.5", "'127.0.0.5' is not the first address of a /24 inside 127.0.0.0/8"),
    ("10.0.0.0", "'10.0.0.0' is not inside 127.0.0.0/8"),
    ("loopback", "'loopback' is not the first address"),
])
def test_a_loopback_base_outside_127_0_0_0_8_is_refused_by_trunkcheck_run(base, message, capsys):
    assert runner_cli.main(["--loopback", base]) == 2
    assert f"trunkcheck run: --loopback: {message}" in capsys.readouterr().err
