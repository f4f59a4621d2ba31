"""Hypothesis: whatever arrives, the parser returns a message or raises SIPParseError, nothing else.

Inputs are arbitrary bytes and the RFC 4475 torture messages mutated (byte flips, truncations,
insertions, duplicated or dropped lines, CRLF/LF changes). For every message that parses, each structured
view is read and must also fail only with SIPParseError; a message that passed validation must serialize
to bytes that parse again to the same values. StreamFramer gets the same treatment in random chunks.
Set TRUNKCHECK_FUZZ_EXAMPLES to run longer.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore.checks import check_request
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Message, Request, Response
from sipcore.parser import StreamFramer, parse_message

from .torture import manifest

EXAMPLES = int(os.environ.get("TRUNKCHECK_FUZZ_EXAMPLES", "400"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TORTURE = [m.data for m in manifest()]
INTERESTING = [
    b"\r\n", b"\n", b"\r", b"\r\n\r\n", b"\r\n ", b":", b";", b",", b"<", b">", b'"', b"\\", b"%", b"%0",
    b"@", b"?", b"=", b"&", b"[", b"]", b" ", b"\t", b"\x00", b"\xff", b"\xc3", b"\xd9\xa1", b"\xc2\xb2",
    b"SIP/2.0", b"sip:", b"sips:", b"tel:", b"z9hG4bK", b";branch=", b";tag=", b";rport", b"0" * 30,
    b"9" * 25, b"7" * 4400, b"4294967296", b"2147483648", b"65536", b"-1", b";rport=", b";received=",
    b"Via: ", b"v: ", b"Content-Length: ", b"Max-Forwards: ", b"Expires: ", b"Retry-After: ",
    b"l: 99999\r\n", b"To: ", b"CSeq: 1 ", b"Call-ID: ", b"Contact: *", b"Route: <", b"\r\nVia: SIP/2.0/UDP ",
]


@st.composite
def mutated_torture(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(TORTURE)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "dup_line", "drop_line",
                                     "crlf_to_lf", "lf_to_crlf", "swap_lines"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.one_of(st.sampled_from(INTERESTING), st.binary(min_size=1, max_size=8)))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        else:
            lines = bytes(data).split(b"\r\n")
            i = at % len(lines)
            if kind == "dup_line":
                lines.insert(i, lines[i])
            elif kind == "drop_line":
                del lines[i]
            elif kind == "swap_lines":
                j = draw(st.integers(0, len(lines) - 1))
                lines[i], lines[j] = lines[j], lines[i]
            if kind == "crlf_to_lf":
                data = bytearray(b"\r\n".join(lines[:i + 1]) + b"\n" + b"\r\n".join(lines[i + 1:]))
            elif kind == "lf_to_crlf":
                data = bytearray(bytes(data).replace(b"\n", b"\r\n", draw(st.integers(1, 3))))
            else:
                data = bytearray(b"\r\n".join(lines))
    return bytes(data)


def read_every_view(message: Message) -> None:
    """Every structured property: each may only fail with SIPParseError."""
    for name in ("via", "top_via", "from_", "to", "call_id", "cseq", "contacts", "contact_star", "route",
                 "record_route", "max_forwards", "expires", "content_type"):
        try:
            getattr(message, name)
        except SIPParseError:
            pass
    for via in _or_empty(message, "via"):
        assert via.branch is None or isinstance(via.branch, str)
        _ = (via.rport, via.received, via.rfc3261_branch, via.sent_by(), str(via))
    for addr in _or_empty(message, "contacts") + _or_empty(message, "route") + _or_empty(message, "record_route"):
        _ = (addr.tag, str(addr), str(addr.uri))
    if isinstance(message, Request):
        try:
            uri = message.uri_parsed
            _ = (str(uri), uri == uri)
        except SIPParseError:
            pass
    message.to_bytes()


def _or_empty(message: Message, name: str) -> list:  # type: ignore[type-arg]
    try:
        return list(getattr(message, name))
    except SIPParseError:
        return []


def parse_and_read(data: bytes) -> None:
    feed_all(StreamFramer(), [data])
    for validate in (True, False):
        try:
            message = parse_message(data, validate_headers=validate)
        except SIPParseError as error:
            assert isinstance(error.status_hint, int) and 400 <= error.status_hint < 600
            assert str(error)
            continue
        read_every_view(message)
        if validate:
            again = parse_message(message.to_bytes())  # what we accept, we can send and accept again
            assert type(again) is type(message) and again.body == message.body
            assert [(v.host, v.branch) for v in again.via] == [(v.host, v.branch) for v in message.via]
            assert again.cseq == message.cseq and again.call_id == message.call_id
            if isinstance(message, Request):
                try:
                    refusal = check_request(message, to_tag="fuzz")
                except SIPParseError:
                    refusal = None
                if refusal is not None:
                    assert isinstance(refusal, Response) and parse_message(refusal.to_bytes())


@FUZZ
@given(st.binary(max_size=1500))
def test_arbitrary_bytes(data: bytes) -> None:
    parse_and_read(data)


@FUZZ
@given(st.lists(st.sampled_from(INTERESTING), max_size=40).map(b"".join))
def test_arbitrary_sip_looking_fragments(data: bytes) -> None:
    parse_and_read(b"INVITE sip:a@b SIP/2.0\r\n" + data)
    parse_and_read(b"SIP/2.0 200 OK\r\n" + data)


@FUZZ
@given(mutated_torture())
def test_mutated_torture_messages(data: bytes) -> None:
    parse_and_read(data)


AWKWARD = st.lists(st.sampled_from(INTERESTING), min_size=1, max_size=3).map(b"".join)


@FUZZ
@given(st.sampled_from(TORTURE), st.integers(0, 40), AWKWARD, st.booleans())
def test_header_values_replaced_or_extended(data: bytes, line: int, value: bytes, append: bool) -> None:
    """One header value replaced by something awkward, or something awkward appended to it."""
    lines = data.split(b"\r\n")
    i = 1 + line % max(1, len(lines) - 1)
    if i < len(lines) and b":" in lines[i]:
        name, old = lines[i].split(b":", 1)
        lines[i] = name + b":" + (old + value if append else b" " + value)
    parse_and_read(b"\r\n".join(lines))


def feed_all(framer: StreamFramer, chunks: list[bytes]) -> None:
    for chunk in chunks:
        try:
            for message in framer.feed(chunk):
                read_every_view(message)
        except SIPParseError:
            if framer.broken:
                return
        except ProtocolError:
            raise AssertionError("feed after a framing error") from None


@st.composite
def chunked(draw: st.DrawFn, data: bytes) -> list[bytes]:
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=12)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@FUZZ
@given(st.data())
def test_stream_framer_on_arbitrary_chunks(data: st.DataObject) -> None:
    stream = data.draw(st.one_of(
        st.binary(max_size=1500),
        st.lists(st.one_of(mutated_torture(), st.sampled_from([b"\r\n", b"\r\n\r\n"])), max_size=4)
        .map(b"".join),
    ))
    feed_all(StreamFramer(), data.draw(chunked(stream)))
    feed_all(StreamFramer(validate_headers=False), data.draw(chunked(stream)))


@FUZZ
@given(st.data())
def test_stream_framer_frames_what_the_datagram_parser_parses(data: st.DataObject) -> None:
    """Well-formed messages with a Content-Length, back to back in random chunks, come out whole."""
    messages = data.draw(st.lists(st.sampled_from([t for t in TORTURE if _framable(t)]), min_size=1,
                                  max_size=4))
    stream = b"".join(messages)
    framer = StreamFramer()
    got = [m for chunk in data.draw(chunked(stream)) for m in framer.feed(chunk)]
    assert [m.to_bytes() for m in got] == [parse_message(m).to_bytes() for m in messages]


def _framable(data: bytes) -> bool:
    """Parses, has a Content-Length and nothing after its body (dblreq.dat has trailing octets)."""
    try:
        message = parse_message(data)
    except SIPParseError:
        return False
    end_of_head = data.find(b"\r\n\r\n") + 4
    return "Content-Length" in message.headers and end_of_head + len(message.body) == len(data)
