"""The fast paths that build outgoing messages give what the general, field-by-field path gives:
Headers.add keeping its index up to date, make_response and build_request collecting their fields in one
list, and the parsed views read from the cache with one lookup."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipcore.builders import build_request, make_via
from sipcore.errors import SIPParseError
from sipcore.headers import NameAddr, canonical_name
from sipcore.message import Headers, Request, Response, make_response
from sipcore.parser import parse_message
from sipcore.uri import parse_uri

NAMES = ["Via", "v", "Route", "From", "f", "To", "CSeq", "Call-ID", "i", "X-Extra", "Content-Length"]


def _same_lookups(h: Headers) -> None:
    """h answers like a Headers built from its fields afresh (whose index is built from scratch)."""
    fresh = Headers(list(h))
    for name in NAMES:
        assert h.get(name) == fresh.get(name)
        assert h.get_all(name) == fresh.get_all(name)
        assert h.count(name) == fresh.count(name)
        assert (name in h) == (name in fresh)


@given(st.lists(st.tuples(st.sampled_from(NAMES), st.text("abc", min_size=1, max_size=3), st.booleans(),
                          st.booleans()), max_size=12))
def test_add_keeps_the_index_as_a_rebuild_would(steps: list[tuple[str, str, bool, bool]]) -> None:
    h = Headers([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("To", "<sip:b@x>")])
    for name, value, first, look in steps:
        if look:
            h.get("via")  # builds the index, which the next add must keep up to date
        h.add(name, value, first=first)
        _same_lookups(h)


def test_add_after_a_lookup_counts_a_repeated_name() -> None:
    h = Headers([("CSeq", "1 INVITE")])
    assert h.get("cseq") == "1 INVITE"
    h.add("CSeq", "2 INVITE")
    with pytest.raises(SIPParseError, match="CSeq appears 2 times"):
        _ = Request("INVITE", "sip:b@x", h).cseq


# -- make_response ------------------------------------------------------------------------------------


def _make_response_one_by_one(request: Request, status: int, reason: str | None = None, *,
                              to_tag: str | None = None, copy_record_route: bool = False,
                              headers: list[tuple[str, str]] | None = None) -> Response:
    """make_response as it was: each field added on its own."""
    response = Response(status, reason)
    h = response.headers
    for name in ("Via",) + (("Record-Route",) if copy_record_route else ()):
        for value in request.headers.get_all(name):
            h.add(canonical_name(name), value)
    h.add("From", request.headers.get("From") or "")
    to_value = request.headers.get("To") or ""
    if to_tag and status != 100 and request.to.tag is None:
        to_value = f"{to_value};tag={to_tag}"
    h.add("To", to_value)
    h.add("Call-ID", request.headers.get("Call-ID") or "")
    h.add("CSeq", request.headers.get("CSeq") or "")
    timestamp = request.headers.get("Timestamp")
    if status == 100 and timestamp is not None:
        h.add("Timestamp", timestamp)
    for name, value in headers or []:
        h.add(name, value)
    return response


REQUESTS = [
    b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nTo: <sip:b@x>\r\n"
    b"From: <sip:a@x>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nTimestamp: 5\r\nContent-Length: 0\r\n\r\n",
    # two Via fields, one with two values; two Record-Route fields; compact names; a To tag already
    b"INVITE sip:b@x SIP/2.0\r\nv: SIP/2.0/UDP p;branch=z9hG4bK2, SIP/2.0/UDP q;branch=z9hG4bK3\r\n"
    b"Via: SIP/2.0/UDP a;branch=z9hG4bK1\r\nRecord-Route: <sip:p;lr>\r\nRecord-Route: <sip:q;lr>\r\n"
    b"t: <sip:b@x>;tag=old\r\nf: <sip:a@x>;tag=1\r\ni: c2\r\nCSeq: 2 INVITE\r\nl: 0\r\n\r\n",
    b"BYE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK9\r\nRecord-Route: <sip:p;lr>\r\nTo: <sip:b@x>\r\n"
    b"From: <sip:a@x>;tag=1\r\nCall-ID: c3\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n",
]


@pytest.mark.parametrize("raw", REQUESTS)
@pytest.mark.parametrize("status", [100, 180, 200, 487])
@pytest.mark.parametrize("copy_record_route", [False, True])
@pytest.mark.parametrize("parsed_first", [False, True])
def test_make_response_is_the_field_by_field_response(raw: bytes, status: int, copy_record_route: bool,
                                                      parsed_first: bool) -> None:
    request = parse_message(raw)
    assert isinstance(request, Request)
    if parsed_first:  # the parsed Via and CSeq are handed on to the response
        assert request.via and request.cseq
    extra = [("Contact", "<sip:s:5060>"), ("Server", "x"), ("Content-Length", "0")]
    got = make_response(request, status, to_tag="t9", copy_record_route=copy_record_route, headers=extra)
    want = _make_response_one_by_one(request, status, to_tag="t9", copy_record_route=copy_record_route,
                                     headers=extra)
    assert got.to_bytes() == want.to_bytes()
    assert (got.via, got.cseq, got.to, got.call_id) == (want.via, want.cseq, want.to, want.call_id)
    assert got.via is not request.headers._cache.get("via")  # its own list


# -- build_request ------------------------------------------------------------------------------------


def _build_request_one_by_one(method: str, extra: list[tuple[str, str]], body: bytes,
                              content_type: str | None) -> Request:
    """build_request's fields added one by one, then set_body: what it did before."""
    request = Request(method, "sip:b@x")
    h = request.headers
    h.add("Via", "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKb;rport")
    h.add("Max-Forwards", "70")
    h.add("Route", "<sip:p;lr>")
    h.add("From", "<sip:a@x>;tag=f")
    h.add("To", "<sip:b@x>")
    h.add("Call-ID", "c")
    h.add("CSeq", f"4 {method}")
    h.add("Contact", "<sip:a@10.0.0.1>")
    for name, value in extra:
        h.add(name, value)
    request.set_body(body, content_type)
    return request


