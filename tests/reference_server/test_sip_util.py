"""build_response: its fields in one list give what make_response, add and set_body gave."""

from __future__ import annotations

import pytest

from reference_server.sip_util import build_response
from sipcore.message import Request, make_response
from sipcore.parser import parse_message

INVITE = (b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nRecord-Route: <sip:p;lr>\r\n"
          b"To: <sip:b@x>\r\nFrom: <sip:a@x>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("server", ["", "trunk/1"])
@pytest.mark.parametrize(("body", "content_type"), [(b"", None), (b"", "application/sdp"),
                                                    (b"v=0\r\n", "application/sdp"), (b"x", None)])
@pytest.mark.parametrize("headers", [[], [("Contact", "<sip:s>"), ("Allow", "INVITE")]])
def test_build_response_is_make_response_add_and_set_body(server: str, body: bytes, content_type: str | None,
                                                          headers: list[tuple[str, str]]) -> None:
    request = parse_message(INVITE)
    assert isinstance(request, Request)
    got = build_response(request, 200, to_tag="t", headers=headers, server=server, copy_record_route=True,
                         body=body, content_type=content_type)
    want = make_response(request, 200, to_tag="t", copy_record_route=True)
    for name, value in headers:
        want.headers.add(name, value)
    if server:
        want.headers.add("Server", server)
    want.headers.add("Content-Length", "0")
    if body:
        want.set_body(body, content_type)
    assert got.to_bytes() == want.to_bytes()
