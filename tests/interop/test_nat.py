"""Calls from a UA behind a real NAT (tests/interop/nat_topology.py: namespaces, veth, iptables
MASQUERADE remapping UDP ports) through the reference trunk, as separate processes: the documented ladders
hold in the trunk's view (the UA's column is the NAT's public address), responses and the destination's
BYE reach the UA through the binding (rport, RFC 3581; requests to where the UA's came from), RTP flows
both ways (symmetric latching, RFC 4961), and a stranger spraying RTP at the relay's ports gets nothing
relayed (RTP Bleed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from behave.parser import parse_file

from harness.adapters.baresip import Baresip, find_baresip
from harness.capture.decode import decode_file
from harness.capture.decoded import DecodedRtp
from harness.capture.observation import Observation
from harness.ladder import Ladder, render_observed
from harness.ladder.expected import ladder_from_docstring, ladder_from_table
from harness.suite.checks import check_flow
from harness.suite.media_checks import check_two_way_media

from .nat_topology import (
    DESTINATION_IP,
    NAT_PUBLIC,
    STRANGER_IP,
    TRUNK_IP,
    UA_IP,
    NatTopology,
    missing_requirements,
)

REPO = Path(__file__).resolve().parents[2]
FEATURES = REPO / "features"
_MISSING = missing_requirements() or (None if shutil.which("tshark") else "tshark is not installed")
pytestmark = [pytest.mark.skipif(_MISSING is not None, reason=_MISSING or ""), pytest.mark.slow,
              pytest.mark.interop]

SIP_PORT, DEST_PORT, RELAY_PORTS = 5060, 5090, (30000, 30039)
DOMAIN = "example.trunk.voipbin.net"
CONFIG = f"""
[server]
listen = ["udp:{TRUNK_IP}:{SIP_PORT}"]

[media]
address = "{TRUNK_IP}"
port_min = {RELAY_PORTS[0]}
port_max = {RELAY_PORTS[1]}

[[trunk]]
name = "example"
domain_name = "example"
username = "alice"
password = "secret"
destination = "sip:{DESTINATION_IP}:{DEST_PORT}"
"""
TRUNK_VIEW = {NAT_PUBLIC: "UA", TRUNK_IP: "VoIPBin", DESTINATION_IP: "Destination", STRANGER_IP: "Stranger"}
UA_VIEW = {UA_IP: "UA", TRUNK_IP: "VoIPBin"}
STRANGER_SSRC = 0xBADC0DE
STRANGER = f"""
import socket, struct, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("{STRANGER_IP}", 0))
end, seq = time.monotonic() + float(sys.argv[1]), 0
while time.monotonic() < end:  # the relay's whole port range, RTP ports, 50 times a second
    seq += 1
    for port in range({RELAY_PORTS[0]}, {RELAY_PORTS[1]} + 1, 2):
        sock.sendto(struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, seq * 160, {STRANGER_SSRC}) + bytes(160),
                    ("{TRUNK_IP}", port))
    time.sleep(0.02)
