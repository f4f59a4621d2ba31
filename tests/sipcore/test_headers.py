"""Header names, list splitting, name-addr / addr-spec, Via, CSeq and the numeric headers."""

from __future__ import annotations

import pytest

from sipcore.errors import SIPParseError
from sipcore.headers import (
    CSeq,
    NameAddr,
    Via,
    _parse_name_addr,
    canonical_name,
    header_key,
    parse_cseq,
    parse_name_addr,
    parse_params,
    parse_quoted,
    parse_uint,
    parse_via,
    quote,
    split_list,
)
from sipcore.uri import AbsoluteURI, SipURI, parse_uri

# -- names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compact, full", [
    ("i", "Call-ID"), ("m", "Contact"), ("f", "From"), ("t", "To"), ("v", "Via"), ("l", "Content-Length"),
    ("c", "Content-Type"), ("k", "Supported"), ("s", "Subject"), ("e", "Content-Encoding"), ("o", "Event"),
    ("r", "Refer-To"), ("b", "Referred-By"), ("u", "Allow-Events"), ("x", "Session-Expires"),
    ("a", "Accept-Contact"), ("j", "Reject-Contact"), ("d", "Request-Disposition"), ("y", "Identity"),
    ("n", "Identity-Info"),
])
def test_compact_forms(compact: str, full: str) -> None:
    assert header_key(compact) == header_key(compact.upper()) == header_key(full) == full.lower()
    assert canonical_name(compact) == full


@pytest.mark.parametrize("spelling", ["Via", "VIA", "via", "vIa", "v", "V"])
def test_names_are_case_insensitive(spelling: str) -> None:
    assert header_key(spelling) == "via"


def test_canonical_spelling() -> None:
    assert canonical_name("call-id") == "Call-ID"
    assert canonical_name("CSEQ") == "CSeq"
    assert canonical_name("www-authenticate") == "WWW-Authenticate"
    assert canonical_name("x-custom-thing") == "X-Custom-Thing"
    assert header_key("z") == "z"  # not a compact form


# -- lists ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, parts", [
    ("SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2",
     ["SIP/2.0/UDP a.example.com;branch=z9hG4bK1", "SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2"]),
    ("<sip:p1.example.com;lr>,<sip:p2.example.com;lr>", ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]),
    ('"Doe, John" <sip:jd@example.com>, <sip:x@example.com>', ['"Doe, John" <sip:jd@example.com>',
                                                             "<sip:x@example.com>"]),
    ('"a \\" , b" <sip:a@b>', ['"a \\" , b" <sip:a@b>']),  # escaped quote inside the quoted string
    ("<sip:a@b?x=1,2>, <sip:c@d>", ["<sip:a@b?x=1,2>", "<sip:c@d>"]),  # comma inside <>
    ("INVITE, ACK ,CANCEL,  BYE", ["INVITE", "ACK", "CANCEL", "BYE"]),
    ("*", ["*"]),
    ("  single  ", ["single"]),
])
def test_split_list(value: str, parts: list[str]) -> None:
    assert split_list(value) == parts


# -- quoted strings and parameters ---------------------------------------------------------------------


def test_quoted_strings() -> None:
    assert parse_quoted('"J Rosenberg \\\\\\""  rest', 0) == ('J Rosenberg \\"', 18)
    assert parse_quoted('x"ab"', 1) == ("ab", 5)
    with pytest.raises(SIPParseError, match="unterminated"):
        parse_quoted('"no end', 0)
    for text in ("plain", 'with "quotes"', "back\\slash", ""):
        assert parse_quoted(quote(text), 0)[0] == text


def test_params() -> None:
    assert parse_params(";branch=z9hG4bK776;rport") == {"branch": "z9hG4bK776", "rport": None}
    assert parse_params(" ;  tag = 1918181833n ") == {"tag": "1918181833n"}
    assert parse_params(';x="a;b, c";y') == {"x": '"a;b, c"', "y": None}
    assert parse_params("") == {}
    for bad in (";", ";;", ";a;;b", "branch=x", ";a b=c", ";x=", ';x="a"junk', ";x=a b", ";n@me=1"):
        with pytest.raises(SIPParseError):
            parse_params(bad)


# -- name-addr and addr-spec ---------------------------------------------------------------------------


