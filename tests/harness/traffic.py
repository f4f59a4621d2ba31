"""Hand-written SIP and RTP traffic between three loopback roles, for capture and decode tests."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

from ..addresses import loopback

UA = (loopback(61), 15060)
TRUNK = (loopback(62), 5080)
DEST = (loopback(63), 5090)
UA_RTP, TRUNK_RTP_A, TRUNK_RTP_B, DEST_RTP = (
    (loopback(61), 20000),
    (loopback(62), 30002),
    (loopback(62), 30000),
    (loopback(63), 40000),
)
SIP_PORTS = (UA[1], TRUNK[1], DEST[1])
ROLES = {UA[0]: "UA", TRUNK[0]: "VoIPBin", DEST[0]: "Destination"}

DIGEST = (
    'Digest username="alice", realm="trunk.example", nonce="n1", uri="sip:+15550100@trunk.example", '
    'response="0123456789abcdef0123456789abcdef", algorithm=MD5'
)


def sdp(address: str, port: int) -> bytes:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    ).encode()


def sip(
    first_line: str,
    *,
    call: str,
    cseq: str,
    branch: str,
    via: tuple[str, int],
    to_tag: str = "",
    extra: tuple[str, ...] = (),
    body: bytes = b"",
) -> bytes:
    headers = [
        first_line,
        f"Via: SIP/2.0/UDP {via[0]}:{via[1]};branch=z9hG4bK{branch};rport",
        "From: <sip:alice@trunk.example>;tag=from-1",
        "To: <sip:+15550100@trunk.example>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call}",
        f"CSeq: {cseq}",
        *extra,
    ]
    if body:
        headers.append("Content-Type: application/sdp")
    headers.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


def rtp(seq: int, ssrc: int, payload_type: int = 0) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq, seq * 160, ssrc) + b"\xff" * 160


@dataclass
class Endpoints:
    socks: dict[tuple[str, int], socket.socket] = field(default_factory=dict)

    def __enter__(self) -> Endpoints:
        for addr in (UA, TRUNK, DEST, UA_RTP, TRUNK_RTP_A, TRUNK_RTP_B, DEST_RTP):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(addr)
            self.socks[addr] = s
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self.socks.values():
            s.close()

    def send(self, src: tuple[str, int], dst: tuple[str, int], data: bytes) -> None:
        self.socks[src].sendto(data, dst)


def early_media_call(
    ep: Endpoints,
    *,
    rtp_packets: int = 5,
    retransmit_b_invite: bool = True,
    ua_reason: str = "Session Progress",
) -> None:
    """The spec's early-media ladder, with the authentication exchange before it and an INVITE
    retransmission on the B leg."""
    a, b = f"a-call@{loopback(61)}", f"b-call@{loopback(62)}"
    uri = "INVITE sip:+15550100@trunk.example SIP/2.0"
    ep.send(
        UA,
        TRUNK,
        sip(
            uri,
            call=a,
            cseq="1 INVITE",
            branch="a1",
            via=UA,
            body=sdp(UA_RTP[0], UA_RTP[1]),
            extra=("User-Agent: trunkcheck-ua/1.0", "Max-Forwards: 70"),
        ),
    )
    ep.send(
        TRUNK,
        UA,
        sip(
            "SIP/2.0 407 Proxy Authentication Required",
            call=a,
            cseq="1 INVITE",
            branch="a1",
            via=UA,
            to_tag="t-407",
            extra=('Proxy-Authenticate: Digest realm="trunk.example", nonce="n1"',),
        ),
    )
    ep.send(
        UA,
        TRUNK,
        sip(
            "ACK sip:+15550100@trunk.example SIP/2.0",
            call=a,
            cseq="1 ACK",
            branch="a1",
            via=UA,
            to_tag="t-407",
        ),
    )
    ep.send(
        UA,
        TRUNK,
        sip(
            uri,
            call=a,
            cseq="2 INVITE",
            branch="a2",
            via=UA,
            body=sdp(UA_RTP[0], UA_RTP[1]),
            extra=(f"Proxy-Authorization: {DIGEST}",),
        ),
    )
    ep.send(TRUNK, UA, sip("SIP/2.0 100 Trying", call=a, cseq="2 INVITE", branch="a2", via=UA))
    b_invite = sip(
        uri, call=b, cseq="1 INVITE", branch="b1", via=TRUNK, body=sdp(TRUNK_RTP_B[0], TRUNK_RTP_B[1])
    )
    ep.send(TRUNK, DEST, b_invite)
    if retransmit_b_invite:
        ep.send(TRUNK, DEST, b_invite)
    ep.send(DEST, TRUNK, sip("SIP/2.0 100 Trying", call=b, cseq="1 INVITE", branch="b1", via=TRUNK))
    ep.send(
        DEST,
        TRUNK,
        sip(
            "SIP/2.0 183 Session Progress",
            call=b,
            cseq="1 INVITE",
            branch="b1",
            via=TRUNK,
            to_tag="d-1",
            body=sdp(DEST_RTP[0], DEST_RTP[1]),
        ),
    )
    ep.send(
        TRUNK,
        UA,
        sip(
            f"SIP/2.0 183 {ua_reason}",
            call=a,
            cseq="2 INVITE",
            branch="a2",
            via=UA,
            to_tag="v-1",
            body=sdp(TRUNK_RTP_A[0], TRUNK_RTP_A[1]),
        ),
    )
    for k in range(rtp_packets):
        ep.send(DEST_RTP, TRUNK_RTP_B, rtp(1000 + k, 0xD0D0D0D0))
        ep.send(TRUNK_RTP_A, UA_RTP, rtp(2000 + k, 0xA0A0A0A0))


def hangup_cause_call(ep: Endpoints, *, relayed_status: str = "404 Not Found") -> None:
    """The spec's hangup-cause ladder: the B leg's 404 is relayed to the UA with a Reason header."""
    a, b = f"a-call-2@{loopback(61)}", f"b-call-2@{loopback(62)}"
    uri = "INVITE sip:+15550199@trunk.example SIP/2.0"
    ep.send(
        UA,
        TRUNK,
        sip(uri, call=a, cseq="2 INVITE", branch="c2", via=UA, extra=(f"Proxy-Authorization: {DIGEST}",)),
    )
    ep.send(TRUNK, DEST, sip(uri, call=b, cseq="1 INVITE", branch="d1", via=TRUNK))
    ep.send(DEST, TRUNK, sip("SIP/2.0 100 Trying", call=b, cseq="1 INVITE", branch="d1", via=TRUNK))
    ep.send(TRUNK, UA, sip("SIP/2.0 100 Trying", call=a, cseq="2 INVITE", branch="c2", via=UA))
    ep.send(
        DEST,
        TRUNK,
        sip("SIP/2.0 404 Not Found", call=b, cseq="1 INVITE", branch="d1", via=TRUNK, to_tag="d-2"),
    )
    ep.send(
        TRUNK,
        UA,
        sip(
            f"SIP/2.0 {relayed_status}",
            call=a,
            cseq="2 INVITE",
            branch="c2",
            via=UA,
            to_tag="v-2",
            extra=('Reason: Q.850;cause=1;text="Unallocated (unassigned) number"',),
        ),
    )
