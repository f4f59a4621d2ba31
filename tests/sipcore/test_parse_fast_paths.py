"""The parser's fast paths give what the general paths give: the header split, the expressions written
with opt(), CSeq without its expression, header names checked by token_key, Max-Forwards by a set, and
SipURI, NameAddr and Via made without calling their classes."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipcore import headers, params, parser, uri, via
from sipcore.errors import SIPParseError
from sipcore.headers import NameAddr, header_key, parse_uint, token_key
from sipcore.message import Request, Response
from sipcore.params import TOKEN
from sipcore.parser import _parse_head_fast, _parse_head_slow, parse_message
from sipcore.uri import SipURI
from sipcore.via import CSeq, Via, parse_cseq

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the expressions: (?:x|) matches what (?:x)? matches -----------------------------------------------

HOT_EXPRESSIONS = {
    "sip name-addr": headers._FAST_SIP_NAME_ADDR, "sip addr-spec": headers._FAST_SIP_ADDR_SPEC,
    "name-addr": headers._FAST_NAME_ADDR, "addr-spec": headers._FAST_ADDR_SPEC, "Via": via._FAST_VIA,
    "request line": parser._SIP_REQUEST_LINE, "SIP URI": uri._FAST_SIP_URI, "params": params._FAST_PARAMS_RE,
}
SEEDS = [
    '"Alice" <sip:alice@trunk.voipbin.net>;tag=8a7b6c5d', "<sip:+15551234567@trunk.voipbin.net>",
    "<sip:alice@127.0.0.11:5062;transport=udp>", "Bob <sips:bob:pw@[2001:db8::1]:5061;lr?Subject=x&h=y>;q=0.5",
    "sip:alice@host;tag=x;expires=60", "<tel:+1555>;tag=a", "SIP/2.0/UDP 127.0.0.11:5062;branch=z9hG4bK.4f3c;rport",
    "SIP/2.0/TCP host;received=1.2.3.4;branch=z9hG4bK1", "INVITE sip:+15551234567@trunk.voipbin.net SIP/2.0",
    "OPTIONS sip:host:5060;transport=tcp?x=1 SIP/2.0", "sip:u@h:65536", ";lr;transport=udp;x=\"q\"",
]
GRAMMAR = 'sSiIpP:@;=.?&<>"\\ \t/,-_%+[]0123456789aAbBzZtTgGrR~*\'()!'


@st.composite
def grammar_text(draw: st.DrawFn) -> str:
    """A seed value with a few characters of the grammar inserted, deleted or replaced, or any such text."""
    if draw(st.booleans()):
        return draw(st.text(GRAMMAR, max_size=50))
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.text(GRAMMAR, max_size=3))
        text = text[:at] + piece + text[at + draw(st.integers(0, 2)):]
    return text


def textbook(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The same expression with each optional part written (?:x)?, the usual way."""
    spelled = pattern.pattern.replace("|)", ")?")
    assert spelled != pattern.pattern
    return re.compile(spelled, pattern.flags)


@SETTINGS
@given(grammar_text())
def test_opt_matches_what_the_question_mark_matches(text: str) -> None:
    for name, pattern in HOT_EXPRESSIONS.items():
        fast, usual = pattern.match(text), textbook(pattern).match(text)
        assert (fast is None) == (usual is None), (name, text)
        if fast is not None and usual is not None:
            assert (fast.span(), fast.groups()) == (usual.span(), usual.groups()), (name, text)


def test_opt_is_an_empty_alternative() -> None:
    assert params.opt("x") == "(?:x|)"
    assert re.fullmatch("a" + params.opt("b(c)") + "d", "ad").groups() == (None,)  # type: ignore[union-attr]


def _view(parse: Callable[..., object], *args: object) -> str:
    """What a parser makes of a value (repr and text of the result), or that it refuses it."""
    try:
        result = parse(*args)
    except SIPParseError:
        return "refused"
    return repr(result) + " " + str(result)


@SETTINGS
@given(grammar_text())
def test_via_and_name_addr_fast_paths_parse_as_the_general_parsers_do(text: str) -> None:
    assert _view(via.parse_via, text) == _view(via._parse_via, text, "Via"), text
    assert _view(headers.parse_name_addr, text) == _view(headers._parse_name_addr, text, None), text