@pytest.mark.parametrize("value, display, uri, params, brackets", [
    ('"Alice" <sip:alice@atlanta.com>;tag=1928301774', "Alice", "sip:alice@atlanta.com",
     {"tag": "1928301774"}, True),
    ("Bob <sips:bob@biloxi.com> ;tag=a6c85cf", "Bob", "sips:bob@biloxi.com", {"tag": "a6c85cf"}, True),
    ("Anonymous Caller <sip:c8oqz84zk7z@privacy.org>", "Anonymous Caller", "sip:c8oqz84zk7z@privacy.org", {},
     True),
    ("<sip:+15551234567@trunk.example.net;user=phone>", None, "sip:+15551234567@trunk.example.net;user=phone",
     {}, True),
    ("sip:+15551234567@trunk.example.net;user=phone", None, "sip:+15551234567@trunk.example.net",
     {"user": "phone"}, False),  # addr-spec: the parameter is the header's
    ("<sip:alice@pc33.atlanta.com>;expires=3600;q=0.7", None, "sip:alice@pc33.atlanta.com",
     {"expires": "3600", "q": "0.7"}, True),
    ('"" <sip:anonymous@anonymous.invalid>', "", "sip:anonymous@anonymous.invalid", {}, True),
    ('"Caller \\"X\\"" <sip:x@y.example>', 'Caller "X"', "sip:x@y.example", {}, True),
    ("<tel:+1-201-555-0123>", None, "tel:+1-201-555-0123", {}, True),
    ("tel:+1-201-555-0123;tag=x", None, "tel:+1-201-555-0123", {"tag": "x"}, False),
    ('<sip:a@b>;x="quoted;value"', None, "sip:a@b", {"x": '"quoted;value"'}, True),
    ("<sip:%61lice@atlanta.com;%6C%72>", None, "sip:%61lice@atlanta.com;%6C%72", {}, True),
    ('sip:a@b;x="<"', None, "sip:a@b", {"x": '"<"'}, False),
])
def test_name_addr(value: str, display: str | None, uri: str, params: dict[str, str | None],
                   brackets: bool) -> None:
    addr = parse_name_addr(value, header="From")
    assert addr.display_name == display and str(addr.uri) == uri
    assert addr.params == params and addr.angle_brackets is brackets
    general = _parse_name_addr(value, "From")  # the fast path gives what the general one does
    assert (general.display_name, str(general.uri), general.params, general.angle_brackets) == (
        display, uri, params, brackets)


@pytest.mark.parametrize("value", [
    "sip:user@example.com?Route=%3Csip:sip.example.com%3E",  # addr-spec with '?'
    "sip:a@b, sip:c@d",  # addr-spec with ','
    '"Mr. J. User <sip:j.user@example.com>',  # unterminated quote
    "Bell, Alexander <sip:a.g.bell@example.com>",  # comma in an unquoted display name
    '"Watson, Thomas" < sip:t.watson@example.org >',  # white space inside <>
    "<sip:a@b",  # no '>'
    '"Alice" sip:alice@atlanta.com',  # quoted display name without <>
    '"a" "b" <sip:x@y>',
    "<sip:a@b>;tag", "<sip:a@b>;;tag=1", "<sip:a@b> junk", "", "<>", "<sip:>",
])
def test_malformed_name_addr(value: str) -> None:
    with pytest.raises(SIPParseError) as caught:
        parse_name_addr(value, header="To")
    assert caught.value.header == "To" and caught.value.status_hint == 400


def test_name_addr_serializes_with_brackets_and_quotes() -> None:
    addr = parse_name_addr("sip:alice@atlanta.com;tag=88sja8x")
    assert str(addr) == "<sip:alice@atlanta.com>;tag=88sja8x"
    assert str(parse_name_addr('"Alice Smith" <sip:a@b>')) == "Alice Smith <sip:a@b>"
    assert str(parse_name_addr('"Smith, Alice" <sip:a@b>')) == '"Smith, Alice" <sip:a@b>'
    assert parse_name_addr(str(parse_name_addr('"Q \\"x\\"" <sip:a@b>'))).display_name == 'Q "x"'


def test_tag_lookup_and_with_tag() -> None:
    addr = parse_name_addr("<sip:bob@biloxi.com>;TAG=314159")
    assert addr.tag == "314159" and addr.param("Tag") == "314159"
    tagged = addr.with_tag("a6c85cf")
    assert tagged.tag == "a6c85cf" and tagged.params == {"tag": "a6c85cf"}
    assert addr.params == {"TAG": "314159"}  # the original is untouched
    assert isinstance(NameAddr(parse_uri("sip:x@y")).uri, SipURI)


def test_absolute_uri_in_name_addr() -> None:
    addr = parse_name_addr("<urn:service:sos>")
    assert addr.uri == AbsoluteURI("urn", "service:sos")


# -- Via -----------------------------------------------------------------------------------------------


def test_via_with_branch_received_and_rport() -> None:
    via = parse_via("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;received=198.51.100.7;rport=61234")
    assert (via.protocol, via.transport, via.host, via.port) == ("SIP/2.0", "UDP", "192.0.2.1", 5060)
    assert via.branch == "z9hG4bK776asdhds" and via.rfc3261_branch
    assert via.received == "198.51.100.7" and via.rport == 61234 and via.has_rport
    assert via.sent_by() == "192.0.2.1:5060"
    assert str(via) == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;received=198.51.100.7;rport=61234"


def test_via_rport_request_form() -> None:
    via = parse_via("SIP/2.0/TCP client.example.com;branch=z9hG4bKx;rport")
    assert via.has_rport and via.rport is None and via.port is None
    assert via.params == {"branch": "z9hG4bKx", "rport": None}
    assert parse_via("SIP/2.0/UDP h;branch=z9hG4bKx;rport=²").rport is None  # not a number: no rport


