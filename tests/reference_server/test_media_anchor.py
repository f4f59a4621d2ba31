"""MediaAnchor: SDP crossing the B2BUA is rewritten for the relay, parsed once when the caller has it."""

from __future__ import annotations

from typing import Any, cast

from reference_server.media import MediaAnchor, parse_sdp
from reference_server.rtp_relay import MediaRelay
from sipcore.message import Request

OFFER = (b"v=0\r\no=- 53655765 2353687637 IN IP4 192.0.2.31\r\ns=-\r\nc=IN IP4 192.0.2.31\r\nt=0 0\r\n"
         b"m=audio 6000 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n")


class FakeRelay:
    host, a_port, b_port = "192.0.2.30", 20000, 20002
    b_remote = None

    def __init__(self) -> None:
        self.remotes: list[tuple[str, Any]] = []

    def set_a_remote(self, addr: Any) -> None:
        self.remotes.append(("A", addr))

    def set_b_remote(self, addr: Any) -> None:
        self.remotes.append(("B", addr))

    def set_directions(self, a_to_b: bool, b_to_a: bool) -> None:
        pass


def invite(body: bytes) -> Request:
    request = Request("INVITE", "sip:100@192.0.2.30", [("Call-ID", "x"), ("CSeq", "1 INVITE")])
    request.set_body(body, "application/sdp")
    return request


def test_from_a_with_the_sdp_already_parsed_is_from_a() -> None:
    message = invite(OFFER)
    plain, given = FakeRelay(), FakeRelay()
    body = MediaAnchor(cast(MediaRelay, plain)).from_a(message)
    again = MediaAnchor(cast(MediaRelay, given)).from_a(message, parsed=parse_sdp(message))
    assert body == again
    assert plain.remotes == given.remotes == [("A", ("192.0.2.31", 6000))]
    assert b"c=IN IP4 192.0.2.30\r\n" in body and b"m=audio 20002 RTP/AVP 0 8\r\n" in body
    assert b"o=- 53655765 2353687638 IN IP4 192.0.2.30\r\n" in body


def test_sdp_without_media_lines_is_relayed_pointing_at_the_relay_from_either_side() -> None:
    """Found by the fuzz test: a 200 whose SDP had lost its m= line raised ValueError in the B2BUA."""
    no_media = OFFER.split(b"m=audio")[0]
    relay = FakeRelay()
    anchor = MediaAnchor(cast(MediaRelay, relay))
    for body in (anchor.from_a(invite(no_media)), anchor.from_b(invite(no_media))):
        assert b"c=IN IP4 192.0.2.30\r\n" in body and b"m=" not in body
    assert relay.remotes == [("A", None), ("B", None)]  # no stream: no remote to send RTP to
