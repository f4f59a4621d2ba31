"""`trunkcheck ladder FILE.pcap`: any capture drawn in the spec's ladder format."""

from __future__ import annotations

import re
import shutil

import pytest

from harness.cli.ladder import main, parse_roles
from harness.ladder import parse_ladder

from .bench_decode import write_scenario

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


@pytest.fixture(scope="module")
def pcap(tmp_path_factory):
    path = tmp_path_factory.mktemp("ladder") / "call.pcap"
    write_scenario(path, 1)
    return path


@needs_tshark
def test_columns_are_addresses_unless_roles_name_them(pcap, capsys):
    assert main([str(pcap), "--sip-port", "5080", "--sip-port", "5090", "--sip-port", "15060", "--no-rtp"]) == 0
    by_address = parse_ladder(capsys.readouterr().out)
    assert by_address.columns == ["127.0.0.51", "127.0.0.52", "127.0.0.53"]
    roles = "127.0.0.51=UA,127.0.0.52=VoIPBin,127.0.0.53=Destination"
    assert main([str(pcap), "--roles", roles, "--sip-port", "5080-5090", "--sip-port", "15060"]) == 0
    ladder = parse_ladder(capsys.readouterr().out)
    assert ladder.columns == ["UA", "VoIPBin", "Destination"]
    labels = [(s.src, s.dst, s.label) for s in ladder.steps]
    assert labels[:3] == [
        ("UA", "VoIPBin", "INVITE"),
        ("VoIPBin", "UA", "407 Proxy Authentication Required"),
        ("UA", "VoIPBin", "ACK"),
    ]
    assert ("Destination", "VoIPBin", "RTP Media (150 packets)") in labels
    assert ("VoIPBin", "UA", "200 OK (retransmission)") in labels


def test_bad_arguments_are_refused_with_the_reason(tmp_path, capsys):
    assert main([str(tmp_path / "missing.pcap")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(ValueError, match="is not IP=NAME or IP:PORT=NAME"):
        parse_roles("127.0.0.1:UA")
    assert parse_roles("127.0.0.1=UA, 127.0.0.2:5060=VoIPBin, [::1]:5070=PBX") == {
        "127.0.0.1": "UA", ("127.0.0.2", 5060): "VoIPBin", ("::1", 5070): "PBX"}
    for bad, why in (("trunk.example=UA", '"trunk.example" is not an IP address (a column is named by IP or IP:PORT'),
                     ("127.0.0.1:0=UA", 'port "0" is not 1-65535'),
                     ("127.0.0.1:5060=A,127.0.0.1:5060=B", "127.0.0.1:5060 is named twice")):
        with pytest.raises(ValueError, match=re.escape(why)):
            parse_roles(bad)
        assert main([str(tmp_path / "missing.pcap"), "--roles", bad]) == 2
        assert why in capsys.readouterr().err


def write_one_ip_call(path) -> None:
    """A B2BUA on 127.0.0.1:5070 calling a destination on 127.0.0.1:5090, relaying RTP from 127.0.0.1."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    from .bench_decode import sip as bare

    def sip(start, call, cseq, method, branch, body=b""):  # with the Content-Type SDP needs to be dissected
        text = bare(start, call, cseq, method, branch, body)
        return text.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\r\nContent-Type: application/sdp") if body \
            else text

    ua, trunk, dest = ("127.0.0.10", 15060), ("127.0.0.1", 5070), ("127.0.0.1", 5090)
    relay_a, relay_b, dest_media, ua_media = ("127.0.0.1", 30000), ("127.0.0.1", 30002), ("127.0.0.1", 41000), (
        "127.0.0.10", 40000)

    def sdp(addr):
        return (f"v=0\r\no=- 1 1 IN IP4 {addr[0]}\r\ns=-\r\nc=IN IP4 {addr[0]}\r\nt=0 0\r\n"
                f"m=audio {addr[1]} RTP/AVP 0\r\n").encode()

    def rtp(k):
        return bytes([0x80, 0, 0, k]) + b"\0" * 4 + b"\x12\x34\xab\xcd" + b"\xff" * 160

    flow = [
        (ua, trunk, sip("INVITE sip:bob@t.example SIP/2.0", 1, 1, "INVITE", "a", sdp(ua_media))),
        (trunk, dest, sip("INVITE sip:bob@t.example SIP/2.0", 2, 1, "INVITE", "b", sdp(relay_b))),
        (dest, trunk, sip("SIP/2.0 200 OK", 2, 1, "INVITE", "b", sdp(dest_media))),
        (trunk, ua, sip("SIP/2.0 200 OK", 1, 1, "INVITE", "a", sdp(relay_a))),
        *[(dest_media, relay_b, rtp(k)) for k in range(5)],
        *[(relay_a, ua_media, rtp(k)) for k in range(5)],
        *[(ua_media, relay_a, rtp(k)) for k in range(5)],
        *[(relay_b, dest_media, rtp(k)) for k in range(5)],
        (ua, trunk, sip("BYE sip:bob@t.example SIP/2.0", 1, 2, "BYE", "c")),
    ]
    packets = []
    for k, (src, dst, payload) in enumerate(flow):
        pkt = Ether() / IP(src=src[0], dst=dst[0]) / UDP(sport=src[1], dport=dst[1]) / payload
        pkt.time = 1_700_000_000 + k * 0.02
        packets.append(pkt)
    wrpcap(str(path), packets)


@needs_tshark
def test_roles_sharing_an_ip_are_named_by_port_and_rtp_follows_the_sdp(tmp_path, capsys):
    pcap = tmp_path / "one-ip.pcap"
    write_one_ip_call(pcap)
    ports = ["--sip-port", "5070", "--sip-port", "5090", "--sip-port", "15060"]
    roles = "127.0.0.10=UA,127.0.0.1:5070=VoIPBin,127.0.0.1:5090=Destination"
    assert main([str(pcap), "--roles", roles, *ports]) == 0
    ladder = parse_ladder(capsys.readouterr().out)
    assert ladder.columns == ["UA", "VoIPBin", "Destination"]
    assert [(s.src, s.dst, s.label) for s in ladder.steps] == [
        ("UA", "VoIPBin", "INVITE"), ("VoIPBin", "Destination", "INVITE"), ("Destination", "VoIPBin", "200 OK"),
        ("VoIPBin", "UA", "200 OK"), ("Destination", "VoIPBin", "RTP Media (5 packets)"),
        ("VoIPBin", "UA", "RTP Media (5 packets)"), ("UA", "VoIPBin", "RTP Media (5 packets)"),
        ("VoIPBin", "Destination", "RTP Media (5 packets)"), ("UA", "VoIPBin", "BYE"),
    ]
    # unnamed: an IP that sends SIP to itself is drawn by ip:port, RTP in the column of its SDP's sender
    assert main([str(pcap), *ports]) == 0
    ladder = parse_ladder(capsys.readouterr().out)
    assert ladder.columns == ["127.0.0.10", "127.0.0.1:5070", "127.0.0.1:5090"]
    assert ("127.0.0.1:5090", "127.0.0.1:5070", "RTP Media (5 packets)") in [(s.src, s.dst, s.label)
                                                                              for s in ladder.steps]
    # one name for the whole IP cannot be drawn: said, not a traceback
    assert main([str(pcap), "--roles", "127.0.0.1=PBX", *ports]) == 2
    err = capsys.readouterr().err
    assert "frame 2: PBX sends to itself (INVITE)" in err and "--roles IP:PORT=NAME" in err
