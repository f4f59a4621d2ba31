"""`trunkcheck ladder FILE.pcap`: any capture drawn in the spec's ladder format."""

from __future__ import annotations

import shutil

import pytest

from harness.ladder import parse_ladder
from harness.ladder_cli import main, parse_roles

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
    with pytest.raises(ValueError, match="is not ADDRESS=NAME"):
        parse_roles("127.0.0.1:UA")
    assert parse_roles("127.0.0.1=UA, 127.0.0.2:5060=VoIPBin") == {"127.0.0.1": "UA", "127.0.0.2:5060": "VoIPBin"}
