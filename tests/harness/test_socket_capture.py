"""Capture without CAP_NET_RAW: the hand-built pcap reads back in tshark with the same SIP and RTP, the
same addresses and ports and valid checksums; a datagram between two of trunkcheck's sockets is written
once; TCP makes the capture fail clearly."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.capture.pcap_writer import PcapWriter
from harness.capture.sniffer import CaptureError
from harness.capture.socket_capture import SocketCapture
from sipcore.aio.rtp import RtpEndpoint
from sipcore.aio.tap import tap_of
from sipcore.aio.transport import TcpTransport, UdpTransport
from sipcore.rtp import RtpPacket

from ..addresses import loopback

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")

INVITE = (b"INVITE sip:+15550100@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.10:5060;branch=z9hG4bK-1\r\n"
          b"Max-Forwards: 70\r\nFrom: <sip:ua@example.com>;tag=a\r\nTo: <sip:+15550100@example.com>\r\n"
          b"Call-ID: cid-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")
RTP = RtpPacket(payload_type=0, sequence_number=7, timestamp=160, ssrc=0x1234ABCD, payload=b"\xff" * 160)


def tshark_fields(pcap: Path, *fields: str, display: str = "") -> list[list[str]]:
    cmd = ["tshark", "-r", str(pcap), "-n", "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE",
           "-o", "rtp.heuristic_rtp:TRUE", "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    if display:
        cmd += ["-Y", display]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return [line.split("|") for line in proc.stdout.splitlines()]


@needs_tshark
@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_tshark_reads_back_the_same_sip_and_rtp(tmp_path, family):
    ua, trunk = (("127.0.0.10", 5060), ("127.0.0.20", 5062)) if family == "ipv4" else (("::1", 5060), ("::1", 5062))
    rtp_a, rtp_b = (ua[0], 40000), (trunk[0], 40002)
    pcap = tmp_path / "x.pcap"
    t0 = 1_700_000_000.25
    with PcapWriter(pcap) as writer:
        writer.udp(ua, trunk, INVITE, t0)
        writer.udp(rtp_a, rtp_b, RTP.serialize(), t0 + 0.02)
    src, dst = ("ip.src", "ip.dst") if family == "ipv4" else ("ipv6.src", "ipv6.dst")
    rows = tshark_fields(pcap, "frame.time_epoch", src, "udp.srcport", dst, "udp.dstport", "sip.Method",
                         "sip.Call-ID", "rtp.ssrc", "rtp.seq", "udp.checksum.status")
    assert len(rows) == 2
    assert rows[0][1:7] == [ua[0], "5060", trunk[0], "5062", "INVITE", "cid-1"]
    assert rows[1][1:5] == [rtp_a[0], "40000", rtp_b[0], "40002"] and rows[1][7:9] == ["0x1234abcd", "7"]
    assert all(r[9] == "1" for r in rows), f"UDP checksums not good: {rows}"  # 1: Good
    assert abs(float(rows[0][0]) - t0) < 1e-5 and abs(float(rows[1][0]) - (t0 + 0.02)) < 1e-5
    if family == "ipv4":
        assert tshark_fields(pcap, "ip.checksum.status") == [["1"], ["1"]]


def _capture(tmp_path: Path, loop: asyncio.AbstractEventLoop | None = None) -> SocketCapture:
    return SocketCapture(tmp_path / "s.pcap", loop or asyncio.new_event_loop(), addresses=["127.0.0.10"])


def test_a_datagram_seen_by_sender_and_receiver_is_kept_once(tmp_path):
    cap = _capture(tmp_path).start()
    a, b, ext = ("127.0.0.10", 5060), ("127.0.0.20", 5060), ("127.0.0.99", 5060)
    cap.datagram(a, b, b"one", sent=True, at=1.0)
    cap.datagram(a, b, b"one", sent=False, at=1.1)  # the receiver's report of the same datagram
    cap.datagram(b, a, b"two", sent=False, at=2.0)  # the receiver reported first this time
    cap.datagram(b, a, b"two", sent=True, at=1.9)
    cap.datagram(a, b, b"one", sent=True, at=3.0)  # a retransmission: another datagram, kept
    cap.datagram(a, b, b"one", sent=False, at=3.1)
    cap.datagram(ext, a, b"from equipment", sent=False, at=4.0)  # one end is not ours: one report
    cap.datagram(a, ext, b"to equipment", sent=True, at=5.0)
    cap.datagram(("127.0.0.98", 1), ("127.0.0.99", 2), b"not this scenario's", sent=True, at=6.0)
    assert cap.stop() == 5 and cap.duplicates == 3
    payloads = [r[0] for r in tshark_fields(cap.path, "data.data")] if shutil.which("tshark") else None
    if payloads is not None:
        assert payloads == [b"one".hex(), b"two".hex(), b"one".hex(), b"from equipment".hex(),
                            b"to equipment".hex()]


def test_tcp_fails_the_capture_clearly(tmp_path):
    cap = _capture(tmp_path).start()
    cap.stream(("127.0.0.10", 40123), ("127.0.0.20", 5060), INVITE, sent=True, at=1.0)
    with pytest.raises(CaptureError, match="TCP.*--capture raw"):
        cap.stop()


@needs_tshark
def test_the_sockets_of_a_loop_report_each_datagram_once(tmp_path):
    """Live: SIP over sipcore's UDP transport and RTP between two RtpEndpoints, all on one loop."""
    ua_ip, trunk_ip = loopback(10), loopback(20)

    async def scenario(cap: SocketCapture) -> None:
        got: list[object] = []
        ua = await UdpTransport.listen(ua_ip, 0, lambda m, a, t: got.append(m))
        trunk = await UdpTransport.listen(trunk_ip, 0, lambda m, a, t: got.append(m))
        rtp_a = await RtpEndpoint.open(ua_ip)
        rtp_b = await RtpEndpoint.open(trunk_ip)
        cap.start()
        assert tap_of() is cap
        ua.send(INVITE, trunk.local_addr)
        rtp_b.start_sending(rtp_a.local_addr)
        assert await rtp_a.wait_for_packets(3, 2.0)
        rtp_b.stop_sending()
        await asyncio.sleep(0.05)
        sent = rtp_b.packets_sent
        cap.stop()
        for closable in (ua, trunk, rtp_a, rtp_b):
            closable.close()
        assert len(got) == 1 and sent >= 3
        cap.expected = sent  # type: ignore[attr-defined]

    loop = asyncio.new_event_loop()
    try:
        cap = SocketCapture(tmp_path / "live.pcap", loop, addresses=[ua_ip, trunk_ip])
        loop.run_until_complete(asyncio.wait_for(scenario(cap), 10))
    finally:
        loop.close()
    rows = tshark_fields(cap.path, "ip.src", "ip.dst", "sip.Method", "rtp.ssrc")
    sip = [r for r in rows if r[2] == "INVITE"]
    rtp = [r for r in rows if r[3]]
    assert len(sip) == 1 and sip[0][:2] == [ua_ip, trunk_ip]
    assert len(rtp) == cap.expected and all(r[:2] == [trunk_ip, ua_ip] for r in rtp)  # type: ignore[attr-defined]
    assert cap.duplicates == 1 + cap.expected  # type: ignore[attr-defined]


