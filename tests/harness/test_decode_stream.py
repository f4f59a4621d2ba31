"""The long-lived tshark decoder gives, file by file, what a tshark per file gives."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from harness.capture.decode import DecodedMessage, DecodedRtp, decode_file
from harness.capture.decode_stream import StreamDecoder

from .bench_decode import SIP_PORTS, write_scenario

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _no_resend(items):
    return [replace(d, wireshark_resend=False) if isinstance(d, DecodedMessage) else d for d in items]


@pytest.fixture(scope="module")
def pcaps(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream")
    paths = [folder / f"scenario-{k}.pcap" for k in range(3)]
    for k, path in enumerate(paths):
        write_scenario(path, k)
    return paths


def test_each_file_decodes_as_if_alone_with_its_own_frame_numbers(pcaps):
    with StreamDecoder(sip_ports=SIP_PORTS) as decoder:
        futures = [decoder.submit(p) for p in [*pcaps, pcaps[0]]]  # queued at once, one file twice
        results = [f.result(60) for f in futures]
    for path, got in zip([*pcaps, pcaps[0]], results, strict=True):
        alone = decode_file(path, sip_ports=SIP_PORTS)
        assert _no_resend(got) == _no_resend(alone)
        assert got[0].frame_no == 1
        assert sum(isinstance(d, DecodedRtp) for d in got) == 150
        assert [d.method for d in got if isinstance(d, DecodedMessage) and d.kind == "request"][:2] == [
            "INVITE",
            "ACK",
        ]
    assert decoder.files_decoded == 4 and decoder.fallbacks == 0


def test_a_port_range_is_decoded_as_sip(pcaps):
    with StreamDecoder(sip_ports=["5080-5090", 15060]) as decoder:
        got = decoder.decode(pcaps[1], timeout=60)
    assert sum(isinstance(d, DecodedMessage) for d in got) == 18


def test_an_empty_capture_decodes_to_nothing_without_tshark(tmp_path):
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000"))
    decoder = StreamDecoder(tshark="/nonexistent/tshark")
    assert decoder.decode(empty, timeout=5) == []


@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap not installed")
def test_pcapng_falls_back_to_a_tshark_of_its_own(pcaps, tmp_path):
    ng = tmp_path / "scenario.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(pcaps[2]), str(ng)], check=True, timeout=30)
    with StreamDecoder(sip_ports=SIP_PORTS) as decoder:
        got = decoder.decode(ng, timeout=60)
        assert decoder.fallbacks == 1
    assert _no_resend(got) == _no_resend(decode_file(pcaps[2], sip_ports=SIP_PORTS))


def test_a_missing_tshark_is_a_clear_error(pcaps):
    decoder = StreamDecoder(tshark="/nonexistent/tshark")
    with pytest.raises(Exception, match="tshark is not installed"):
        decoder.decode(Path(pcaps[0]), timeout=5)