"""


def feature_ladder(feature: str, scenario: str) -> Ladder:
    """The ladder a scenario of features/ documents (its doc string, or its table of elided messages)."""
    parsed = parse_file(str(FEATURES / feature))
    assert parsed is not None
    for candidate in parsed.walk_scenarios():
        if candidate.name == scenario:
            for step in candidate.steps:
                if step.text:
                    return ladder_from_docstring(step.text)
                if step.table is not None and "elided" in step.name:
                    return ladder_from_table([dict(row.as_dict()) for row in step.table], elided=True)
    raise AssertionError(f"no ladder in {feature}: {scenario}")


class NatCall:
    """One call from the UA behind the NAT, with both captures decoded."""

    def __init__(self, net: NatTopology, tmp: Path, *, destination: list[str], ua: list[str],
                 stranger_seconds: float = 0.0, ua_command: list[str] | None = None) -> None:
        """``ua``: options of the simulated UA; ``ua_command``: another UA's whole command line instead."""
        config = tmp / "trunk.toml"
        config.write_text(CONFIG, encoding="utf-8")
        self.trunk_log, self.wan_pcap, self.lan_pcap = tmp / "trunk.log", tmp / "wan.pcap", tmp / "lan.pcap"
        wan_capture = net.capture("wan", "any", self.wan_pcap)
        lan_capture = net.capture("lan", "lan0", self.lan_pcap)
        py = sys.executable
        with self.trunk_log.open("wb") as log:
            trunk = net.popen("wan", [py, "-m", "reference_server", "--config", str(config)], cwd=REPO,
                              stdout=log, stderr=subprocess.STDOUT)
        net.wait_bound("wan", TRUNK_IP, SIP_PORT)
        dest = net.popen("wan", [py, "-m", "simulator", "destination", "--listen", f"{DESTINATION_IP}:{DEST_PORT}",
                                 "--calls", "1", "--timeout", "30", *destination], cwd=REPO,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        net.wait_bound("wan", DESTINATION_IP, DEST_PORT)
        if stranger_seconds:
            net.popen("wan", [py, "-c", STRANGER, str(stranger_seconds)])
        command = ua_command or [py, "-m", "simulator", "ua", "--listen", f"{UA_IP}:5060", "--target",
                                 f"sip:+15550100@{DOMAIN}", "--proxy", f"{TRUNK_IP}:{SIP_PORT}",
                                 "--username", "alice", "--password", "secret", *ua]
        self.ua = net.run("lan", *command, timeout=60)
        self.dest_out = dest.communicate(timeout=30)[0].decode(errors="replace")
        time.sleep(0.2)  # the last packets reach the captures
        for proc in (trunk, wan_capture, lan_capture):
            net.stop(proc)
        self.trunk_view = Observation.build(self.wan_pcap, decode_file(self.wan_pcap, sip_ports=[SIP_PORT, DEST_PORT]),
                                           TRUNK_VIEW)
        self.ua_view = Observation.build(self.lan_pcap, decode_file(self.lan_pcap, sip_ports=[SIP_PORT]), UA_VIEW)

    def drawn(self) -> str:
        """Both views as ladders, for a failure message."""
        trunk = render_observed(self.trunk_view.observed, ["UA", "VoIPBin", "Destination", "Stranger"])
        ua = render_observed(self.ua_view.observed, ["UA", "VoIPBin"])
        return f"the trunk's view (UA = the NAT's {NAT_PUBLIC}):\n{trunk}\nthe UA's view:\n{ua}"


def ua_rtp(out: str) -> tuple[int, int]:
    found = re.search(r"RTP: sent (\d+), received (\d+)", out)
    assert found, out
    return int(found[1]), int(found[2])


@pytest.fixture
def net():
    with NatTopology() as topology:
        yield topology


def test_the_documented_call_flow_and_two_way_media_through_a_nat(net: NatTopology, tmp_path: Path) -> None:
    call = NatCall(net, tmp_path, destination=["--answer-after", "100"], ua=["--hold", "1000"])
    assert "final status: 200" in call.ua, call.ua
    ladder = feature_ladder("outgoing_call_basic_auth.feature", "The documented call flow, the caller hangs up")
    check_flow(call.trunk_view, ladder)
    notes = check_two_way_media(call.trunk_view)
    assert len(notes) == 2 and all("reached" in n for n in notes), notes
    # the NAT really translated: the trunk saw the UA's SIP from a remapped port, never its own address
    ua_sip = [m for m in call.trunk_view.messages if m.src[0] == NAT_PUBLIC]
    assert ua_sip and all(20000 <= m.src[1] <= 29999 for m in ua_sip), call.drawn()
    assert not [d for d in call.trunk_view.decoded if UA_IP in (d.src[0], d.dst[0])]
    # rport: the trunk answered the NAT binding, and the UA (inside) got every answer
    via = call.trunk_view.select(src="VoIPBin", dst="UA", status=200)[0].header("Via")[0]
    assert f"received={NAT_PUBLIC}" in via and re.search(r"rport=2\d{4}", via), via
    assert call.ua_view.final_responses(dst="UA"), call.drawn()
    # the UA's own view: its RTP and the trunk's both ways, on its private address
    sent, received = ua_rtp(call.ua)
    assert sent > 20 and received > 20, call.ua
    assert call.ua_view.rtp(src="VoIPBin", dst="UA") and call.ua_view.rtp(src="UA", dst="VoIPBin")


def test_the_destination_hangs_up_through_the_nat_binding(net: NatTopology, tmp_path: Path) -> None:
    call = NatCall(net, tmp_path, destination=["--answer-after", "100", "--hangup-after", "600"],
                   ua=["--expect-remote-bye", "--remote-bye-timeout", "5000"])
    assert "final status: 200" in call.ua and "ended by remote" in call.ua.replace("the far end", "remote"), call.ua
    check_flow(call.trunk_view, feature_ladder("outgoing_call_basic_auth.feature", "The destination hangs up"))
    check_two_way_media(call.trunk_view)
    bye = call.trunk_view.requests("BYE", src="VoIPBin", dst="UA")
    assert bye and bye[0].dst[0] == NAT_PUBLIC and bye[0].dst[1] != 5060, call.drawn()  # the binding, not Contact
    assert call.ua_view.requests("BYE", src="VoIPBin", dst="UA"), call.drawn()  # and through the NAT


def test_early_media_through_a_nat(net: NatTopology, tmp_path: Path) -> None:
    call = NatCall(net, tmp_path, destination=["--no-ringing", "--early-media", "--answer-after", "300"], ua=["--hold", "500"])
    assert "final status: 200" in call.ua, call.ua
    check_flow(call.trunk_view, feature_ladder("early_media.feature", "The documented early media flow"))
    check_two_way_media(call.trunk_view)


def test_a_stranger_spraying_the_relay_ports_gets_nothing_relayed(net: NatTopology, tmp_path: Path) -> None:
    call = NatCall(net, tmp_path, destination=["--answer-after", "100"], ua=["--hold", "1500"],
                   stranger_seconds=4.0)
    assert "final status: 200" in call.ua, call.ua
    check_two_way_media(call.trunk_view)  # the call's own media still both ways
    stray = call.trunk_view.rtp(src="Stranger")
    assert len(stray) > 100, "the stranger's spray is in the trunk's capture"
    relayed = [p for p in call.trunk_view.decoded if isinstance(p, DecodedRtp) and p.ssrc == STRANGER_SSRC
               and call.trunk_view.role(p.src) == "VoIPBin"]
    assert not relayed, f"the trunk relayed the stranger's RTP: {relayed[:3]}"
    assert not [p for p in call.ua_view.rtp(dst="UA") if p.ssrc == STRANGER_SSRC]
    log = call.trunk_log.read_text(encoding="utf-8")
    assert re.search(rf"dropping packets from {re.escape(STRANGER_IP)}:\d+ \((latched to|not latched)", log), log
    assert "Traceback" not in log


@pytest.mark.skipif(find_baresip() is None, reason="baresip is not installed (Debian: baresip)")
def test_baresip_behind_the_nat_gets_two_way_media(net: NatTopology, tmp_path: Path) -> None:
    """A real softphone: its Via asks for rport, its SDP names 10.13.0.2, the NAT remaps every port."""
    workdir = tmp_path / "baresip"
    workdir.mkdir()
    phone = Baresip((UA_IP, 5060), workdir=workdir)
    phone.write_config()
    (workdir / "accounts").write_text(f'<sip:alice@{DOMAIN}>;auth_pass=secret;outbound="sip:{TRUNK_IP}:{SIP_PORT}";'
                                      "regint=0\n")
    binary = find_baresip()
    assert binary is not None
    call = NatCall(net, tmp_path, destination=["--answer-after", "100", "--hangup-after", "1500"], ua=[],
                   ua_command=[binary, "-f", str(workdir), "-e", f"/dial sip:+15550100@{DOMAIN}", "-t", "4"])
    invite = call.trunk_view.requests("INVITE", src="UA", dst="VoIPBin")
    assert invite and ";rport" in invite[0].header("Via")[0], call.drawn()
    assert invite[0].sdp_connection_address == UA_IP  # it announces its private address
    assert call.trunk_view.select(src="VoIPBin", dst="UA", status=200), call.drawn()
    notes = check_two_way_media(call.trunk_view)
    assert len(notes) == 2 and all("reached" in n for n in notes), f"{notes}\n{call.drawn()}"
    assert call.trunk_view.requests("BYE", src="VoIPBin", dst="UA"), call.drawn()
    assert call.ua_view.requests("BYE", src="VoIPBin", dst="UA"), call.drawn()  # through the binding