def test_no_tap_after_stop(tmp_path):
    loop = asyncio.new_event_loop()
    try:
        cap = SocketCapture(tmp_path / "t.pcap", loop).start()
        cap.stop()
        assert tap_of(loop) is None
    finally:
        loop.close()


def test_sip_over_tcp_between_trunkcheck_sockets_fails_the_capture(tmp_path):
    ua_ip, trunk_ip = loopback(10), loopback(20)

    async def scenario(cap: SocketCapture) -> None:
        got: list[object] = []
        ua = await TcpTransport.listen(ua_ip, 0, lambda m, a, t: got.append(m))
        trunk = await TcpTransport.listen(trunk_ip, 0, lambda m, a, t: got.append(m))
        cap.start()
        ua.send(INVITE, trunk.local_addr)
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.01)
        ua.close()
        trunk.close()
        assert got, "the INVITE crossed the TCP connection"

    loop = asyncio.new_event_loop()
    try:
        cap = SocketCapture(tmp_path / "tcp.pcap", loop, addresses=[ua_ip, trunk_ip])
        loop.run_until_complete(asyncio.wait_for(scenario(cap), 10))
    finally:
        loop.close()
    with pytest.raises(CaptureError, match="SIP went over TCP .*needs|--capture raw"):
        cap.stop()
