"""SIP and SIPS URIs: parts, %-escaping, and RFC 3261 §19.1.4 comparison."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipcore.errors import SIPParseError
from sipcore.uri import (
    _FAST_SIP_URI,
    AbsoluteURI,
    SipURI,
    _parse_sip_uri,
    escape,
    parse_sip_uri,
    parse_uri,
    sip_uri_from_match,
    split_hostport,
    unescape,
)


def sip(text: str) -> SipURI:
    uri = parse_uri(text)
    assert isinstance(uri, SipURI)
    return uri


# -- the parts of a URI (RFC 3261 §19.1.1, the §19.1.3 examples) ------------------------------------


@pytest.mark.parametrize("text, scheme, user, password, host, port, params, headers", [
    ("sip:alice@atlanta.com", "sip", "alice", None, "atlanta.com", None, {}, {}),
    ("sip:alice:secretword@atlanta.com;transport=tcp", "sip", "alice", "secretword", "atlanta.com", None,
     {"transport": "tcp"}, {}),
    ("sips:alice@atlanta.com?subject=project%20x&priority=urgent", "sips", "alice", None, "atlanta.com",
     None, {}, {"subject": "project%20x", "priority": "urgent"}),
    ("sip:+1-212-555-1212:1234@gateway.com;user=phone", "sip", "+1-212-555-1212", "1234", "gateway.com",
     None, {"user": "phone"}, {}),
    ("sips:1212@gateway.com", "sips", "1212", None, "gateway.com", None, {}, {}),
    ("sip:alice@192.0.2.4", "sip", "alice", None, "192.0.2.4", None, {}, {}),
    ("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com", "sip", None, None, "atlanta.com", None,
     {"method": "REGISTER"}, {"to": "alice%40atlanta.com"}),
    ("sip:alice;day=tuesday@atlanta.com", "sip", "alice;day=tuesday", None, "atlanta.com", None, {}, {}),
    ("sip:carol@chicago.com:5070;lr;maddr=239.255.255.1;ttl=15", "sip", "carol", None, "chicago.com", 5070,
     {"lr": None, "maddr": "239.255.255.1", "ttl": "15"}, {}),
    ("sip:[2001:db8::10]:5061;transport=tls", "sip", None, None, "[2001:db8::10]", 5061,
     {"transport": "tls"}, {}),
    ("sip:bob@[::1]", "sip", "bob", None, "[::1]", None, {}, {}),
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "SIP", "ALICE", None, "AtLanTa.CoM", None,
     {"Transport": "udp"}, {}),
    ("sip:user:@host.example.com:1", "sip", "user", "", "host.example.com", 1, {}, {}),
    ("sip:trunk.example.net:65535", "sip", None, None, "trunk.example.net", 65535, {}, {}),
])
def test_parts(text: str, scheme: str, user: str | None, password: str | None, host: str, port: int | None,
               params: dict[str, str | None], headers: dict[str, str]) -> None:
    uri = sip(text)
    assert (uri.scheme, uri.user, uri.password, uri.host, uri.port) == (scheme, user, password, host, port)
    assert uri.params == params and uri.headers == headers
    assert str(uri) == text  # the parts are kept as received, so the URI prints back exactly


@pytest.mark.parametrize("text", [
    "sip:", "sip:@host", "sip:user@", "sip:user@host:", "sip:user@host:0", "sip:user@host:65536",
    "sip:user@host:123456", "sip:user@host:port", "sip:us er@host", "sip:user@ho st", "sip:<user@host>",
    'sip:"user"@host', "sip:user@host;;lr", "sip:user@host;=x", "sip:user@host;maddr=",
    "sip:user@host?subject", "sip:user@host?=x", "sip:user@host?a=b=c", "sip:user@[::1", "sip:user@[::1]x",
    "sip:user@ho_st", "sip:us%zzer@host", "sip:user@host%2", "sip:a@b@c", "sip:user:pass:word@host",
    "sip:user@host;p=%GG", "sips:[zz::1]",
])
def test_malformed_sip_uris_are_refused(text: str) -> None:
    with pytest.raises(SIPParseError):
        parse_uri(text)


def test_other_schemes_are_absolute_uris() -> None:
    assert parse_uri("tel:+1-201-555-0123") == AbsoluteURI("tel", "+1-201-555-0123")
    assert parse_uri("urn:service:sos") == AbsoluteURI("urn", "service:sos")
    assert str(parse_uri("http://www.example.com")) == "http://www.example.com"
    for bad in ("nocolon", ":rest", "1tel:x", "tel:", "tel:a b", "tel:<x>"):
        with pytest.raises(SIPParseError):
            parse_uri(bad)


def test_parse_sip_uri_refuses_other_schemes_with_416() -> None:
    with pytest.raises(SIPParseError) as caught:
        parse_sip_uri("tel:+15551234567", header="Contact")
    assert caught.value.status_hint == 416 and caught.value.header == "Contact"


def test_error_names_the_header() -> None:
    with pytest.raises(SIPParseError) as caught:
        parse_uri("sip:user@host:99999", header="Request-URI")
    assert caught.value.header == "Request-URI" and "invalid port" in str(caught.value)


def test_split_hostport() -> None:
    assert split_hostport("example.com", what="x") == ("example.com", None)
    assert split_hostport("192.0.2.1:5060", what="x") == ("192.0.2.1", 5060)
    assert split_hostport("[2001:db8::1]:5060", what="x") == ("[2001:db8::1]", 5060)
    assert split_hostport("[2001:db8::1]", what="x") == ("[2001:db8::1]", None)


def test_transport_lr_and_escaped_parameter_names() -> None:
    uri = sip("sip:proxy.example.com;Transport=TCP;%6C%72")
    assert uri.transport == "tcp" and uri.lr
    assert uri.param("transport") == "TCP" and uri.has_param("LR")
    assert not sip("sip:proxy.example.com").lr and sip("sip:proxy.example.com").transport is None
    assert uri.hostport() == "proxy.example.com" and sip("sip:h:5080").hostport() == "h:5080"


def test_copy_is_independent() -> None:
    uri = sip("sip:alice@atlanta.com;transport=tcp")
    other = uri.copy(port=5070)
    other.params["lr"] = None
    assert str(uri) == "sip:alice@atlanta.com;transport=tcp"
    assert str(other) == "sip:alice@atlanta.com:5070;transport=tcp;lr"


# -- %-escaping ---------------------------------------------------------------------------------------


def test_unescape() -> None:
    assert unescape("%61lice") == "alice"
    assert unescape("I%20have%20spaces") == "I have spaces"
    assert unescape("null-%00-null") == "null-\x00-null"
    assert unescape("%D0%BD%D0%BE") == "но"  # UTF-8 octets become one character each
    assert unescape("%FF") == "\xff"  # not UTF-8: kept octet by octet
    assert unescape("value%25%34%31") == "value%41"  # one pass only
    assert unescape("no-escapes") == "no-escapes"


def test_escape() -> None:
    assert escape("I have spaces") == "I%20have%20spaces"
    assert escape("sips:user@example.com") == "sips%3Auser%40example.com"
    assert escape("a;b", safe=";") == "a;b"
    assert escape("но") == "%D0%BD%D0%BE"


@given(st.text(max_size=30))
def test_escape_then_unescape_is_identity(text: str) -> None:
    assert unescape(escape(text)) == text


# -- RFC 3261 §19.1.4 comparison, with the RFC's own examples -----------------------------------------

EQUIVALENT = [
    ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
    ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
    ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
    ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
     "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
    ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
     "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
]

NOT_EQUIVALENT = [
    ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),  # usernames
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),  # can resolve to different ports
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),  # ... different transports
    ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),  # ... port and transport
    ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),  # header component
    ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),  # even if that is what it resolves to
    # "Note that equality is not transitive":
    ("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"),
]


@pytest.mark.parametrize("a, b", EQUIVALENT)
def test_rfc3261_equivalent_uris(a: str, b: str) -> None:
    assert parse_uri(a) == parse_uri(b)
    assert parse_uri(b) == parse_uri(a)


@pytest.mark.parametrize("a, b", NOT_EQUIVALENT)
def test_rfc3261_not_equivalent_uris(a: str, b: str) -> None:
    assert parse_uri(a) != parse_uri(b)
    assert parse_uri(b) != parse_uri(a)


def test_equality_is_not_transitive() -> None:
    plain, on, off = (parse_uri(f"sip:carol@chicago.com{p}") for p in ("", ";security=on", ";security=off"))
    assert plain == on and plain == off and on != off


@pytest.mark.parametrize("a, b, equal", [
    ("sip:alice@atlanta.com", "sips:alice@atlanta.com", False),  # SIP and SIPS never match
    ("sip:alice:pw@atlanta.com", "sip:alice:PW@atlanta.com", False),  # password is case-sensitive
    ("sip:alice@atlanta.com;user=phone", "sip:alice@atlanta.com", False),  # user= in one only
    ("sip:alice@atlanta.com;ttl=1", "sip:alice@atlanta.com", False),
    ("sip:alice@atlanta.com;method=INVITE", "sip:alice@atlanta.com", False),
    ("sip:alice@atlanta.com;maddr=192.0.2.1", "sip:alice@atlanta.com", False),
    ("sip:alice@atlanta.com;lr", "sip:alice@atlanta.com", True),  # other parameters in one only: ignored
    ("sip:alice@atlanta.com;newparam=5", "sip:alice@atlanta.com;NEWPARAM=5", True),
    ("sip:alice@atlanta.com;newparam=5", "sip:alice@atlanta.com;newparam=6", False),  # in both: must match
    ("sip:alice@atlanta.com?Subject=hi", "sip:alice@atlanta.com?subject=hi", True),  # names case-insensitive
    ("sip:alice@atlanta.com?subject=hi", "sip:alice@atlanta.com?subject=HI", False),
    ("sip:%41lice@atlanta.com", "sip:Alice@atlanta.com", True),
    ("sip:alice@atlanta.com", "sip:Alice@atlanta.com", False),
    ("sip:alice@[2001:DB8::1]", "sip:alice@[2001:db8::1]", True),
])
def test_comparison_rules(a: str, b: str, equal: bool) -> None:
    assert (parse_uri(a) == parse_uri(b)) is equal


def test_sip_and_absolute_uris_do_not_compare_equal_and_are_unhashable() -> None:
    assert parse_uri("sip:alice@atlanta.com") != parse_uri("tel:+15551234567")
    assert parse_uri("tel:+1%2D555") == parse_uri("TEL:+1-555")
    with pytest.raises(TypeError):
        hash(parse_uri("sip:alice@atlanta.com"))


# -- the fast path agrees with the general parser ------------------------------------------------------

_USER = st.text("abcXYZ019-_.!~*'()&=+$,;?/%", min_size=1, max_size=8)
_HOST = st.sampled_from(["example.com", "192.0.2.1", "[2001:db8::1]", "a-b.c", "h"])
_PORT = st.one_of(st.none(), st.integers(0, 70000).map(str), st.sampled_from(["", "05060", "x"]))
_PARAM = st.text("abc019-_.!~*'()[]/:&+$%=;", max_size=10)
_HEADERS = st.one_of(st.none(), st.text("abc019-_[]/?:+$%=&", max_size=10))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["sip", "sips", "SIP"]), st.one_of(st.none(), _USER),
       st.one_of(st.none(), st.text("abc1-_.!~*'()&=+$,%", max_size=5)), _HOST, _PORT, _PARAM, _HEADERS)
def test_fast_path_agrees_with_the_general_parser(scheme: str, user: str | None, password: str | None,
                                                  host: str, port: str | None, params: str,
                                                  headers: str | None) -> None:
    text = f"{scheme}:"
    if user is not None:
        text += user + ("" if password is None else f":{password}") + "@"
    text += host + ("" if port is None else f":{port}") + (f";{params}" if params else "")
    text += "" if headers is None else f"?{headers}"
    try:
        general: SipURI | None = _parse_sip_uri(text, None)
    except SIPParseError:
        general = None
    m = _FAST_SIP_URI.match(text)
    fast = None if m is None else sip_uri_from_match(*m.groups(), text)  # type: ignore[misc]
    if fast is not None:
        assert general is not None, text
        assert (fast.scheme, fast.user, fast.password, fast.host, fast.port, fast.params, fast.headers) == (
            general.scheme, general.user, general.password, general.host, general.port, general.params,
            general.headers), text
    try:
        result = parse_uri(text)
    except SIPParseError:
        assert general is None, text
    else:
        assert general is not None and isinstance(result, SipURI) and str(result) == str(general), text
