"""Capture: every datagram exactly once and in order, bounded start/stop, clear refusal without CAP_NET_RAW."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.capture.sniffer import Capture, CaptureError, CaptureNotPermitted, address_filter

from ..addresses import loopback

REPO = Path(__file__).resolve().parents[2]


def _can_capture() -> bool:
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
        return True
    except (PermissionError, OSError, AttributeError):
        return False


needs_capture = pytest.mark.skipif(not _can_capture(), reason="packet capture needs root or CAP_NET_RAW")


def _udp(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(2.0)
    return sock


def _udp_payloads(path: Path) -> list[tuple[str, str, bytes]]:
    from scapy.layers.inet import IP, UDP
    from scapy.utils import rdpcap

    return [(p[IP].src, p[IP].dst, bytes(p[UDP].payload)) for p in rdpcap(str(path)) if UDP in p]


@needs_capture
def test_each_datagram_once_and_in_order(tmp_path):
    ua, trunk, dest = _udp(loopback(21)), _udp(loopback(22)), _udp(loopback(23))
    sent = []
    pcap = tmp_path / "order.pcap"
    with Capture(pcap, addresses=[loopback(21), loopback(22), loopback(23)]) as cap:
        for k in range(60):
            src, dst = [(ua, trunk), (trunk, dest), (dest, trunk), (trunk, ua)][k % 4]
            payload = f"SIP/2.0 {k:03d}".encode()
            src.sendto(payload, dst.getsockname())
            sent.append((src.getsockname()[0], dst.getsockname()[0], payload))
    for s in (ua, trunk, dest):
        s.close()
    assert _udp_payloads(pcap) == sent
    assert cap.packet_count == 60
    assert cap.dropped == 0


@needs_capture
def test_only_the_given_addresses_are_captured(tmp_path):
    inside, outside, peer = _udp(loopback(31)), _udp(loopback(32)), _udp(loopback(33))
    pcap = tmp_path / "filtered.pcap"
    with Capture(pcap, addresses=[loopback(31)]):
        inside.sendto(b"kept", peer.getsockname())
        outside.sendto(b"not kept", peer.getsockname())
    for s in (inside, outside, peer):
        s.close()
    assert _udp_payloads(pcap) == [(loopback(31), loopback(33), b"kept")]


@needs_capture
def test_start_and_stop_are_quick_and_empty_captures_are_valid_pcaps(tmp_path):
    Capture(tmp_path / "warmup.pcap", addresses=[loopback(41)]).start().stop()  # scapy's imports
    t0 = time.monotonic()
    cap = Capture(tmp_path / "empty.pcap", addresses=[loopback(41)]).start()
    started = time.monotonic() - t0
    t1 = time.monotonic()
    assert cap.stop() == 0
    stopped = time.monotonic() - t1
    assert started < 1.0, f"start took {started:.3f} s"
    assert stopped < 1.0, f"stop took {stopped:.3f} s"
    data = (tmp_path / "empty.pcap").read_bytes()
    assert len(data) == 24 and data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")  # pcap header only


@needs_capture
def test_unknown_interface_fails_fast(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(CaptureError, match="no-such-if0"):
        Capture(tmp_path / "x.pcap", iface="no-such-if0").start()
    assert time.monotonic() - t0 < 5


def test_addresses_are_validated_before_reaching_the_filter():
    assert address_filter([loopback(1), "::1"]) == f"host {loopback(1)} or host ::1"
    with pytest.raises(ValueError):
        address_filter([f"{loopback(1)} or net 0.0.0.0/0"])


def test_permission_error_becomes_capture_not_permitted(monkeypatch, tmp_path):
    import scapy.arch.linux

    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(scapy.arch.linux, "L2Socket", refuse)
    monkeypatch.setattr(scapy.arch.linux, "L2ListenSocket", refuse)
    with pytest.raises(
        CaptureNotPermitted, match=r"root or the CAP_NET_RAW capability.*setcap cap_net_raw\+ep"
    ):
        Capture(tmp_path / "x.pcap").start()


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to drop the capability"
)
def test_without_cap_net_raw_a_real_process_is_told_what_to_do(tmp_path):
    code = (
        "import time; from harness.capture.sniffer import Capture, CaptureNotPermitted\n"
        "t = time.monotonic()\n"
        "try:\n"
        f"    Capture({str(tmp_path / 'x.pcap')!r}).start()\n"
        "except CaptureNotPermitted as err:\n"
        "    print('refused', round(time.monotonic() - t, 3), err)\n"
    )
    out = subprocess.run(
        ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw", sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stdout.startswith("refused"), out.stderr
    assert float(out.stdout.split()[1]) < 5
    assert "setcap cap_net_raw+ep" in out.stdout
