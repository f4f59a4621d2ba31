"""All 49 RFC 4475 torture messages: what each must parse to, or how each must be refused.

Valid, transaction, application and backcompat messages parse and the test checks the values the RFC
calls out; invalid ones are refused with the status the RFC implies (400, 505) or dropped (responses).
The application-class answers (416, 420, 415, 406) come from sipcore.checks.check_request.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sipcore.checks import check_request
from sipcore.digest import parse_credentials
from sipcore.errors import SIPParseError
from sipcore.headers import NameAddr
from sipcore.message import Request, Response
from sipcore.parser import StreamFramer, parse_message
from sipcore.uri import AbsoluteURI, SipURI, parse_uri, unescape

from .torture import load, manifest

MESSAGES = {m.file: m for m in manifest()}


def parse(file: str) -> Request | Response:
    return parse_message(load(file))


def request(file: str) -> Request:
    message = parse(file)
    assert isinstance(message, Request)
    return message


def sip_uri(addr: NameAddr) -> SipURI:
    assert isinstance(addr.uri, SipURI)
    return addr.uri


def body_after_headers(file: str) -> bytes:
    data = load(file)
    return data[data.index(b"\r\n\r\n") + 4:]


# -- 3.1.1 valid messages ----------------------------------------------------------------------------


def check_wsinv(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.method == "INVITE"
    assert m.uri == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert isinstance(m.uri_parsed, SipURI) and m.uri_parsed.params == {"unknownparam": None}
    assert sip_uri(m.to) == parse_uri("sip:vivekg@chair-dnrc.example.com")
    assert m.to.tag == "1918181833n" and not m.to.angle_brackets
    assert m.from_.display_name == 'J Rosenberg \\"'
    assert str(sip_uri(m.from_)) == "sip:jdrosen@example.com" and m.from_.tag == "98asjd8"
    assert m.max_forwards == 68
    assert m.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert m.cseq.seq == 9 and m.cseq.method == "INVITE"
    assert [(v.transport, v.host, v.port, v.branch) for v in m.via] == [
        ("UDP", "192.0.2.2", None, "390skdjuw"),
        ("TCP", "spindle.example.com", None, "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", None, "z9hG4bK30239"),
    ]
    assert not m.via[0].rfc3261_branch and m.via[1].rfc3261_branch
    assert m.headers.get("Subject") == ""
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert [str(r.uri) for r in m.route] == ["sip:services.example.com;lr;unknownwith=value;unknown-no-value"]
    assert sip_uri(m.route[0]).lr
    (contact,) = m.contacts
    assert contact.display_name == 'Quoted string ""' and str(contact.uri) == "sip:jdrosen@example.com"
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert contact.param("q") == "0.33"
    assert m.content_type == "application/sdp" and len(m.body) == 150 and m.body.startswith(b"v=0\r\n")


def check_intmeth(m: Request | Response) -> None:
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert isinstance(m, Request) and m.method == method and m.cseq.method == method
    assert m.cseq.seq == 139122385
    uri = m.uri_parsed
    assert isinstance(uri, SipURI) and uri.host == "example.com"
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert [name for name, _ in m.headers] == [
        "Via", "To", "From", "Call-ID", "CSeq", "Max-Forwards", "extensionHeader-!.%*+_`'~", "Content-Length"]
    assert m.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert m.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert sip_uri(m.to).user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert m.from_.params == {"fromParam''~+*_!.-%": '"работающий"', "tag": "_token~1'+`*%!-."}
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.max_forwards == 255
    assert m.top_via.transport == "TCP" and m.top_via.branch == "z9hG4bK-.!%66*_+`'~"


def check_esc01(m: Request | Response) -> None:
    assert isinstance(m, Request)
    uri = m.uri_parsed
    assert isinstance(uri, SipURI) and uri.user is not None
    assert unescape(uri.user) == "sips:user@example.com" and uri.host == "example.net"
    assert m.to.uri == parse_uri("sip:user@example.com")  # %75se%72 is user
    assert unescape(sip_uri(m.from_).user or "") == "I have spaces"
    contact = sip_uri(m.contacts[0])
    assert contact == parse_uri("sip:caller@host5.example.net;lr;name=value%2541")
    assert contact != parse_uri("sip:caller@host5.example.net;lr;name=valueA")  # unescaped once only
    assert contact.lr
    assert m.call_id == "esc01.239409asdfakjkn23onasd0-3234"  # compact i:
    assert m.content_type == "application/sdp"  # compact C:, upper case
    assert len(m.body) == 150


def check_escnull(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.method == "REGISTER"
    assert unescape(sip_uri(m.to).user or "") == "null-\x00-null"
    assert m.to.uri == m.from_.uri
    assert [unescape(sip_uri(c).user or "") for c in m.contacts] == ["\x00", "\x00\x00"]
    assert m.body == b""  # L:0


def check_esc02(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.method == "RE%47IST%45R" and m.method != "REGISTER"
    assert m.cseq.method == "RE%47IST%45R"
    assert m.to.display_name == "%Z%45" and m.from_.display_name == "%Z%45"
    assert m.top_via.transport == "TCP" and m.top_via.branch == "z9hG4bK209%fzsnel234"
    # C%6Fntact is an unknown header, not a third Contact.
    assert [sip_uri(c).host for c in m.contacts] == ["host1.example.com", "host3.example.com"]
    assert m.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def check_lwsdisp(m: Request | Response) -> None:
    assert m.from_.display_name == "caller" and str(m.from_.uri) == "sip:caller@example.com"
    assert m.from_.tag == "323"


def check_longreq(m: Request | Response) -> None:
    assert isinstance(m, Request)
    assert m.to.display_name is not None and m.to.display_name.startswith("I have a user name of extreme")
    to = sip_uri(m.to)
    assert to.port == 6000 and len(to.params) == 3
    assert to.params["unknownparam1"] == "verylong" + "long" * 19 + "value"
    assert m.from_.tag is not None and len(m.from_.tag) > 150 and len(m.from_.params) == 3
    assert sip_uri(m.from_).user == "amazinglylongcallername" * 5
    assert m.call_id.startswith("longreq.onereally") and m.call_id.endswith("longcallid")
    assert len(m.via) == 34
    assert [v.host for v in m.via[:3]] == ["sip33.example.com", "sip32.example.com", "sip31.example.com"]
    assert all(v.transport == "TCP" for v in m.via)
    last = m.via[-1]
    assert last.host == "host.example.com" and last.received == "192.0.2.5"
    assert last.branch is not None and last.branch.startswith("verylong") and len(last.branch) > 100
    long_name = "Unknown-" + "LongLongLongLong" * 5 + "-Name"
    assert (m.headers.get(long_name) or "").startswith("unknown-longlong")
    assert sip_uri(m.contacts[0]).user == "amazinglylongcallername" * 5
    assert m.max_forwards == 70 and len(m.body) == 150


def check_dblreq(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.method == "REGISTER"
    assert m.body == b""  # Content-Length: 0 bounds the body; the INVITE after it is ignored
    assert m.call_id == "dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    assert m.cseq.method == "REGISTER"
    assert b"INVITE sip:joe@example.com" in load("dblreq.dat")


def check_semiuri(m: Request | Response) -> None:
    assert isinstance(m, Request)
    uri = m.uri_parsed
    assert isinstance(uri, SipURI)
    assert uri.user == "user;par=u%40example.net" and uri.host == "example.com" and uri.params == {}
    assert m.headers.values("Accept") == [
        "application/sdp", "application/pkcs7-mime", "multipart/mixed", "multipart/signed",
        "message/sip", "message/sipfrag"]


def check_transports(m: Request | Response) -> None:
    assert [v.transport for v in m.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert [v.host for v in m.via] == [f"t{i}.example.com" for i in range(1, 6)]
    assert m.call_id == "transports.kijh4akdnaqjkwendsasfdj"


def check_mpart01(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.method == "MESSAGE"
    assert m.content_type == "multipart/mixed"
    assert m.headers.get("Content-Type") == "multipart/mixed;boundary=7a9cbec02ceef655"
    assert len(m.body) == 553 and m.body == body_after_headers("mpart01.dat")
    assert b"\x00" in m.body and m.body.endswith(b"--7a9cbec02ceef655--\r\n")
    assert m.to_bytes() == load("mpart01.dat")  # binary body and every header kept


def check_unreason(m: Request | Response) -> None:
    assert isinstance(m, Response) and m.status == 200
    assert m.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert len(m.body) == 154 and m.to.tag == "2229"


def check_noreason(m: Request | Response) -> None:
    assert isinstance(m, Response) and m.status == 100 and m.reason == ""
    assert m.cseq.method == "INVITE"


# -- 3.1.2.12: an invalid Date the element may ignore ---------------------------------------------


def check_baddate(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.method == "INVITE"
    assert m.headers.get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"  # kept raw, never parsed
    assert len(m.body) == 150


# -- 3.2 transaction, 3.3 application, 3.4 backcompat ---------------------------------------------


def check_badbranch(m: Request | Response) -> None:
    assert m.top_via.branch == "z9hG4bK"
    assert not m.top_via.rfc3261_branch  # the bare cookie carries no transaction id: RFC 2543 matching
    assert isinstance(m, Request) and check_request(m) is None


def check_unkscm(m: Request | Response) -> None:
    assert isinstance(m, Request)
    assert m.uri_parsed == AbsoluteURI("nobodyKnowsThisScheme", "totallyopaquecontent")
    refusal = check_request(m)
    assert refusal is not None and refusal.status == 416 and refusal.reason == "Unsupported URI Scheme"


def check_novelsc(m: Request | Response) -> None:
    assert isinstance(m, Request)
    assert isinstance(m.uri_parsed, AbsoluteURI) and m.uri_parsed.scheme == "soap.beep"
    refusal = check_request(m)
    assert refusal is not None and refusal.status == 416
    assert check_request(m, supported_schemes=("sip", "sips", "soap.beep")) is None


def check_unksm2(m: Request | Response) -> None:
    assert isinstance(m, Request)
    assert m.to.uri == AbsoluteURI("isbn", "2983792873") and not m.to.angle_brackets
    assert m.from_.uri == AbsoluteURI("http", "//www.example.com") and m.from_.tag == "3234233"
    assert m.contacts[0].uri == AbsoluteURI("name", "John_Smith")
    assert check_request(m) is None  # To/From with unknown schemes are legal


def check_bext01(m: Request | Response) -> None:
    assert isinstance(m, Request)
    refusal = check_request(m, supported_extensions=("100rel", "timer"))
    assert refusal is not None and refusal.status == 420 and refusal.reason == "Bad Extension"
    assert refusal.headers.values("Unsupported") == ["nothingSupportsThis", "nothingSupportsThisEither"]
    as_proxy = check_request(m, role="proxy")
    assert as_proxy is not None and as_proxy.status == 420
    assert as_proxy.headers.values("Unsupported") == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    # The refusal is a proper response to this request.
    assert refusal.headers.get("Via") == m.headers.get("Via") and refusal.call_id == m.call_id
    assert refusal.cseq == m.cseq


def check_invut(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.content_type == "application/unknownformat"
    assert m.body == body_after_headers("invut.dat") and len(m.body) == 40
    refusal = check_request(m)
    assert refusal is not None and refusal.status == 415 and refusal.reason == "Unsupported Media Type"
    assert refusal.headers.get("Accept") == "application/sdp"


def check_regaut01(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.method == "REGISTER"
    authorization = m.headers.get("Authorization") or ""
    assert authorization.split(None, 1) == ["NoOneKnowsThisScheme", "opaque-data=here"]
    with pytest.raises(SIPParseError, match="Digest"):  # the registrar cannot use it: it challenges (401)
        parse_credentials(authorization)
    assert check_request(m) is None


def check_bcast(m: Request | Response) -> None:
    assert isinstance(m, Response) and m.status == 200
    assert [v.host for v in m.via] == ["192.0.2.198", "255.255.255.255"]
    assert len(m.body) == 154


def check_zeromf(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.method == "OPTIONS"
    assert m.max_forwards == 0
    assert check_request(m) is None  # a UAS may answer normally; a proxy would answer 483


def check_cparam01(m: Request | Response) -> None:
    (contact,) = m.contacts  # an addr-spec: ;unknownparam belongs to the header, not the URI
    assert not contact.angle_brackets and contact.params == {"unknownparam": None}
    assert sip_uri(contact).params == {} and sip_uri(contact).user == "+19725552222"


def check_cparam02(m: Request | Response) -> None:
    (contact,) = m.contacts  # in <>, ;unknownparam belongs to the URI
    assert contact.params == {} and sip_uri(contact).params == {"unknownparam": None}


def check_regescrt(m: Request | Response) -> None:
    (contact,) = m.contacts  # compact m:
    uri = sip_uri(contact)
    assert uri.headers == {"Route": "%3Csip:sip.example.com%3E"}
    assert unescape(uri.headers["Route"]) == "<sip:sip.example.com>"
    assert str(uri) == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"


def check_sdp01(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.headers.get("Accept") == "text/nobodyKnowsThis"
    refusal = check_request(m, to_tag="a6c85cf")
    assert refusal is not None and refusal.status == 406 and refusal.reason == "Not Acceptable"
    assert (refusal.headers.get("Warning") or "").startswith("399 trunkcheck ")
    assert refusal.to.tag == "a6c85cf"
    assert check_request(m, response_content_types=("text/nobodyKnowsThis",)) is None


def check_inv2543(m: Request | Response) -> None:
    assert isinstance(m, Request) and m.method == "INVITE"
    assert m.top_via.branch is None and not m.top_via.rfc3261_branch  # RFC 2543: no branch at all
    assert m.max_forwards is None and "Content-Length" not in m.headers
    assert m.body == body_after_headers("inv2543.dat")  # no Content-Length: the rest of the datagram
    assert m.to.params == {"user": "phone"}  # addr-spec: the parameter belongs to the header
    assert sip_uri(m.from_).params == {"user": "phone"} and m.from_.tag is None
    assert sip_uri(m.record_route[0]).param("maddr") == "ss1.example.com"
    assert check_request(m) is None


PARSES: dict[str, Callable[[Request | Response], None]] = {
    "wsinv.dat": check_wsinv, "intmeth.dat": check_intmeth, "esc01.dat": check_esc01,
    "escnull.dat": check_escnull, "esc02.dat": check_esc02, "lwsdisp.dat": check_lwsdisp,
    "longreq.dat": check_longreq, "dblreq.dat": check_dblreq, "semiuri.dat": check_semiuri,
    "transports.dat": check_transports, "mpart01.dat": check_mpart01, "unreason.dat": check_unreason,
    "noreason.dat": check_noreason, "baddate.dat": check_baddate, "badbranch.dat": check_badbranch,
    "unkscm.dat": check_unkscm, "novelsc.dat": check_novelsc, "unksm2.dat": check_unksm2,
    "bext01.dat": check_bext01, "invut.dat": check_invut, "regaut01.dat": check_regaut01,
    "bcast.dat": check_bcast, "zeromf.dat": check_zeromf, "cparam01.dat": check_cparam01,
    "cparam02.dat": check_cparam02, "regescrt.dat": check_regescrt, "sdp01.dat": check_sdp01,
    "inv2543.dat": check_inv2543,
}

# file -> (status hint, dropped (a response), header named, fragment of the message)
REFUSED: dict[str, tuple[int, bool, str | None, str]] = {
    "badinv01.dat": (400, False, "Via", "malformed parameter"),
    "clerr.dat": (400, False, "Content-Length", "9999 exceeds"),
    "ncl.dat": (400, False, "Content-Length", "-999"),
    "scalar02.dat": (400, False, "CSeq", "36893488147419103232"),
    "scalarlg.dat": (400, True, "CSeq", "9292394834772304023312"),
    "quotbal.dat": (400, False, "To", "unterminated quoted string"),
    "ltgtruri.dat": (400, False, "Request-URI", "enclosed in <>"),
    "lwsruri.dat": (400, False, None, "request line"),
    "lwsstart.dat": (400, False, None, "request line"),
    "trws.dat": (400, False, None, "request line"),
    "escruri.dat": (400, False, "Request-URI", "URI headers"),
    "regbadct.dat": (400, False, "Contact", "must be enclosed in <>"),
    "badaspec.dat": (400, False, "To", "white space inside <>"),
    "baddn.dat": (400, False, "From", "display name"),
    "badvers.dat": (505, False, None, "SIP/7.0"),
    "mismatch01.dat": (400, False, "CSeq", "does not match the request method OPTIONS"),
    "mismatch02.dat": (400, False, "CSeq", "does not match the request method NEWMETHOD"),
    "bigcode.dat": (400, True, None, "4294967301"),
    "insuf.dat": (400, False, "To", "To is missing"),
    "multi01.dat": (400, False, "To", "To appears 2 times"),
    "mcl01.dat": (400, False, "Content-Length", "different Content-Length values"),
}


def test_the_table_covers_all_49_messages() -> None:
    assert len(MESSAGES) == 49
    assert set(PARSES) | set(REFUSED) == set(MESSAGES)
    assert not set(PARSES) & set(REFUSED)
    for file, message in MESSAGES.items():
        assert message.data, file
        if message.kind == "valid":
            assert file in PARSES, file
        if message.kind == "invalid" and file != "baddate.dat":
            assert file in REFUSED, file


@pytest.mark.parametrize("file", sorted(PARSES))
def test_parses(file: str) -> None:
    message = parse(file)
    PARSES[file](message)


@pytest.mark.parametrize("file", sorted(REFUSED))
def test_refused(file: str) -> None:
    status, drop, header, fragment = REFUSED[file]
    with pytest.raises(SIPParseError) as caught:
        parse(file)
    error = caught.value
    assert (error.status_hint, error.drop, error.header) == (status, drop, header)
    assert fragment in str(error)


@pytest.mark.parametrize("file", sorted(set(PARSES) - {"inv2543.dat"}))  # no Content-Length: UDP only
def test_parses_over_a_stream_too(file: str) -> None:
    """Over TCP the same message frames and parses to the same values."""
    data = load(file)
    if file == "dblreq.dat":  # the trailing octets make a second message on a stream
        data = data[:data.index(b"INVITE")]
    framer = StreamFramer()
    framed = framer.feed(data)
    assert len(framed) == 1
    PARSES[file](framed[0])


@pytest.mark.parametrize("file", sorted(PARSES))
def test_serialized_message_parses_to_the_same_values(file: str) -> None:
    """to_bytes keeps every header (folded ones unfolded) and the body, so the values survive."""
    message = parse(file)
    again = parse_message(message.to_bytes())
    assert again.body == message.body
    added = [] if "Content-Length" in message.headers else [("Content-Length", str(len(message.body)))]
    assert list(again.headers) == list(message.headers) + added
    if not added:
        PARSES[file](again)


def test_scalar02_each_overlarge_field_is_refused_in_turn() -> None:
    """RFC 4475 §3.1.2.4: the CSeq error alone earns the 400; with it fixed, Max-Forwards 300 and then
    the 10**100 Expires are refused too (the RFC lets an element ignore them; we refuse)."""
    data = load("scalar02.dat").replace(b"CSeq: 36893488147419103232 REGISTER", b"CSeq: 1 REGISTER")
    with pytest.raises(SIPParseError) as caught:
        parse_message(data)
    assert (caught.value.status_hint, caught.value.header) == (400, "Max-Forwards")
    data = data.replace(b"Max-Forwards: 300", b"Max-Forwards: 70")
    with pytest.raises(SIPParseError) as caught:
        parse_message(data)
    assert (caught.value.status_hint, caught.value.header) == (400, "Expires")
    data = data.replace(b"Expires: 1" + b"0" * 100, b"Expires: 3600")
    message = parse_message(data)  # the Contact's expires parameter is left to the registrar
    assert message.expires == 3600 and message.contacts[0].param("expires") == "280297596632815"
