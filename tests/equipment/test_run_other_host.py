"""Equipment on another host: `trunkcheck run --equipment F --interface IF`. The trunk under test
(trunkcheck's reference server, `trunkcheck serve`) runs in a network namespace of its own at 192.0.2.2,
its destination and trusted peer set to the harness's address on the link (192.0.2.1); the harness runs in
another namespace joined to it by a veth pair (tests/equipment/netns_support.py), as a real subprocess.
Its roles take the interface's address, each on a port of its own (the equipment file's ``[harness]``
places the UA at :5062 and the destination at :5080, as an SBC's configuration would), the capture is
the interface's, and what the pcap and the ladders draw is the link's addresses, never loopback."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.adapters.kamailio import KAMAILIO_MISSING, find_kamailio
from harness.equipment import load_equipment
from harness.ladder import parse_ladder

from .netns_support import FAR_IF, FAR_IP, NEAR_IF, NEAR_IP, Link, Namespace, why_no_netns
from .run_support import EXAMPLES, FEATURES, REPO, applicable_scenarios, needs_run, statuses, summary

_NO_NETNS = why_no_netns()
pytestmark = [pytest.mark.interop, *needs_run,
              pytest.mark.skipif(_NO_NETNS is not None, reason=f"needs network namespaces: {_NO_NETNS}")]

SERVER = f"""
[server]
listen = ["udp:{FAR_IP}:5060", "tcp:{FAR_IP}:5060"]
trusted_peers = ["{NEAR_IP}"]

[media]
address = "{FAR_IP}"
port_min = 30000
port_max = 30999

[[trunk]]
name = "example"
domain_name = "example"
username = "alice"
password = "secret"
destination = "sip:{NEAR_IP}:5080"

[[extension]]
extension = "1001"
password = "pass1001"