@pytest.mark.parametrize("value, params", [
    ("SIP/2.0/UDP h;branch=z9hG4bK1;rport", {"branch": "z9hG4bK1", "rport": None}),
    ('SIP/2.0/UDP h;branch=z9hG4bK[1]:x;rport', {"branch": "z9hG4bK[1]:x", "rport": None}),
])
def test_a_branch_that_is_not_a_token_is_read_all_the_same(value: str, params: dict[str, str | None]) -> None:
    assert via.parse_via(value).params == params == via._parse_via(value, "Via").params


# -- CSeq: "<digits> <known method>" without the expression ------------------------------------------


def _cseq_outcome(value: str) -> CSeq | str:
    try:
        return parse_cseq(value)
    except SIPParseError as exc:
        return f"{exc.status_hint} {exc}"


@SETTINGS
@given(st.one_of(
    st.builds(lambda n, sp, m: f"{n}{sp}{m}", st.text("0123456789٣", max_size=12), st.sampled_from([" ", "  ", "\t", ""]),
              st.sampled_from(sorted(via._METHODS) + ["invite", "FOO", "IN VITE", "", "INVITE "])),
    st.text("0123456789 INVITEACK\t", max_size=20),
))
def test_cseq_fast_path_gives_what_the_expressions_give(value: str) -> None:
    fast = _cseq_outcome(value)
    known, via._METHODS = via._METHODS, frozenset()  # every value takes the expressions' path
    try:
        assert fast == _cseq_outcome(value), value
    finally:
        via._METHODS = known


@pytest.mark.parametrize("value, expected", [
    ("2 INVITE", (2, "INVITE")), ("0000000001 ACK", (1, "ACK")), ("2147483647 BYE", (2147483647, "BYE")),
])
def test_cseq_fast_path_reads_the_usual_forms(value: str, expected: tuple[int, str]) -> None:
    assert parse_cseq(value) == expected and type(parse_cseq(value)) is CSeq


@pytest.mark.parametrize("value, expected", [
    ("2  INVITE", "CSeq(seq=2, method='INVITE')"), ("2 FOO", "CSeq(seq=2, method='FOO')"),
    ("2147483648 INVITE", "400 CSeq number 2147483648 is not below 2**31 (header CSeq)"),
    ("\u0663 INVITE", "400 malformed CSeq '\u0663 INVITE' (header CSeq)"),
])
def test_cseq_values_outside_the_fast_form_get_the_general_answer(value: str, expected: str) -> None:
    outcome = _cseq_outcome(value)
    assert (repr(outcome) if isinstance(outcome, CSeq) else outcome) == expected


# -- header names: token_key ----------------------------------------------------------------------------


@SETTINGS
@given(st.one_of(st.text(max_size=12), st.sampled_from(["Via", "v", "CALL-ID", "X-Foo", "Via ", " Via", ""])))
def test_token_key_is_header_key_for_tokens_and_refuses_the_rest(name: str) -> None:
    if TOKEN.match(name):
        assert token_key(name) == header_key(name)
    else:
        with pytest.raises(ValueError, match="is not a token"):
            token_key(name)


# -- the header split: _parse_head_fast gives what _parse_head_slow gives --------------------------------

NAMES = st.sampled_from(["Via", "v", "To", "t", "From", "Call-ID", "CSeq", "Contact", "X-A", "Subject", "Max-Forwards",
                         "Via ", "Via\t", " Via", "Bad Name", "", "Na\rme", "Ümlaut", "a:b"])
SEPARATORS = st.sampled_from([": ", ":", ":\t", " : ", ":  ", ":\t "])
VALUES = st.text("ab :;<>\"\t \r\n\\,=@\x85é", max_size=12)
ENDINGS = st.sampled_from(["\r\n"] * 6 + ["\n", "\r", " \r\n", "\r\n ", "\r\n\t"])
START_LINES = st.sampled_from(["INVITE sip:a@b SIP/2.0", "SIP/2.0 200 OK", "OPTIONS tel:+1 SIP/2.0",
                               "INVITE sip:a@b SIP/2.0 ", "BAD", "INVITE  sip:a@b SIP/2.0"])


