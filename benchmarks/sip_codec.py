"""Parse and serialize a typical ~900-byte INVITE (SDP body, digest credentials) on one core.

Prints figures; the last two lines are ``parses_per_second: N`` and ``serializes_per_second: N``.
Targets: 50,000 parses and 100,000 serializations per second.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sipcore.parser import parse_message  # noqa: E402

SDP = (
    "v=0\r\no=- 3735928559 1 IN IP4 127.0.0.11\r\ns=trunkcheck\r\nc=IN IP4 127.0.0.11\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
)
INVITE = (
    "INVITE sip:+15551234567@example.trunk.voipbin.net SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.11:5062;branch=z9hG4bK.4f3c1d2e9a;rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: \"Alice\" <sip:alice@example.trunk.voipbin.net>;tag=8a7b6c5d\r\n"
    "To: <sip:+15551234567@example.trunk.voipbin.net>\r\n"
    "Call-ID: 5f1e2d3c4b5a69788796a5b4c3d2e1f0@127.0.0.11\r\n"
    "CSeq: 2 INVITE\r\n"
    "Contact: <sip:alice@127.0.0.11:5062;transport=udp>\r\n"
    "Proxy-Authorization: Digest username=\"alice\", realm=\"example.trunk.voipbin.net\", "
    "nonce=\"AAAAAGZ2pL8cX3J0a2V5bm9uY2UxMjM0NTY3OA\", uri=\"sip:+15551234567@example.trunk.voipbin.net\", "
    "response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE\r\n"
    "Supported: replaces, timer\r\n"
    "User-Agent: trunkcheck-simulator/0.1\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n\r\n{SDP}"
).encode()


def measure(fn, seconds: float = 2.0) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(1000):
            fn()
        count += 1000
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def main() -> None:
    message = parse_message(INVITE)
    assert message.to_bytes() == INVITE, "serialization must keep every header and the body"
    print(f"message_bytes: {len(INVITE)}")
    parses = measure(lambda: parse_message(INVITE))
    lazy = measure(lambda: parse_message(INVITE, validate_headers=False))
    serializes = measure(message.to_bytes)
    print(f"lazy_parses_per_second (framing and header split only): {lazy:.0f}")
    print(f"parses_per_second: {parses:.0f}")
    print(f"serializes_per_second: {serializes:.0f}")


if __name__ == "__main__":
    main()