[[extension]]
extension = "1002"
password = "pass1002"
"""

EQUIPMENT = f"""
[equipment]
name = "reference trunk on another host"
role = "trunk"
address = "udp:{FAR_IP}:5060"
features = ["basic-auth", "early-media", "status-relay", "q850-reason", "registration", "cancel"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"

[equipment.registrar]
domain = "example.registrar.voipbin.net"
trusted_peers = ["{NEAR_IP}"]

[[equipment.registrar.extension]]
extension = "1001"
password = "pass1001"

[[equipment.registrar.extension]]
extension = "1002"
password = "pass1002"

# where the SBC's configuration expects the harness: its destination, and the caller's port
[harness]
ua = "{NEAR_IP}:5062"
destination = "{NEAR_IP}:5080"
"""

RUN_FEATURES = ("outgoing_call_basic_auth.feature", "early_media.feature", "hangup_cause.feature",
                "registration.feature")
CALL = Path("outgoing-call-with-basic-authentication") / "the-documented-call-flow-the-caller-hangs-up"
EARLY = Path("early-media") / "the-documented-early-media-flow"
REJECTED = Path("hangup-cause-relay") / "the-documented-flow-the-destination-answers-404-not-found"
DOCUMENTED = ("The documented call flow, the caller hangs up", "The documented early media flow",
              "The documented flow, the destination answers 404 Not Found",
              "A call to a registered extension rings the UA")


@pytest.fixture(scope="module")
def link(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Link, Path]]:
    """The two namespaces, the reference trunk serving in the far one, the equipment file written."""
    tmp = tmp_path_factory.mktemp("other-host")
    (tmp / "server.toml").write_text(SERVER)
    (tmp / "trunk.toml").write_text(EQUIPMENT)
    with Link() as joined:
        log = (tmp / "serve.log").open("w")
        server = joined.far.popen([sys.executable, "-m", "harness.cli", "serve", "--config", str(tmp / "server.toml")],
                                  stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 20
        while "listening on" not in (tmp / "serve.log").read_text():
            assert server.poll() is None and time.monotonic() < deadline, (tmp / "serve.log").read_text()
            time.sleep(0.05)
        yield joined, tmp
        log.close()


def run_near(link: tuple[Link, Path], *args: str, run_id: str = "r") -> subprocess.CompletedProcess[str]:
    joined, tmp = link
    argv = [sys.executable, "-m", "harness.cli", "run", "--output", str(tmp), "--run-id", run_id, *args]
    return joined.near.run(argv, timeout=240, cwd=REPO)


def feature_args() -> list[str]:
    return [arg for name in RUN_FEATURES for arg in ("--features", str(FEATURES / name))]


@pytest.fixture(scope="module")
def raw_run(link: tuple[Link, Path]) -> tuple[subprocess.CompletedProcess[str], Path]:
    proc = run_near(link, "--equipment", str(link[1] / "trunk.toml"), "--interface", NEAR_IF, *feature_args())
    return proc, link[1] / "r"


def packets(link: tuple[Link, Path], pcap: Path, *fields: str, display: str = "") -> list[list[str]]:
    argv = ["tshark", "-r", str(pcap), "-d", "udp.port==5060,sip", "-d", "udp.port==5062,sip", "-d",
            "udp.port==5080,sip", "-T", "fields", *(a for f in fields for a in ("-e", f))]
    done = subprocess.run([*argv, *(["-Y", display] if display else [])], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


def mac_of(ns: Namespace, name: str) -> str:
    done = ns.run(["ip", "-json", "link", "show", "dev", name])
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)[0]["address"])


def test_the_documented_ladders_pass_against_a_trunk_on_another_host(raw_run) -> None:  # type: ignore[no-untyped-def]
    proc, run_dir = raw_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts = summary(proc)
    assert counts["failed"] == 0 and counts["passed"] == counts["total"] >= 20, proc.stdout
    seen = statuses(run_dir)
    for name in DOCUMENTED:
        assert seen[name] == "passed", name
    assert f"the harness's roles on {NEAR_IP}, captured on {NEAR_IF}" in proc.stdout


def test_the_capture_is_the_interface_s_and_holds_only_the_link_s_addresses(raw_run, link) -> None:  # type: ignore[no-untyped-def]
    _, run_dir = raw_run
    joined, _ = link
    macs = {mac_of(joined.near, NEAR_IF), mac_of(joined.far, FAR_IF)}
    for stem in (CALL, EARLY, REJECTED):
        rows = packets(link, run_dir / stem.with_suffix(".pcap"), "eth.src", "ip.src", "ip.dst")
        assert len(rows) > 5, stem
        assert {r[0] for r in rows} == macs, "Ethernet frames of the veth pair, not loopback's zero MACs"
        assert {(r[1], r[2]) for r in rows} == {(NEAR_IP, FAR_IP), (FAR_IP, NEAR_IP)}, stem


def test_via_contact_and_sdp_carry_the_interface_address(raw_run, link) -> None:  # type: ignore[no-untyped-def]
    _, run_dir = raw_run
    pcap = run_dir / CALL.with_suffix(".pcap")
    sent = packets(link, pcap, "sip.Via", "sip.Contact", "sdp.connection_info", "udp.srcport",
                   display=f'sip.Method == "INVITE" && ip.src == {NEAR_IP}')
    assert sent, "the UA's INVITEs"
    for via, contact, conn, port in sent:
        assert port == "5062", "the UA sends from where [harness] ua places it"
        assert f"{NEAR_IP}:5062" in via and NEAR_IP in contact and conn.endswith(NEAR_IP), (via, contact, conn)
    relayed = packets(link, pcap, "sip.r-uri", "udp.dstport", display=f'sip.Method == "INVITE" && ip.src == {FAR_IP}')
    assert relayed and all(r[1] == "5080" and f"{NEAR_IP}:5080" in r[0] for r in relayed), relayed
    answered = packets(link, pcap, "sip.Contact", "sdp.connection_info",
                       display=f"sip.Status-Code == 200 && ip.src == {NEAR_IP} && sdp")
    assert answered and all(NEAR_IP in c and s.endswith(NEAR_IP) for c, s in answered), answered
    for name in (CALL, EARLY, REJECTED):
        assert "127.0.0." not in (run_dir / name.with_suffix(".pcap")).read_bytes().decode("latin-1")


def test_the_ladders_draw_the_roles_at_the_link_s_addresses(raw_run, capsys) -> None:  # type: ignore[no-untyped-def]
    from harness.cli.ladder import main as ladder_main

    _, run_dir = raw_run
    drawn = parse_ladder((run_dir / CALL.with_suffix(".ladder.txt")).read_text())
    assert drawn.columns == ["UA", "VoIPBin", "Destination"]
    flow = [(s.src, s.dst, s.label.split(" (")[0]) for s in drawn.steps]
    assert ("VoIPBin", "Destination", "INVITE") in flow and ("VoIPBin", "UA", "RTP Media") in flow, flow
    pcap = str(run_dir / EARLY.with_suffix(".pcap"))
    assert ladder_main([pcap, "--sip-port", "5062", "--sip-port", "5080"]) == 0
    by_address = parse_ladder(capsys.readouterr().out)
    assert by_address.columns == [NEAR_IP, FAR_IP], "the pcap's own addresses"
    roles = f"{NEAR_IP}:5062=UA,{FAR_IP}=VoIPBin,{NEAR_IP}:5080=Destination"
    assert ladder_main([pcap, "--roles", roles, "--sip-port", "5062", "--sip-port", "5080"]) == 0
    assert parse_ladder(capsys.readouterr().out).columns == ["UA", "VoIPBin", "Destination"]
    report = (run_dir / "validation-report.md").read_text()
    assert f"udp:{FAR_IP}:5060" in report and f"the harness's roles on {NEAR_IP}" in report


def test_socket_capture_works_there_too(link) -> None:  # type: ignore[no-untyped-def]
    proc = run_near(link, "--equipment", str(link[1] / "trunk.toml"), "--interface", NEAR_IF, "--capture",
                    "sockets", "--features", str(FEATURES / "outgoing_call_basic_auth.feature"), run_id="sockets")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert statuses(link[1] / "sockets")["The documented call flow, the caller hangs up"] == "passed"
    rows = packets(link, link[1] / "sockets" / CALL.with_suffix(".pcap"), "ip.src", "ip.dst")
    assert {(s, d) for s, d in rows} == {(NEAR_IP, FAR_IP), (FAR_IP, NEAR_IP)}


@pytest.mark.parametrize(("change", "problem"), [
    ((f'destination = "{NEAR_IP}:5080"', 'destination = "127.0.0.30:5080"'),
     "harness.destination: 127.0.0.30 is not an address of t13if-near (192.0.2.1)"),
    ((f'ua = "{NEAR_IP}:5062"', 'ua = "198.51.100.7:5062"'),
     "harness.ua: 198.51.100.7 is not an address of t13if-near"),
    ((f'trusted_peers = ["{NEAR_IP}"]', 'trusted_peers = ["198.51.100.0/24"]'),
     "198.51.100.1 is not an address of t13if-near"),
])
def test_an_address_the_harness_cannot_take_there_is_refused_before_any_traffic(
        link, change: tuple[str, str], problem: str) -> None:  # type: ignore[no-untyped-def]
    path = link[1] / "changed.toml"
    path.write_text(EQUIPMENT.replace(*change))
    proc = run_near(link, "--equipment", str(path), "--interface", NEAR_IF, run_id="refused")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "equipment refused before any scenario traffic" in proc.stderr and problem in proc.stderr, proc.stderr
    assert f"{path}:" in proc.stderr, "the message names the file and line"
    assert not (link[1] / "refused").exists()


def test_an_interface_without_an_address_is_refused_and_an_ipv6_only_one_gives_its_ipv6(link) -> None:  # type: ignore[no-untyped-def]
    joined, tmp = link
    joined.near.sh("ip link add t13if-bare type veth peer name t13if-v6; ip link set t13if-bare up; "
                   "ip addr add 2001:db8::1/64 dev t13if-v6 nodad; ip link set t13if-v6 up")
    proc = run_near(link, "--equipment", str(tmp / "trunk.toml"), "--interface", "t13if-bare", run_id="bare")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert ("trunkcheck run: --interface: interface 't13if-bare' has no IPv4 address and no IPv6 address other than "
            "link-local") in proc.stderr, proc.stderr
    done = joined.near.run([sys.executable, "-c", "from harness.equipment.netif import interface_address as a; "
                            "print(a('t13if-v6'), a('t13if-near'))"], cwd=REPO)
    assert done.stdout.split() == ["2001:db8::1", NEAR_IP], done.stderr


@pytest.mark.skipif(find_kamailio() is None, reason=KAMAILIO_MISSING)
def test_kamailio_as_the_trunk_on_another_host(link) -> None:  # type: ignore[no-untyped-def]
    """Kamailio (examples/kamailio/kamailio.cfg) at 192.0.2.2:5070 in the far namespace, relaying to the
    harness's destination at 192.0.2.1:5090: every scenario its example file claims passes, captured on
    the interface. (A proxy relays no media: the UA's RTP goes straight to the destination, both on this
    host, so it stays off the interface and out of the pcap.)"""
    joined, tmp = link
    text = (EXAMPLES / "kamailio-trunk.toml").read_text()
    text = text[:text.index("\n[equipment.process]")].replace("udp:127.0.0.50:5060", f"udp:{FAR_IP}:5070")
    text = text.replace("udp:127.0.0.30:5080", f"udp:{NEAR_IP}:5090").replace('"127.0.0.12"', f'"{NEAR_IP}"')
    (tmp / "kamailio.toml").write_text(text)
    (tmp / "kamailio-run").mkdir()
    log = (tmp / "kamailio.log").open("w")
    kamailio = joined.far.popen([str(find_kamailio()), "-f", str(REPO / "examples" / "kamailio" / "kamailio.cfg"),
                                 "-DD", "-E", "-m", "64", "-M", "8", "-Y", str(tmp / "kamailio-run"),
                                 "-A", f"LISTEN_IP={FAR_IP}", "-A", "LISTEN_PORT=5070", "-A", f"DEST_IP={NEAR_IP}",
                                 "-A", "DEST_PORT=5090", "-A", f"TRUSTED_PEER={NEAR_IP}"],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        proc = run_near(link, "--equipment", str(tmp / "kamailio.toml"), "--interface", NEAR_IF, run_id="kamailio")
    finally:
        kamailio.terminate()
        kamailio.wait(10)
        log.close()
    assert proc.returncode == 0, proc.stdout + proc.stderr + (tmp / "kamailio.log").read_text()[-3000:]
    counts = summary(proc)
    assert counts["failed"] == 0 and counts["passed"] == counts["total"] >= 15, proc.stdout
    seen = statuses(tmp / "kamailio")
    yes, _ = applicable_scenarios(load_equipment(tmp / "kamailio.toml"))
    assert sum(seen[name] == "passed" for name in yes) == counts["passed"], "each one the file claims"
    for name in ("The documented call flow, the caller hangs up", DOCUMENTED[2], DOCUMENTED[3]):
        assert seen[name] == "passed", name
    rows = packets(link, tmp / "kamailio" / CALL.with_suffix(".pcap"), "ip.src", "ip.dst", "udp.dstport")
    assert {(s, d) for s, d, _ in rows} == {(NEAR_IP, FAR_IP), (FAR_IP, NEAR_IP)}
    assert "5090" in {port for _, _, port in rows}, "Kamailio relayed the call to the harness's destination"
