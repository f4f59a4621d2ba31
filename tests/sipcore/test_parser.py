"""Bytes to messages: datagrams, TCP framing with StreamFramer, and the checks validate() makes."""

from __future__ import annotations

import pytest

from sipcore import parser
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response
from sipcore.parser import MAX_BODY_BYTES, MAX_HEAD_BYTES, StreamFramer, parse_message

SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def invite(call_id: str = "a84b4c76e66710", body: bytes = SDP, *, length: int | None = None,
           extra: bytes = b"") -> bytes:
    return (
        b"INVITE sip:+15551234567@trunk.example.net SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n"
        b"Max-Forwards: 70\r\n"
        b"From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n"
        b"To: <sip:+15551234567@trunk.example.net>\r\n"
        b"Call-ID: " + call_id.encode() + b"\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"Contact: <sip:alice@192.0.2.1:5060>\r\n" + extra +
        b"Content-Type: application/sdp\r\n"
        b"Content-Length: " + str(len(body) if length is None else length).encode() + b"\r\n\r\n" + body
    )


RINGING = (b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
           b"From: <sip:alice@example.com>;tag=1928301774\r\nTo: <sip:bob@example.net>;tag=a6c85cf\r\n"
           b"Call-ID: a84b4c76e66710\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


def refused(data: bytes, **kwargs: bool) -> SIPParseError:
    with pytest.raises(SIPParseError) as caught:
        parse_message(data, **kwargs)
    return caught.value


# -- datagrams -----------------------------------------------------------------------------------------


def test_request() -> None:
    m = parse_message(invite())
    assert isinstance(m, Request) and m.method == "INVITE" and m.uri == "sip:+15551234567@trunk.example.net"
    assert m.body == SDP and m.version == "SIP/2.0"
    assert m.from_.display_name == "Alice" and m.top_via.has_rport


def test_response() -> None:
    m = parse_message(RINGING)
    assert isinstance(m, Response) and (m.status, m.reason) == (180, "Ringing") and m.body == b""
    assert m.to.tag == "a6c85cf"


def test_content_length_bounds_the_body_and_trailing_octets_are_ignored() -> None:
    m = parse_message(invite() + b"garbage after the message\r\n\r\nINVITE sip:x SIP/2.0\r\n")
    assert m.body == SDP
    assert parse_message(invite(length=3)).body == SDP[:3]


def test_without_content_length_the_body_is_the_rest_of_the_datagram() -> None:
    data = invite().replace(b"Content-Length: %d\r\n" % len(SDP), b"")
    m = parse_message(data)
    assert "Content-Length" not in m.headers and m.body == SDP


def test_leading_crlfs_are_skipped() -> None:
    assert parse_message(b"\r\n\r\n" + RINGING).status == 180  # type: ignore[union-attr]


def test_folded_lines_and_lf_only_line_ends() -> None:
    folded = invite().replace(b"Max-Forwards: 70", b"Max-Forwards:\r\n  70").replace(
        b"Contact: <sip:alice@192.0.2.1:5060>", b"Contact: <sip:alice@192.0.2.1:5060>\r\n\t;expires=60")
    m = parse_message(folded)
    assert m.max_forwards == 70 and m.contacts[0].params == {"expires": "60"}
    head, _, body = invite().partition(b"\r\n\r\n")
    lf_only = parse_message(head.replace(b"\r\n", b"\n") + b"\n\n" + body)
    assert lf_only.body == SDP and lf_only.call_id == "a84b4c76e66710"


def test_lf_only_head_with_a_crlf_body() -> None:
    """The first empty line ends the headers, even when the body has CRLFCRLF in it."""
    head, _, _ = invite(body=b"a\r\n\r\nb").partition(b"\r\n\r\n")
    m = parse_message(head.replace(b"\r\n", b"\n") + b"\n\n" + b"a\r\n\r\nb")
    assert m.body == b"a\r\n\r\nb"


def test_white_space_around_names_and_values() -> None:
    data = invite().replace(b"Max-Forwards: 70", b"Max-Forwards  :   70  ").replace(
        b"CSeq: 1 INVITE", b"CSeq:1 INVITE\t")
    m = parse_message(data)
    assert m.headers.get("Max-Forwards") == "70" and m.headers.get("CSeq") == "1 INVITE"
    assert [name for name, _ in m.headers][1:3] == ["Max-Forwards", "From"]


def test_empty_header_value() -> None:
    m = parse_message(invite(extra=b"Subject:\r\nOrganization: \r\n"))
    assert m.headers.get("Subject") == "" and m.headers.get("Organization") == ""


def test_utf8_and_undecodable_octets_are_kept() -> None:
    raw = invite(extra="Subject: Grüße ☎\r\n".encode() + b"X-Bin: \xff\xfe\x01\r\n")
    m = parse_message(raw)
    assert m.headers.get("Subject") == "Grüße ☎"
    assert m.to_bytes() == raw  # octets that are not UTF-8 go back out as they came in


@pytest.mark.parametrize("data, fragment", [
    (b"", "empty message"),
    (b"\r\n\r\n", "empty message"),
    (b"INVITE sip:x SIP/2.0\r\nVia: x", "no empty line"),
    (invite().replace(b"Max-Forwards: 70", b"Max-Forwards 70"), "has no colon"),
    (invite().replace(b"Max-Forwards: 70", b"Max Forwards: 70"), "invalid header name"),
    (invite().replace(b"Max-Forwards: 70", b": 70"), "invalid header name"),
    (invite().replace(b"Max-Forwards: 70", b"Max-Forwards: 7\r0"), "bare CR"),
    (invite().replace(b"INVITE sip:", b"INVITE  sip:", 1), "request line"),
    (invite().replace(b" SIP/2.0\r\n", b"\r\n", 1), "request line"),
    (invite().replace(b"INVITE sip", b"INV:TE sip", 1), "not a token"),
    (invite().replace(b" SIP/2.0\r\n", b" SIP/2\r\n", 1), "SIP-Version"),
    (invite().replace(b" SIP/2.0\r\n", b" HTTP/1.1\r\n", 1), "SIP-Version"),
    (invite(length=len(SDP) + 1), "exceeds"),
    (invite(length=-1), "not a non-negative number"),
    (invite().replace(b"Content-Length: ", b"Content-Length: 0x"), "not a non-negative number"),
    (invite().replace(b"Content-Length: ", b"Content-Length: \xd9\xa1"), "not a non-negative number"),
    (invite(extra=b"Content-Length: 3\r\n"), "different Content-Length"),
])
def test_malformed_requests_get_400(data: bytes, fragment: str) -> None:
    error = refused(data)
    assert error.status_hint == 400 and fragment in str(error)


def test_identical_repeated_content_length_is_tolerated() -> None:
    assert parse_message(invite(extra=b"l: %d\r\n" % len(SDP))).body == SDP


def test_unsupported_version_gets_505() -> None:
    error = refused(invite().replace(b" SIP/2.0\r\n", b" SIP/3.0\r\n", 1))
    assert error.status_hint == 505 and not error.drop


def test_lower_case_version_is_accepted() -> None:
    m = parse_message(invite().replace(b" SIP/2.0\r\n", b" sip/2.0\r\n", 1))
    assert isinstance(m, Request) and m.version == "SIP/2.0"


@pytest.mark.parametrize("data", [
    RINGING.replace(b"180", b"18"), RINGING.replace(b"180", b"099"), RINGING.replace(b"180", b"700"),
    RINGING.replace(b"SIP/2.0 180", b"SIP/3.0 180"), RINGING.replace(b"CSeq: 1 INVITE", b"CSeq: x"),
    RINGING.replace(b"SIP/2.0 180 Ringing", b"SIP/2.0"),
    RINGING.replace(b"Content-Length: 0", b"Content-Length: 10"), b"SIP/2.0 200 OK\r\n\r\n",
])
def test_malformed_responses_are_dropped(data: bytes) -> None:
    assert refused(data).drop


def test_status_line_without_reason() -> None:
    m = parse_message(RINGING.replace(b"180 Ringing", b"180"))
    assert isinstance(m, Response) and m.reason == ""


def test_oversize_header_section_gets_513() -> None:
    error = refused(invite(extra=b"X-Pad: " + b"a" * MAX_HEAD_BYTES + b"\r\n"))
    assert error.status_hint == 513


# -- validate(): what every element checks -------------------------------------------------------------


@pytest.mark.parametrize("change, header, fragment", [
    ((b"To: <sip:+15551234567@trunk.example.net>\r\n", b""), "To", "To is missing"),
    ((b"CSeq: 1 INVITE\r\n", b""), "CSeq", "CSeq is missing"),
    ((b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;rport\r\n", b""), "Via", "Via is missing"),
    ((b"Call-ID: a84b4c76e66710\r\n", b"Call-ID: a b\r\n"), "Call-ID", "malformed Call-ID"),
    ((b"Call-ID: a84b4c76e66710\r\n", b"Call-ID:\r\n"), "Call-ID", "malformed Call-ID"),
    ((b"CSeq: 1 INVITE\r\n", b"CSeq: 1 BYE\r\n"), "CSeq", "does not match"),
    ((b"CSeq: 1 INVITE\r\n", b"CSeq: 1 INVITE\r\nCSeq: 2 INVITE\r\n"), "CSeq", "appears 2 times"),
    ((b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nMax-Forwards: 69\r\n"), "Max-Forwards", "more than once"),
    ((b"Max-Forwards: 70\r\n", b"Max-Forwards: 256\r\n"), "Max-Forwards", "exceeds 255"),
    ((b"Max-Forwards: 70\r\n", b"Max-Forwards: seventy\r\n"), "Max-Forwards", "not a number"),
    ((b"Max-Forwards: 70\r\n", b"Expires: 4294967296\r\n"), "Expires", "exceeds"),
    ((b"sip:+15551234567@trunk.example.net SIP", b"sip:+1555@trunk.example.net?Subject=x SIP"), "Request-URI",
     "URI headers"),
    ((b"sip:+15551234567@trunk.example.net SIP", b"sip:+1555@trunk:example SIP"), "Request-URI", "port"),
    ((b"Contact: <sip:alice@192.0.2.1:5060>", b"Contact: <sip:alice@192.0.2.1:5060"), "Contact", "'<'"),
    ((b"Max-Forwards: 70\r\n", b"Route: <sip:p1;lr>, sip:p2;lr, <sip:p3 ;lr>\r\n"), "Route", "malformed SIP URI"),
    ((b"Max-Forwards: 70\r\n", b"Record-Route: sip:rr?x=1\r\n"), "Record-Route", "enclosed in <>"),
])
def test_validate_refuses_with_400_naming_the_header(change: tuple[bytes, bytes], header: str,
                                                      fragment: str) -> None:
    data = invite().replace(*change)
    error = refused(data)
    assert (error.status_hint, error.header) == (400, header) and fragment in str(error)
    parse_message(data, validate_headers=False)  # framing alone is fine


def test_retry_after_is_checked_in_responses() -> None:
    assert parse_message(RINGING.replace(b"Content-Length", b"Retry-After: 18000;duration=3600\r\n"
                                                            b"Content-Length")).headers.get("Retry-After")
    error = refused(RINGING.replace(b"Content-Length", b"Retry-After: 949302838503028349304023988\r\n"
                                                      b"Content-Length"))
    assert error.header == "Retry-After" and error.drop


def test_lazy_parse_leaves_headers_unparsed_until_asked() -> None:
    data = invite().replace(b"Contact: <sip:alice@192.0.2.1:5060>", b"Contact: <broken")
    m = parse_message(data, validate_headers=False)
    assert m.call_id == "a84b4c76e66710" and m.body == SDP
    with pytest.raises(SIPParseError) as caught:
        m.contacts  # noqa: B018
    assert caught.value.header == "Contact"


def test_validated_views_are_cached_on_the_message() -> None:
    m = parse_message(invite())
    cache = m.headers._cache
    assert {"via", "from", "to", "cseq", "contact"} <= set(cache)
    assert m.via is cache["via"] and m.from_ is cache["from"]


def test_head_and_body_may_be_bytearray_views() -> None:
    m = parse_message(bytes(bytearray(invite())))
    assert m.body == SDP


# -- StreamFramer (TCP) --------------------------------------------------------------------------------


def test_several_messages_in_one_feed() -> None:
    framer = StreamFramer()
    messages = framer.feed(invite("one") + RINGING + invite("two", b""))
    assert [m.call_id for m in messages] == ["one", "a84b4c76e66710", "two"]
    assert [type(m) for m in messages] == [Request, Response, Request]
    assert messages[0].body == SDP and messages[2].body == b""


def test_a_message_split_at_every_byte_boundary() -> None:
    stream = invite("one") + b"\r\n\r\n" + RINGING + b"\r\n" + invite("two")
    whole = StreamFramer()
    expected = [(m.call_id, m.body) for m in whole.feed(stream)]
    assert len(expected) == 3 and whole.keepalives == 1
    for cut in range(1, len(stream)):
        framer = StreamFramer()
        got = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
        assert [(m.call_id, m.body) for m in got] == expected, cut
        assert framer.keepalives == 1, cut
        assert not framer._buffer


def test_byte_by_byte() -> None:
    framer = StreamFramer()
    stream = (invite("one") + invite("two")) * 3
    got = [m for i in range(len(stream)) for m in framer.feed(stream[i:i + 1])]
    assert [m.call_id for m in got] == ["one", "two"] * 3 and all(m.body == SDP for m in got)


def test_keepalives() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == [] and framer.keepalives == 1  # a RFC 5626 ping
    assert framer.feed(b"\r\n") == []  # a pong, or half a ping: nothing to do yet
    assert framer.feed(b"\r\n") == [] and framer.keepalives == 2
    assert framer.feed(b"\r\n" + RINGING)[0].status == 180  # type: ignore[union-attr]
    assert framer.keepalives == 2 and not framer._buffer


def test_missing_content_length_breaks_the_stream() -> None:
    framer = StreamFramer()
    with pytest.raises(SIPParseError, match="Content-Length is required") as caught:
        framer.feed(RINGING + invite().replace(b"Content-Length: %d\r\n" % len(SDP), b""))
    assert caught.value.header == "Content-Length" and framer.broken
    assert [m.call_id for m in framer.drain()] == ["a84b4c76e66710"]  # the 180 before it is not lost
    assert framer.drain() == []
    with pytest.raises(ProtocolError, match="broken"):
        framer.feed(RINGING)


@pytest.mark.parametrize("data, status", [
    (b"INVITE sip:x SIP/2.0\r\nX-Pad: " + b"a" * (MAX_HEAD_BYTES + 10), 513),
    (invite(length=MAX_BODY_BYTES + 1, body=b""), 513),
    (invite().replace(b"Content-Length: ", b"Content-Length: -"), 400),
    (invite(extra=b"Bad Name: x\r\n"), 400),
])
def test_oversize_or_unframeable_input_breaks_the_stream(data: bytes, status: int) -> None:
    framer = StreamFramer()
    with pytest.raises(SIPParseError) as caught:
        framer.feed(data)
    assert caught.value.status_hint == status and framer.broken


def test_oversize_body_is_refused_before_it_arrives() -> None:
    framer = StreamFramer()
    with pytest.raises(SIPParseError, match="exceeds"):
        framer.feed(invite(length=MAX_BODY_BYTES + 1, body=b"x" * 10))


def test_a_malformed_but_framed_message_leaves_the_stream_usable() -> None:
    framer = StreamFramer()
    bad = invite("bad").replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE")
    with pytest.raises(SIPParseError, match="does not match") as caught:
        framer.feed(invite("first") + bad + invite("after"))
    assert not caught.value.drop and not framer.broken
    assert [m.call_id for m in framer.feed(b"")] == ["first", "after"]
    bad_response = RINGING.replace(b"CSeq: 1 INVITE", b"CSeq: x")
    with pytest.raises(SIPParseError) as caught:
        framer.feed(bad_response)
    assert caught.value.drop and not framer.broken


def test_rejected_holds_the_bytes_an_error_was_about_to_address_a_400() -> None:
    framer = StreamFramer()
    bad = invite("bad").replace(b"CSeq: 1 INVITE", b"CSeq: 1 BYE")
    with pytest.raises(SIPParseError):
        framer.feed(invite("first") + bad)
    assert parse_message(framer.rejected, validate_headers=False).call_id == "bad"  # not "first"
    unframeable = invite("nolength").replace(b"Content-Length: %d\r\n" % len(SDP), b"")
    with pytest.raises(SIPParseError, match="Content-Length is required"):
        framer.feed(unframeable)
    assert framer.broken and framer.rejected.startswith(b"INVITE ") and b"Call-ID: nolength\r\n" in framer.rejected


def test_unfinished_counts_the_bytes_of_a_message_not_yet_complete() -> None:
    framer = StreamFramer()
    whole = invite("one")
    assert framer.feed(b"\r\n") == [] and framer.unfinished == 0  # CRLFs between messages do not count
    assert framer.feed(whole[:30]) == [] and framer.unfinished == 30  # the CRLF before it dropped
    assert framer.feed(whole[30:-5]) == [] and framer.unfinished == len(whole) - 5  # head parsed, body short
    assert len(framer.feed(whole[-5:])) == 1 and framer.unfinished == 0


def test_stream_without_validation() -> None:
    framer = StreamFramer(validate_headers=False)
    (m,) = framer.feed(invite().replace(b"CSeq: 1 INVITE", b"CSeq: nonsense"))
    assert m.headers.get("CSeq") == "nonsense"


def test_lf_only_messages_on_a_stream() -> None:
    head, _, body = invite().partition(b"\r\n\r\n")
    lf = head.replace(b"\r\n", b"\n") + b"\n\n" + body
    framer = StreamFramer()
    assert [m.body for m in framer.feed(lf + lf)] == [SDP, SDP]


def test_a_slow_drip_of_header_bytes_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each feed scans only the new bytes for the end of the headers, not the whole buffer again."""
    scanned: list[int] = []
    original = parser._find_head_end

    def counting(data: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
        scanned.append(len(data) - start)
        return original(data, start)

    monkeypatch.setattr(parser, "_find_head_end", counting)
    framer = StreamFramer()
    data = invite(extra=b"X-Pad: " + b"a" * 4000 + b"\r\n")
    for i in range(len(data)):
        framer.feed(data[i:i + 1])
    assert sum(scanned) < 5 * len(data)