@pytest.mark.parametrize("extra", [
    [], [("Allow", "INVITE, ACK")], [("Content-Type", "text/plain"), ("X", "y")],
    [("content-length", "99")], [("Content-Type", "a/b"), ("Content-Type", "c/d"), ("l", "3")],
])
@pytest.mark.parametrize(("body", "content_type"), [(b"", None), (b"", "application/sdp"),
                                                    (b"v=0\r\n", "application/sdp")])
def test_build_request_is_the_field_by_field_request(extra: list[tuple[str, str]], body: bytes,
                                                     content_type: str | None) -> None:
    got = build_request("INVITE", "sip:b@x", via=make_via(("10.0.0.1", 5060), "z9hG4bKb"),
                        from_=NameAddr(parse_uri("sip:a@x"), params={"tag": "f"}),
                        to=NameAddr(parse_uri("sip:b@x")), call_id="c", cseq=4, route=["sip:p;lr"],
                        contact="sip:a@10.0.0.1", extra_headers=extra, body=body, content_type=content_type)
    want = _build_request_one_by_one("INVITE", extra, body, content_type)
    assert got.to_bytes() == want.to_bytes()
    assert list(got.headers) == list(want.headers)


# -- cached views ------------------------------------------------------------------------------------


def test_call_id_view_follows_edits() -> None:
    request = parse_message(REQUESTS[0])
    assert isinstance(request, Request)
    assert request.call_id == "c1"
    request.headers.set("Call-ID", " c2 ")
    assert request.call_id == "c2"
    request.headers.replace_first_value("Call-ID", "c3")
    assert request.call_id == "c3"
    request.headers.remove("Call-ID")
    with pytest.raises(SIPParseError, match="Call-ID is missing"):
        _ = request.call_id


_FREE_NAMES = [name for name in NAMES if name != "Content-Length"]  # any value will do for these


@given(st.lists(st.sampled_from(_FREE_NAMES), min_size=1, max_size=6), st.sampled_from(_FREE_NAMES))
def test_replace_first_value_on_parsed_fields_matches_the_general_path(names: list[str], target: str) -> None:
    """replace_first_value on the fields as parsed (the (name, value) pairs, no triples made yet) edits
    what it edits on fields that were added one by one."""
    fields = [(name, f"value{i}") for i, name in enumerate(names)]
    parsed = parse_message(("OPTIONS sip:a@b SIP/2.0\r\n"
                            + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n").encode(),
                           validate_headers=False).headers
    general = Headers(fields)
    results = []
    for headers in (parsed, general):
        headers.get("Via")  # build the index, so that the edit must keep it up to date
        if headers is parsed and len({canonical_name(n) for n in names}) == len(names):
            assert parsed._wire is not None  # no name repeats: the fast path is taken
        try:
            headers.replace_first_value(target, "new")
        except KeyError:
            results.append(None)
            continue
        _same_lookups(headers)
        results.append(list(headers))
    assert results[0] == results[1]