@st.composite
def header_sections(draw: st.DrawFn) -> bytes:
    lines = [draw(START_LINES) + "\r\n"]
    for _ in range(draw(st.integers(0, 6))):
        lines.append(draw(NAMES) + draw(SEPARATORS) + draw(VALUES) + draw(ENDINGS))
    return "".join(lines).encode("utf-8", "surrogateescape")


def _outcome(parse: Callable[[bytes, int], Request | Response | None], data: bytes) -> object:
    """What a header-section parser makes of ``data``: the start line, the fields and some lookups, or
    the error; None when the fast path declines."""
    try:
        message = parse(data, data.find(b"\r\n\r\n"))
    except SIPParseError as exc:
        return ("error", str(exc), exc.status_hint)
    if message is None:
        return None
    start = (message.method, message.uri) if isinstance(message, Request) else (message.status, message.reason)
    h = message.headers
    lookups = [(name, h.get(name), h.get_all(name), h.count(name)) for name in ("via", "to", "call-id", "x-a")]
    return type(message), start, list(h), lookups


@SETTINGS
@given(header_sections())
def test_fast_header_split_accepts_only_what_the_general_parser_reads_the_same(head: bytes) -> None:
    data = head + b"\r\n"
    if data.find(b"\r\n\r\n") < 0:
        return
    fast = _outcome(_parse_head_fast, data)
    if fast is not None:
        assert fast == _outcome(_parse_head_slow, data), head


@pytest.mark.parametrize("line", [
    "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "v:SIP/2.0/UDP h", "Subject:a: b", "X-A:", "Subject: a\tb",
    "Call-ID:\tx", "To:  <sip:b@h>", "X-A: \u00e9t\u00e9",
])
def test_fast_header_split_reads_the_usual_lines(line: str) -> None:
    data = f"INVITE sip:a@b SIP/2.0\r\n{line}\r\nCSeq: 1 INVITE\r\n\r\n".encode()
    fast = _outcome(_parse_head_fast, data)
    assert fast is not None and fast == _outcome(_parse_head_slow, data)


@pytest.mark.parametrize("line, read", [
    ("X-A : x", ("X-A", "x")), ("X-A: trailing \t", ("X-A", "trailing")), ("X-A: folded\r\n  line", ("X-A", "folded line")),
    ("X-A: bare\nX-C: LF", ("X-C", "LF")), ("X-A: bare\rCR", "bare CR"), ("Na me: x", "invalid header name"),
])
def test_fast_header_split_leaves_the_odd_lines_to_the_general_parser(line: str, read: tuple[str, str] | str) -> None:
    data = f"INVITE sip:a@b SIP/2.0\r\nX-B: 1\r\n{line}\r\nCSeq: 1 INVITE\r\n\r\n".encode()
    assert _parse_head_fast(data, data.find(b"\r\n\r\n")) is None
    if isinstance(read, tuple):
        assert read in list(parse_message(data, validate_headers=False).headers)
    else:
        with pytest.raises(SIPParseError, match=read):
            parse_message(data, validate_headers=False)


@pytest.mark.parametrize("line", [
    "SIP/2.0 200 OK", "SIP/2.0 180 ", "SIP/2.0 407 Proxy Authentication Required", "SIP/2.0 199 a  b\tc",
    "SIP/2.0 200", "SIP/2.0 099 Low", "SIP/2.0 700 High", "SIP/2.0 2000 OK", "SIP/2.0  200 OK", "SIP/2.0 20x OK",
    "SIP/2.0 ", "SIP/2.0 200 \u00e9t\u00e9", "sip/2.0 200 OK", "SIP/2.1 200 OK",
])
def test_a_status_line_reads_the_same_on_the_fast_path(line: str) -> None:
    data = f"{line}\r\nCSeq: 1 INVITE\r\n\r\n".encode()
    fast = _outcome(_parse_head_fast, data)
    assert fast is not None and fast == _outcome(_parse_head_slow, data)


# -- Max-Forwards: one set lookup ---------------------------------------------------------------------

