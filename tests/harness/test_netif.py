"""Where `trunkcheck run --interface IF` puts the harness's roles: IF's address, read from the interface
(IPv4 first); a clear refusal, before anything is sent, for an interface that does not exist, a run without
equipment (its traffic would never cross IF) or --interface combined with --loopback. Interfaces other than
loopback are made in network namespaces: tests/equipment/test_run_other_host.py."""

from __future__ import annotations

import pytest

from harness.cli.run import build_parser, main, settings_from
from harness.equipment.netif import (
    InterfaceError,
    interface_address,
    interface_addresses,
    is_loopback,
    local_address_problem,
)
from harness.topology import RoleAddresses


def test_the_loopback_interface_s_addresses_ipv4_first() -> None:
    found = interface_addresses("lo")
    assert found[0] == "127.0.0.1" and found == sorted(found, key=lambda a: ":" in a)
    assert interface_address("lo") == "127.0.0.1" and is_loopback("lo")


@pytest.mark.parametrize("name", ["t13-nosuch0", "../lo", ""])
def test_an_interface_that_does_not_exist_is_named_with_those_that_do(name: str) -> None:
    with pytest.raises(InterfaceError) as info:
        interface_address(name)
    assert repr(name) in str(info.value)
    if name == "t13-nosuch0":
        assert "this host has no interface 't13-nosuch0' (it has: " in str(info.value) and "lo" in str(info.value)


def test_an_address_of_another_host_is_named() -> None:
    assert local_address_problem("127.0.0.1") is None
    assert local_address_problem("198.51.100.7") == "198.51.100.7 is not an address of this host (no interface has it)"


def test_the_loopback_interface_keeps_the_roles_on_their_loopback_block() -> None:
    settings = settings_from(build_parser().parse_args(["--interface", "lo", "--loopback", "127.42.0.0"]))
    assert settings.roles == RoleAddresses.loopback("127.42.0.0")


@pytest.mark.parametrize(("argv", "problem"), [
    (["--interface", "t13-nosuch0", "--equipment", "x.toml"], "--interface: this host has no interface 't13-nosuch0'"),
    (["--interface", "t13-nosuch0"], "--interface t13-nosuch0 without --equipment: the harness's UA, its reference "
                                     "trunk and destination would all be on this host"),
    (["--interface", "t13-nosuch0", "--loopback", "127.42.0.0", "--equipment", "x.toml"],
     "--loopback 127.42.0.0 and --interface t13-nosuch0: the harness's roles live on loopback or on"),
])
def test_an_interface_the_roles_cannot_take_is_refused_before_anything_runs(
        argv: list[str], problem: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("trunkcheck run: ") and problem in err, err