@pytest.mark.parametrize("value, transport, host, port, branch", [
    ("SIP/2.0/UDP [2001:db8::9:1]:5060;branch=z9hG4bKas", "UDP", "[2001:db8::9:1]", 5060, "z9hG4bKas"),
    ("SIP/2.0/tls proxy.example.com;branch=z9hG4bK1", "TLS", "proxy.example.com", None, "z9hG4bK1"),
    ("SIP / 2.0 / TCP spindle.example.com ; branch = z9hG4bK9ikj8", "TCP", "spindle.example.com", None,
     "z9hG4bK9ikj8"),
    ("sip/2.0/ws df7jal23ls0d.invalid;branch=z9hG4bKasudf;BRANCH2=x", "WS", "df7jal23ls0d.invalid", None,
     "z9hG4bKasudf"),
    ("SIP/2.0/UDP host : 5070", "UDP", "host", 5070, None),
    ("SIP/2.0/UDP 192.0.2.1;Branch=z9hG4bKcase", "UDP", "192.0.2.1", None, "z9hG4bKcase"),
])
def test_via_forms(value: str, transport: str, host: str, port: int | None, branch: str | None) -> None:
    via = parse_via(value)
    assert (via.transport, via.host, via.port, via.branch) == (transport, host, port, branch)


@pytest.mark.parametrize("value, status", [
    ("SIP/2.0/UDP", 400), ("SIP/2.0 UDP host", 400), ("SIP/2.0/UDP host;branch", 400),
    ("SIP/2.0/UDP host;BRANCH", 400), ("SIP/2.0/UDP host:99999", 400), ("SIP/2.0/UDP host:0", 400),
    ("SIP/2.0/UDP ho_st", 400), ("SIP/2.0/UDP 192.0.2.15;;,;,,", 400), ("HTTP/1.1/TCP host", 400),
    ("SIP/3.0/UDP host;branch=z9hG4bKx", 505), ("SIP/2.0/U@P host", 400), ("SIP/2.0/UDP host junk", 400),
])
def test_malformed_via(value: str, status: int) -> None:
    with pytest.raises(SIPParseError) as caught:
        parse_via(value)
    assert caught.value.status_hint == status and caught.value.header == "Via"


def test_bare_magic_cookie_is_not_an_rfc3261_branch() -> None:
    assert not parse_via("SIP/2.0/UDP h;branch=z9hG4bK").rfc3261_branch
    assert not parse_via("SIP/2.0/UDP h;branch=390skdjuw").rfc3261_branch
    assert not parse_via("SIP/2.0/UDP h").rfc3261_branch
    assert Via("UDP", "h", params={"branch": "z9hG4bK1"}).rfc3261_branch


# -- CSeq and the numeric headers ----------------------------------------------------------------------


def test_cseq() -> None:
    assert parse_cseq("4711 INVITE") == CSeq(4711, "INVITE")
    assert parse_cseq("  0009   INVITE ") == CSeq(9, "INVITE")
    assert parse_cseq("2147483647 BYE").seq == 2**31 - 1
    assert parse_cseq("0" * 50 + "1 ACK") == CSeq(1, "ACK")
    assert str(CSeq(1, "REGISTER")) == "1 REGISTER"
    assert repr(CSeq(1, "ACK")) == "CSeq(seq=1, method='ACK')"
    assert type(parse_cseq("1 ACK")) is CSeq and repr(parse_cseq("1 ACK")) == "CSeq(seq=1, method='ACK')"
    assert CSeq(seq=1, method="ACK") == CSeq(1, "ACK") and hash(CSeq(1, "ACK")) == hash(CSeq(1, "ACK"))
    with pytest.raises(AttributeError):  # immutable: a request's CSeq is shared with its responses
        CSeq(1, "ACK").seq = 2  # type: ignore[misc]


@pytest.mark.parametrize("value", [
    "2147483648 INVITE", "36893488147419103232 REGISTER", "INVITE", "1", "-1 INVITE", "1 INV ITE",
    "1 INV@TE", "x INVITE", "1" * 5000 + " INVITE", "١ INVITE",
])
def test_malformed_cseq(value: str) -> None:
    with pytest.raises(SIPParseError) as caught:
        parse_cseq(value)
    assert caught.value.header == "CSeq"


def test_uint_bounds() -> None:
    assert parse_uint("70", "Max-Forwards", 255) == 70
    assert parse_uint("0068", "Max-Forwards", 255) == 68
    assert parse_uint("255", "Max-Forwards", 255) == 255
    assert parse_uint("0" * 40 + "7", "Max-Forwards", 255) == 7
    for bad in ("256", "300", "-1", "", "7x", "²", "1" * 5000):
        with pytest.raises(SIPParseError) as caught:
            parse_uint(bad, "Max-Forwards", 255)
        assert caught.value.header == "Max-Forwards"
