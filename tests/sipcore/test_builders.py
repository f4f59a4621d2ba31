"""Request builders: out-of-dialog requests (§8.1.1), CANCEL (§9.1), non-2xx ACK (§17.1.1.3), retry with
credentials (§22), and id generation."""

from __future__ import annotations

import random

import pytest

from sipcore.builders import (
    authorize_request,
    make_ack_for_non2xx,
    make_cancel,
    new_request,
    with_new_branch,
)
from sipcore.ids import IdGenerator
from sipcore.message import Request, make_response
from sipcore.parser import parse_message
from sipcore.uri import SipURI

SDP = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
RURI = "sip:+15551234567@trunk.example.com"


def invite(**changes: object) -> Request:
    args: dict[str, object] = dict(
        from_uri="sip:alice@client.example.com", to_uri=RURI, local_addr=("127.0.0.1", 5062),
        from_display="Alice Smith", from_tag="a73kszlfl", call_id="1j9FpLxk3uxtm8tn@127.0.0.1", cseq=1,
        branch="z9hG4bK74bf9", contact="sip:alice@127.0.0.1:5062", body=SDP, content_type="application/sdp",
        route=["<sip:edge.example.com;lr>", "sip:core.example.com;lr"], user_agent="trunkcheck/0.1",
    )
    args.update(changes)
    return new_request("INVITE", RURI, **args)  # type: ignore[arg-type]


def lines(request: Request) -> list[str]:
    return request.to_bytes().split(b"\r\n\r\n", 1)[0].decode().split("\r\n")


def test_new_request_has_every_mandatory_header_of_8_1_1() -> None:
    assert lines(invite()) == [
        f"INVITE {RURI} SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK74bf9;rport",
        "Max-Forwards: 70",
        "Route: <sip:edge.example.com;lr>",
        "Route: <sip:core.example.com;lr>",
        "From: Alice Smith <sip:alice@client.example.com>;tag=a73kszlfl",
        f"To: <{RURI}>",
        "Call-ID: 1j9FpLxk3uxtm8tn@127.0.0.1",
        "CSeq: 1 INVITE",
        "Contact: <sip:alice@127.0.0.1:5062>",
        "User-Agent: trunkcheck/0.1",
        "Content-Type: application/sdp",
        f"Content-Length: {len(SDP)}",
    ]


def test_new_request_round_trips_through_the_parser() -> None:
    parsed = parse_message(invite(transport="tcp").to_bytes(), stream=True)
    assert isinstance(parsed, Request)
    assert parsed.method == "INVITE" and parsed.uri == RURI
    via = parsed.top_via
    assert (via.transport, via.host, via.port, via.branch, via.has_rport) == (
        "TCP", "127.0.0.1", 5062, "z9hG4bK74bf9", True)
    assert parsed.from_.tag == "a73kszlfl" and parsed.from_.display_name == "Alice Smith"
    assert parsed.to.tag is None and str(parsed.to.uri) == RURI
    assert (parsed.cseq.seq, parsed.cseq.method) == (1, "INVITE")
    assert parsed.max_forwards == 70
    assert [str(r.uri) for r in parsed.route] == ["sip:edge.example.com;lr", "sip:core.example.com;lr"]
    assert all(isinstance(r.uri, SipURI) and r.uri.lr for r in parsed.route)
    assert str(parsed.contacts[0].uri) == "sip:alice@127.0.0.1:5062"
    assert parsed.body == SDP


def test_ipv6_sent_by_is_bracketed() -> None:
    request = invite(local_addr=("::1", 5060), route=())
    assert request.headers.get("Via") == "SIP/2.0/UDP [::1]:5060;branch=z9hG4bK74bf9;rport"
    assert parse_message(request.to_bytes()).top_via.host == "[::1]"


