"""tshark's decode of what the hold and DTMF checks read: the SDP direction and a=rtpmap of a re-INVITE,
and RFC 4733 telephone-events (Wireshark's rtpevent dissector) with the RTP marker and timestamp."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.capture.decode import DecodedMessage, DecodedRtp, decode_file
from harness.capture.pcap_writer import PcapWriter
from sipcore.rtp import RtpPacket
from sipcore.sdp_offer import make_offer
from sipcore.telephone_event import TelephoneEvent

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

UA, TRUNK = ("127.0.0.10", 16000), ("127.0.0.20", 16001)
UA_RTP, TRUNK_RTP = ("127.0.0.10", 20000), ("127.0.0.20", 20002)


def reinvite(direction: str) -> bytes:
    body = make_offer(UA_RTP[0], UA_RTP[1], 1, direction=direction).to_bytes()
    head = (f"INVITE sip:bob@{TRUNK[0]}:{TRUNK[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {UA[0]}:{UA[1]};branch=z9hG4bK-hold\r\nMax-Forwards: 70\r\n"
            "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\nCall-ID: hold@test\r\n"
            f"CSeq: 3 INVITE\r\nContact: <sip:alice@{UA[0]}:{UA[1]}>\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def test_sdp_direction_rtpmap_and_telephone_events(tmp_path: Path) -> None:
    pcap = tmp_path / "media.pcap"
    with PcapWriter(pcap) as writer:
        writer.udp(UA, TRUNK, reinvite("sendonly"), 1.0)
        for k, (end, duration) in enumerate([(False, 160), (True, 320), (True, 320)]):
            packet = RtpPacket(101, 500 + k, 8000, 0x1234, TelephoneEvent(9, end, 10, duration).to_bytes(),
                               marker=k == 0)
            writer.udp(UA_RTP, TRUNK_RTP, packet.serialize(), 1.1 + k * 0.02)
    decoded = decode_file(pcap, sip_ports=[TRUNK[1], UA[1]])
    messages = [d for d in decoded if isinstance(d, DecodedMessage)]
    events = [d for d in decoded if isinstance(d, DecodedRtp)]
    assert messages[0].sdp_direction == "sendonly" and messages[0].to_tag == "b1"
    assert (101, "telephone-event/8000") in messages[0].sdp_rtpmap
    assert [(e.marker, e.timestamp, e.payload_type) for e in events] == [(True, 8000, 101), (False, 8000, 101),
                                                                          (False, 8000, 101)]
    assert [(e.event.event_id, e.event.end, e.event.duration, e.event.volume) for e in events if e.event] == [
        (9, False, 160, 10), (9, True, 320, 10), (9, True, 320, 10)]
