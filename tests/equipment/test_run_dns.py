"""`trunkcheck run --dns IP[:PORT]`: the DNS server that locates the addresses an equipment file gives by
name (RFC 3263), in place of the file's ``dns`` key; checked before anything runs, passed on to behave (which
loads the file again) and stated among the run's conditions. dnsmasq (tests/dns_server.py) is the DNS server."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.cli import run as run_cli
from harness.equipment import EquipmentError, parse_equipment
from harness.settings import RunSettings, console_lines
from harness.suite.session import RunOptions
from sipcore.transport_address import TransportAddress

from ..addresses import block
from ..dns_server import TRUNK, dnsmasq, dnsmasq_missing, trunk_zone
from .run_support import EXAMPLES, examples_in_block, needs_run, statuses, summary, trunkcheck_run
from .test_equipment_dns import TRUNK_FILE, zone

needs_dnsmasq = pytest.mark.skipif(dnsmasq_missing() is not None, reason=str(dnsmasq_missing()))
SIP1 = block().ip(61, subnet=56)


@needs_dnsmasq
def test_dns_given_to_the_loader_wins_over_the_files_key() -> None:
    """The file names a DNS server that never answers; --dns names dnsmasq: the names are located there."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((block().ip(98, subnet=56), 0))
        text = TRUNK_FILE.format(dns="{}:{}".format(*silent.getsockname()), address=f"sip:{TRUNK}",
                                 destination="127.0.5.30:5080")
        with dnsmasq(zone()) as server:
            eq = parse_equipment(text, "eq.toml", dns=server)
    assert eq.address == TransportAddress("udp", SIP1, 5070)
    assert eq.dns == server


def test_the_files_dns_key_is_still_checked_under_dns() -> None:
    text = TRUNK_FILE.format(dns="resolver.example", address="udp:127.0.5.50:5060", destination="127.0.5.30:5080")
    with pytest.raises(EquipmentError, match=r'^eq\.toml:4: equipment\.dns: DNS server "resolver\.example"'):
        parse_equipment(text, "eq.toml", dns=("127.0.0.1", 5353))


@pytest.mark.parametrize(("args", "message"), [
    (["--dns", "resolver.example", "--equipment", str(EXAMPLES / "kamailio-trunk.toml")],
     'trunkcheck run: --dns: DNS server "resolver.example": "resolver.example" is not an IP'),
    (["--dns", "tcp:127.0.0.1:53", "--equipment", str(EXAMPLES / "kamailio-trunk.toml")],
     'trunkcheck run: --dns: DNS server "tcp:127.0.0.1:53": give IP[:PORT], without a transport'),
    (["--dns", "127.0.0.1:5353"], "trunkcheck run: --dns locates the addresses an equipment file gives by name: "
     "give --equipment too"),
])
def test_a_bad_or_useless_dns_is_refused_before_anything_runs(args: list[str], message: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli.main(args) == 2
    assert capsys.readouterr().err.startswith(message)


def test_dns_is_a_condition_of_the_run_and_reaches_behave() -> None:
    settings = RunSettings(dns=("127.0.0.1", 5353), equipment=EXAMPLES / "kamailio-trunk.toml")
    assert [str(c) for c in settings.conditions] == ["--equipment examples/equipment/kamailio-trunk.toml",
                                                     "--dns 127.0.0.1:5353"]
    assert any("--dns 127.0.0.1:5353" in line and "in place of the file's dns key" in line
               for line in console_lines(settings.conditions))
    assert RunOptions.from_userdata({"dns": "[::1]:5353"}).dns == ("::1", 5353)
    assert RunOptions.from_userdata({}).dns is None
    with pytest.raises(ValueError, match="dns='example.net': DNS server"):
        RunOptions.from_userdata({"dns": "example.net"})


@needs_dnsmasq
@pytest.mark.interop
@needs_run[0]
@needs_run[1]
def test_a_run_locates_the_files_names_with_dns(tmp_path: Path) -> None:
    """The reference trunk as equipment given by name, in a file without a dns key: `--dns` names the
    DNS server that knows the name; the run locates it there and passes the documented call."""
    folder = examples_in_block(tmp_path / "examples")
    one_ip = block().ip(1)
    by_name = folder / "by-name.toml"
    text = (folder / "reference-trunk-one-ip.toml").read_text()
    assert f'address = "udp:{one_ip}:5070"' in text and "dns =" not in text
    by_name.write_text(text.replace(f'address = "udp:{one_ip}:5070"', f'address = "sip:{TRUNK}"'))
    with dnsmasq(trunk_zone((one_ip, 5070), (SIP1, 5071))) as (ip, port):
        proc = trunkcheck_run(tmp_path, "--equipment", str(by_name), "--dns", f"{ip}:{port}", "--features",
                              str(EXAMPLES.parents[1] / "features" / "outgoing_call_basic_auth.feature"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary(proc)["failed"] == 0 and summary(proc)["passed"] > 0, proc.stdout
    assert statuses(tmp_path / "r")["The documented call flow, the caller hangs up"] == "passed"
    assert (f"equipment.address sip:{TRUNK} is udp:{one_ip}:5070 (located through DNS, RFC 3263, asking "
            f"{ip}:{port} (--dns))") in proc.stdout
    assert f"--dns {ip}:{port}" in proc.stdout  # among the run's conditions