MAX_FORWARDS = [str(n) for n in range(1000)] + [f"{n:02d}" for n in range(100)] + [f"{n:03d}" for n in range(1000)] + [
    "0070", "00255", "0256", "", " 70", "70 ", "-1", "+1", "7 0", "١٢", "²", "0x1f", "4294967296"]


def test_max_forwards_is_accepted_exactly_when_parse_uint_accepts_it() -> None:
    template = (b"OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:h>\r\n"
                b"From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: %s\r\n\r\n")
    for value in MAX_FORWARDS:
        try:
            parse_uint(value, "Max-Forwards", 255)
            expected = True
        except SIPParseError:
            expected = False
        try:
            parse_message(template.replace(b"%s", value.encode()))
            accepted = True
        except SIPParseError as exc:
            accepted = False
            assert exc.header == "Max-Forwards", value
        assert accepted == expected, value


# -- objects made without calling their classes --------------------------------------------------------


def _fields(value: object) -> tuple[type, list[object]]:
    return type(value), [getattr(value, f.name) for f in dataclasses.fields(value)]  # type: ignore[arg-type]


@pytest.mark.parametrize("args", [
    ("h", None, None, None, "sip", {}, {}), ("[::1]", "u", "p", 5061, "SIPS", {"lr": None}, {"Subject": "x"}),
])
def test_new_sip_uri_is_the_class_call(args: tuple) -> None:  # type: ignore[type-arg]
    made, called = uri.new_sip_uri(*args), SipURI(*args)
    assert _fields(made) == _fields(called) and made == called and str(made) == str(called)


@pytest.mark.parametrize("args", [(SipURI("h"), None, {}, True), (SipURI("h", "u"), "Alice", {"tag": "1"}, False)])
def test_new_name_addr_is_the_class_call(args: tuple) -> None:  # type: ignore[type-arg]
    made, called = headers.new_name_addr(*args), NameAddr(*args)
    assert _fields(made) == _fields(called) and made == called and repr(made) == repr(called)


@pytest.mark.parametrize("args", [("UDP", "h", None, {}, "SIP/2.0"), ("TCP", "[::1]", 5060, {"branch": "z9hG4bK1",
                                                                                                "rport": None}, "SIP/2.0")])
def test_new_via_is_the_class_call(args: tuple) -> None:  # type: ignore[type-arg]
    made, called = via.new_via(*args), Via(*args)
    assert _fields(made) == _fields(called) and made == called and str(made) == str(called)


# -- validate: with several faults, the same one is named first -----------------------------------------

OPTIONS = (b"OPTIONS sip:h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nTo: <sip:h>\r\n"
           b"From: <sip:a@h>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n")


@pytest.mark.parametrize("changes, named", [
    ([(b"To: <sip:h>\r\n", b""), (b"CSeq: 1 OPTIONS\r\n", b"CSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS\r\n")], "To is missing"),
    ([(b"Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n", b""), (b"Call-ID: c\r\n", b"")], "Call-ID is missing"),
    ([(b"From: <sip:a@h>;tag=1\r\n", b"From: <sip:a@h>;tag=1\r\nf: <sip:b@h>\r\n"),
      (b"CSeq: 1 OPTIONS\r\n", b"CSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS\r\n")], "From appears 2 times"),
    ([(b"Max-Forwards: 70\r\n", b"Max-Forwards: 70\r\nMax-Forwards: 1\r\n"), (b"Call-ID: c", b"Call-ID: c d")],
     "Max-Forwards appears more than once"),
    ([(b"Call-ID: c", b"Call-ID: c d"), (b"To: <sip:h>", b"To: <sip:h")], "malformed Call-ID"),
    ([(b"To: <sip:h>", b"To: <sip:h"), (b"Max-Forwards: 70", b"Max-Forwards: 700")], "unterminated '<'"),
    ([(b"Max-Forwards: 70", b"Max-Forwards: 700"), (b"CSeq: 1 OPTIONS", b"CSeq: 1 BYE")], "exceeds 255"),
])
def test_validate_names_the_first_fault_in_its_order(changes: list[tuple[bytes, bytes]], named: str) -> None:
    data = OPTIONS
    for old, new in changes:
        data = data.replace(old, new)
    with pytest.raises(SIPParseError, match=re.escape(named)):
        parse_message(data)