@pytest.mark.parametrize(("changes", "message"), [
    ({"content_type": None}, "needs a Content-Type"),
    ({"branch": "74bf9"}, "magic cookie"),
    ({"cseq": 2**31}, r"2\*\*31-1"),
    ({"call_id": "a b@host"}, "white space"),
    ({"from_tag": ""}, "From tag"),
])
def test_new_request_refuses_what_a_peer_would_reject(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        invite(**changes)


def test_options_without_body_has_content_length_zero_and_no_content_type() -> None:
    request = new_request("OPTIONS", RURI, from_uri="sip:probe@127.0.0.1", to_uri=RURI,
                          local_addr=("127.0.0.1", 5060), from_tag="t1", call_id="c1", cseq=7,
                          branch="z9hG4bKo1")
    assert request.headers.get("Content-Length") == "0"
    assert "Content-Type" not in request.headers and "Contact" not in request.headers
    assert request.headers.get("CSeq") == "7 OPTIONS"


def test_cancel_per_9_1_copies_the_invite_byte_for_byte() -> None:
    request = invite()
    request.headers.add("Via", "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKbelow", first=False)
    cancel = make_cancel(request)
    assert lines(cancel) == [
        f"CANCEL {RURI} SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK74bf9;rport",
        "Max-Forwards: 70",
        "Route: <sip:edge.example.com;lr>",
        "Route: <sip:core.example.com;lr>",
        "From: Alice Smith <sip:alice@client.example.com>;tag=a73kszlfl",
        f"To: <{RURI}>",
        "Call-ID: 1j9FpLxk3uxtm8tn@127.0.0.1",
        "CSeq: 1 CANCEL",
        "Content-Length: 0",
    ]
    assert cancel.body == b""
    parsed = parse_message(cancel.to_bytes())
    assert len(parsed.via) == 1 and parsed.to.tag is None


def test_cancel_of_an_ack_is_refused() -> None:
    ack = Request("ACK", RURI, invite().headers.copy())
    with pytest.raises(ValueError, match="cannot be cancelled"):
        make_cancel(ack)


def test_ack_for_non2xx_takes_to_from_the_response() -> None:
    request = invite()
    busy = make_response(request, 486, to_tag="uas-tag-9")
    ack = make_ack_for_non2xx(request, busy)
    assert lines(ack) == [
        f"ACK {RURI} SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK74bf9;rport",
        "Max-Forwards: 70",
        "Route: <sip:edge.example.com;lr>",
        "Route: <sip:core.example.com;lr>",
        "From: Alice Smith <sip:alice@client.example.com>;tag=a73kszlfl",
        f"To: <{RURI}>;tag=uas-tag-9",
        "Call-ID: 1j9FpLxk3uxtm8tn@127.0.0.1",
        "CSeq: 1 ACK",
        "Content-Length: 0",
    ]


def test_ack_for_non2xx_refuses_a_2xx_and_a_foreign_cseq() -> None:
    request = invite()
    with pytest.raises(ValueError, match="ACKed by the dialog"):
        make_ack_for_non2xx(request, make_response(request, 200, to_tag="x"))
    other = make_response(invite(cseq=5), 486, to_tag="x")
    with pytest.raises(ValueError, match="does not answer"):
        make_ack_for_non2xx(request, other)


def test_authorize_request_is_a_new_transaction_with_higher_cseq() -> None:
    request = invite()
    creds = 'Digest username="alice", realm="edge", nonce="n1", uri="sip:x", response="abc"'
    retry = authorize_request(request, "proxy-authorization", creds, "z9hG4bKretry", 2)
    assert retry.headers.get("CSeq") == "2 INVITE"
    assert retry.headers.get("Via") == "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKretry;rport"
    assert retry.headers.get_all("Proxy-Authorization") == [creds]
    assert retry.headers.get("Call-ID") == request.headers.get("Call-ID")
    assert retry.headers.get("From") == request.headers.get("From")
    assert retry.to.tag is None and retry.body == SDP
    # the original is untouched (the transaction layer may still retransmit or CANCEL it)
    assert request.headers.get("CSeq") == "1 INVITE" and "Proxy-Authorization" not in request.headers


def test_authorize_request_replaces_same_realm_and_keeps_others() -> None:
    first = 'Digest username="alice", realm="edge", nonce="n1", response="a"'
    other = 'Digest username="alice", realm="core", nonce="m1", response="b"'
    stale = authorize_request(authorize_request(invite(), "Proxy-Authorization", first, "z9hG4bK2", 2),
                              "Proxy-Authorization", other, "z9hG4bK3", 3)
    fresh = 'Digest username="alice", realm="edge", nonce="n2", response="c"'
    retry = authorize_request(stale, "Proxy-Authorization", fresh, "z9hG4bK4", 4)
    assert retry.headers.get_all("Proxy-Authorization") == [other, fresh]
    assert retry.cseq.seq == 4


@pytest.mark.parametrize(("name", "cseq", "message"), [
    ("X-Auth", 2, "Authorization or Proxy-Authorization"),
    ("Authorization", 1, "higher CSeq"),
])
def test_authorize_request_refuses_misuse(name: str, cseq: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        authorize_request(invite(), name, "Digest x", "z9hG4bKr", cseq)


def test_ids_from_a_seeded_generator_make_a_valid_request() -> None:
    ids = IdGenerator(random.Random(7))
    request = invite(branch=ids.branch(), from_tag=ids.tag(), call_id=ids.call_id("127.0.0.1"))
    again = IdGenerator(random.Random(7))
    assert request.top_via.branch == again.branch() and request.from_.tag == again.tag()
    parsed = parse_message(request.to_bytes())
    assert parsed.top_via.rfc3261_branch and parsed.call_id.endswith("@127.0.0.1")


def test_with_new_branch_is_the_same_request_as_a_new_transaction() -> None:
    """RFC 3263 §4.3: the request for the next server is identical but for the Via branch."""
    request = invite()
    again = with_new_branch(request, "z9hG4bKnext")
    assert again.top_via.branch == "z9hG4bKnext" and request.top_via.branch != "z9hG4bKnext"
    assert again.to_bytes().replace(b"z9hG4bKnext", request.top_via.branch.encode()) == request.to_bytes()
    with pytest.raises(ValueError, match="magic cookie"):
        with_new_branch(request, "abc")
    with pytest.raises(ValueError, match="belongs to its INVITE's transaction"):
        with_new_branch(make_cancel(request), "z9hG4bKc")
