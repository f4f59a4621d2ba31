"""The stateless 400 for a request that failed to parse: what it copies, and that it is itself a valid
message (the fuzz tests found it echoing bare CRs and LFs, which made lines of their own in the response)."""

from __future__ import annotations

import pytest

from sipcore.errors import SIPParseError
from sipcore.message import Response
from sipcore.parser import StreamFramer, parse_message
from sipcore.stateless import error_response_bytes

UDP_MAX = 65507  # the largest UDP payload: the largest error response sent

REQUEST = (b"OPTIONS sip:user@example.com SIP/2.0\r\n"
           b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKstateless\r\n"
           b"To: <sip:user@example.com>\r\n"
           b"From: <sip:caller@example.net>;tag=1\r\n"
           b"Call-ID: stateless@192.0.2.1\r\n"
           b"CSeq: 8 OPTIONS\r\n"
           b"Max-Forwards: 70\r\n"
           b"Content-Length: 0\r\n\r\n")


def answer(data: bytes) -> bytes | None:
    """The error response to ``data`` with its Max-Forwards line broken (so that it fails to parse)."""
    data = data.replace(b"Max-Forwards: 70", b"Max-Forwards 70")
    try:
        parse_message(data)
    except SIPParseError as error:
        return error_response_bytes(data, error)
    raise AssertionError("the request parsed")


def test_a_400_copies_via_from_to_call_id_and_cseq_and_says_why() -> None:
    data = answer(REQUEST)
    assert data is not None
    response = parse_message(data)
    assert isinstance(response, Response) and response.status == 400
    assert [name for name, _ in response.headers] == ["Via", "To", "From", "Call-ID", "CSeq", "Warning",
                                                      "Content-Length"]
    assert "has no colon" in (response.headers.get("Warning") or "")


@pytest.mark.parametrize("header, broken", [
    (b"From", b"From: <sip:caller@example.net>;tag=1\rMax-Forwards: 7"),
    (b"To", b"To: <sip:user@example.com>\nContact: <sip:injected@198.51.100.1>"),
    (b"Call-ID", b"Call-ID: stateless@192.0.2.1\r\x12"),
])
def test_a_line_with_a_bare_cr_or_lf_is_not_copied_and_the_response_frames_as_one_message(header: bytes,
                                                                                          broken: bytes) -> None:
    start = REQUEST.index(header + b": ")
    request = REQUEST[:start] + broken + REQUEST[REQUEST.index(b"\r\n", start):]
    data = answer(request)
    assert data is not None
    head = data.split(b"\r\n\r\n")[0]
    assert b"\r" not in head.replace(b"\r\n", b"") and b"\n" not in head.replace(b"\r\n", b"")
    [response] = StreamFramer(validate_headers=False).feed(data)
    assert isinstance(response, Response) and response.status == 400
    assert header.decode() not in response.headers and "Contact" not in response.headers
    assert response.headers.get("Via") == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKstateless"


def test_no_response_when_a_via_has_a_bare_cr_or_when_it_would_not_fit_a_datagram() -> None:
    broken_via = REQUEST.replace(b";branch=z9hG4bKstateless", b";branch=z9hG4bK\rstateless")
    assert answer(broken_via) is None
    huge_from = REQUEST.replace(b";tag=1", b";tag=1;x=" + b"a" * UDP_MAX)
    error = SIPParseError("header section too large", 513)
    assert error_response_bytes(huge_from, error) is None
    assert error_response_bytes(REQUEST, error) is not None


@pytest.mark.parametrize("first_line, answered", [
    (b"INVITE  sip:user@example.com  SIP/2.0", True),  # RFC 4475 lwsstart.dat: a malformed request line
    (b"OPTIONS sip:user@example.com SIP/7.0", True),  # badvers.dat
    (b"SIX/2.0 200 OK", False),  # a response mangled on the way: no request to answer
    (b"\x8f\x02 garbage", False),
    (b"Via: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKfirst", False),  # the request line lost
])
def test_only_what_reads_as_a_request_line_is_answered(first_line: bytes, answered: bool) -> None:
    data = first_line + REQUEST[REQUEST.index(b"\r\n"):].replace(b"Max-Forwards: 70", b"Max-Forwards 70")
    assert (error_response_bytes(data, SIPParseError("malformed")) is not None) == answered
