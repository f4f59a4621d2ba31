"""Headers, requests and responses: lookups, edits, cached views, serialization, make_response."""

from __future__ import annotations

import pytest

from sipcore.errors import SIPParseError
from sipcore.message import Headers, Request, Response, make_response, reason_phrase
from sipcore.parser import parse_message
from sipcore.uri import SipURI, parse_uri

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n"
    b"Max-Forwards: 70\r\n"
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    b"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@pc33.atlanta.example.com>\r\n"
    b"Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;lr>\r\n"
    b"Timestamp: 54\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def invite() -> Request:
    message = parse_message(INVITE)
    assert isinstance(message, Request)
    return message


# -- Headers -------------------------------------------------------------------------------------------


def test_lookup_is_case_insensitive_and_understands_compact_forms() -> None:
    h = Headers([("v", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("VIA", "SIP/2.0/UDP b;branch=z9hG4bK2"),
                 ("i", "abc@host"), ("Content-Length", "0")])
    assert h.get("Via") == "SIP/2.0/UDP a;branch=z9hG4bK1"
    assert h.get_all("via") == ["SIP/2.0/UDP a;branch=z9hG4bK1", "SIP/2.0/UDP b;branch=z9hG4bK2"]
    assert h.get("Call-ID") == h.get("I") == "abc@host"
    assert h.count("v") == 2 and h.count("Route") == 0 and h.get("Route") is None
    assert h.get("Route", "none") == "none"
    assert "call-id" in h and "Route" not in h and 5 not in h  # type: ignore[operator]
    assert list(h) == [("v", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("VIA", "SIP/2.0/UDP b;branch=z9hG4bK2"),
                       ("i", "abc@host"), ("Content-Length", "0")]  # names kept as received
    assert len(h) == 4


def test_values_splits_list_headers_across_fields() -> None:
    h = Headers([("Route", "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"),
                 ("Route", "<sip:p3.example.com;lr>"), ("Allow", "INVITE, ACK, BYE")])
    assert h.values("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"]
    assert h.values("Allow") == ["INVITE", "ACK", "BYE"]
    assert h.values("Supported") == []


def test_add_set_remove() -> None:
    h = Headers([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("To", "<sip:b@x>"), ("Via", "SIP/2.0/UDP c;branch=z9hG4bK3")])
    h.add("Via", "SIP/2.0/UDP proxy;branch=z9hG4bK0", first=True)  # a proxy's Via goes on top
    assert h.get_all("Via")[0] == "SIP/2.0/UDP proxy;branch=z9hG4bK0"
    h.add("Record-Route", "<sip:proxy;lr>", first=True)  # none yet: appended
    assert h.items_raw()[-1] == ("Record-Route", "<sip:proxy;lr>")
    h.set("via", "SIP/2.0/TCP only;branch=z9hG4bK9")
    assert h.get_all("Via") == ["SIP/2.0/TCP only;branch=z9hG4bK9"]
    assert [name for name, _ in h][:2] == ["via", "To"]  # kept where the first Via stood
    h.set("Subject", "new")
    assert h.items_raw()[-1] == ("Subject", "new")
    h.remove("v")
    assert "Via" not in h and h.count("Via") == 0
    h.remove("Not-There")
    assert len(h) == 3


def test_pop_first_value() -> None:
    h = Headers([("Route", "<sip:p1;lr>, <sip:p2;lr>"), ("Route", "<sip:p3;lr>")])
    assert h.pop_first_value("Route") == "<sip:p1;lr>"
    assert h.get_all("Route") == ["<sip:p2;lr>", "<sip:p3;lr>"]
    assert h.pop_first_value("Route") == "<sip:p2;lr>"
    assert h.pop_first_value("Route") == "<sip:p3;lr>"
    assert h.pop_first_value("Route") is None and "Route" not in h


def test_copy_is_independent() -> None:
    h = Headers([("To", "<sip:b@x>")])
    c = h.copy()
    c.add("From", "<sip:a@x>;tag=1")
    assert "From" not in h and c.get("To") == "<sip:b@x>"


def test_parsed_headers_are_editable_like_built_ones() -> None:
    m = invite()
    m.headers.add("Route", "<sip:p0.example.com;lr>")
    assert [name for name, _ in m.headers][-1] == "Route" and len(m.headers) == 12
    assert m.headers.get_all("Record-Route") == ["<sip:p2.example.com;lr>, <sip:p1.example.com;lr>"]


# -- cached structured views follow edits --------------------------------------------------------------


def test_via_property_reflects_set_add_and_pop() -> None:
    m = invite()
    assert m.via[0].host == "pc33.atlanta.example.com"
    m.headers.set("Via", "SIP/2.0/TCP changed.example.com;branch=z9hG4bKnew")
    assert [v.host for v in m.via] == ["changed.example.com"] and m.top_via.transport == "TCP"
    m.headers.add("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp", first=True)
    assert [v.host for v in m.via] == ["proxy.example.com", "changed.example.com"]
    m.headers.pop_first_value("Via")
    assert [v.host for v in m.via] == ["changed.example.com"]
    m.headers.remove("Via")
    assert m.via == []
    with pytest.raises(SIPParseError, match="no Via"):
        m.top_via  # noqa: B018


def test_other_views_reflect_edits() -> None:
    m = invite()
    assert m.to.tag is None and m.cseq.seq == 314159 and len(m.record_route) == 2
    m.headers.set("To", "Bob <sip:bob@biloxi.example.com>;tag=a6c85cf")
    m.headers.set("CSeq", "314160 INVITE")
    m.headers.pop_first_value("Record-Route")
    m.headers.set("Contact", "*")
    m.headers.add("Route", "<sip:edge.example.com;lr>")
    m.headers.set("Max-Forwards", "69")
    assert m.to.tag == "a6c85cf" and m.cseq.seq == 314160
    assert [str(r.uri) for r in m.record_route] == ["sip:p1.example.com;lr"]
    assert m.contacts == [] and m.contact_star
    assert [str(r.uri) for r in m.route] == ["sip:edge.example.com;lr"] and m.max_forwards == 69


def test_views_are_cached_until_the_header_changes() -> None:
    m = invite()
    assert m.from_ is m.from_ and m.via is m.via
    before = m.from_
    m.headers.set("Subject", "unrelated")
    assert m.from_ is before
    m.headers.set("From", "<sip:carol@chicago.example.com>;tag=2")
    assert m.from_ is not before and m.from_.tag == "2"


def test_single_headers_must_appear_once() -> None:
    m = Request("OPTIONS", "sip:x@y", [("To", "<sip:x@y>"), ("To", "<sip:z@y>")])
    with pytest.raises(SIPParseError, match="To appears 2 times"):
        m.to  # noqa: B018
    with pytest.raises(SIPParseError, match="Call-ID is missing"):
        m.call_id  # noqa: B018


def test_request_uri_is_reparsed_after_assignment() -> None:
    m = invite()
    assert isinstance(m.uri_parsed, SipURI) and m.uri_parsed.user == "bob"
    m.uri = "sip:carol@chicago.example.com:5070"
    assert isinstance(m.uri_parsed, SipURI) and m.uri_parsed.user == "carol" and m.uri_parsed.port == 5070
    built = Request("INVITE", parse_uri("sip:dave@example.com;transport=tcp"))
    assert built.uri == "sip:dave@example.com;transport=tcp" and built.uri_parsed.transport == "tcp"  # type: ignore[union-attr]
    with pytest.raises(SIPParseError):
        Request("INVITE", "sip:bad uri").uri_parsed  # noqa: B018


def test_content_type_and_numbers() -> None:
    m = invite()
    assert m.content_type == "application/sdp" and m.max_forwards == 70 and m.expires is None
    m.headers.set("Content-Type", "Application/SDP ; charset=utf-8")
    m.headers.set("Expires", "3600")
    assert m.content_type == "application/sdp" and m.expires == 3600
    assert Request("OPTIONS", "sip:x").content_type is None and Request("OPTIONS", "sip:x").max_forwards is None


# -- serialization -------------------------------------------------------------------------------------


def test_round_trip_is_exact() -> None:
    m = invite()
    assert m.to_bytes() == INVITE == bytes(m)


def test_serialization_keeps_edits_order_and_body() -> None:
    m = invite()
    m.headers.add("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp", first=True)
    m.set_body(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n", "application/sdp")
    data = m.to_bytes()
    assert data.startswith(b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\nVia: SIP/2.0/UDP proxy.example.com")
    assert b"\r\nContent-Length: 31\r\n\r\nv=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n" in data
    again = parse_message(data)
    assert again.body == m.body and len(again.via) == 2
    assert list(again.headers) == list(m.headers)


def test_missing_content_length_is_added() -> None:
    r = Response(200, headers=[("Via", "SIP/2.0/UDP a;branch=z9hG4bK1")])
    assert r.to_bytes() == b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"
    r.set_body(b"")
    assert "Content-Type" not in r.headers and r.headers.get("Content-Length") == "0"


def test_non_ascii_survives_serialization() -> None:
    raw = INVITE.replace(b"Alice <", "\"Алиса\" <".encode()).replace(b"Timestamp: 54", b"X-Raw: \xff\xfe")
    m = parse_message(raw)
    assert m.from_.display_name == "Алиса" and m.to_bytes() == raw


def test_start_lines_and_reasons() -> None:
    assert Response(486).start_line() == "SIP/2.0 486 Busy Here"
    assert Response(299).reason == "OK" and Response(499).reason == "Client Error"
    assert Response(183, "Ringing Early").start_line() == "SIP/2.0 183 Ringing Early"
    assert reason_phrase(408) == "Request Timeout" and reason_phrase(799) == ""
    assert Response(180).is_provisional and Response(200).is_final
    assert repr(Response(404)) == "<Response 404 Not Found>" and repr(invite()).startswith("<Request INVITE")


# -- make_response (RFC 3261 §8.2.6) ---------------------------------------------------------------------


def test_make_response_copies_the_transaction_headers_and_adds_a_to_tag() -> None:
    req = invite()
    req.headers.add("Via", "SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1", first=True)
    resp = make_response(req, 486, to_tag="a6c85cf")
    assert resp.status == 486 and resp.reason == "Busy Here"
    assert resp.headers.get_all("Via") == req.headers.get_all("Via")  # every Via, in order
    assert resp.headers.get("From") == req.headers.get("From")
    assert resp.headers.get("Call-ID") == req.headers.get("Call-ID") and resp.cseq == req.cseq
    assert resp.to.tag == "a6c85cf" and resp.to.uri == req.to.uri
    assert "Record-Route" not in resp.headers and "Contact" not in resp.headers
    again = parse_message(resp.to_bytes())
    assert isinstance(again, Response) and again.to.tag == "a6c85cf"


def test_make_response_never_tags_a_100_nor_retags() -> None:
    req = invite()
    trying = make_response(req, 100, to_tag="x")
    assert trying.to.tag is None and trying.headers.get("Timestamp") == "54"  # §8.2.6.1
    req.headers.set("To", "Bob <sip:bob@biloxi.example.com>;tag=existing")
    ok = make_response(req, 200, to_tag="other", copy_record_route=True)
    assert ok.to.tag == "existing" and "Timestamp" not in ok.headers
    assert ok.headers.get_all("Record-Route") == req.headers.get_all("Record-Route")


def test_make_response_from_compact_headers_uses_full_names() -> None:
    req = parse_message(b"OPTIONS sip:x@y SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@y>;tag=1\r\n"
                        b"t: <sip:x@y>\r\ni: c1\r\nCSeq: 1 OPTIONS\r\nl: 0\r\n\r\n")
    assert isinstance(req, Request)
    resp = make_response(req, 200, to_tag="9")
    assert [name for name, _ in resp.headers] == ["Via", "From", "To", "Call-ID", "CSeq"]
    assert resp.to.tag == "9"
