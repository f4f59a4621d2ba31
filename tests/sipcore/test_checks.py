"""check_request: the RFC 3261 §8.2.1-§8.2.3 refusals a UAS sends before processing a request."""

from __future__ import annotations

import pytest

from sipcore.checks import check_request
from sipcore.message import Request
from sipcore.parser import parse_message

SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def request(method: str = "INVITE", uri: str = "sip:+15551234567@trunk.example.net", extra: str = "",
            body: bytes = SDP, content_type: str | None = "application/sdp") -> Request:
    head = (f"{method} {uri} SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1928301774\r\n"
            "To: <sip:+15551234567@trunk.example.net>\r\nCall-ID: a84b4c76e66710\r\n"
            f"CSeq: 1 {method}\r\n{extra}")
    if body and content_type:
        head += f"Content-Type: {content_type}\r\n"
    message = parse_message(head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert isinstance(message, Request)
    return message


def test_an_ordinary_invite_passes() -> None:
    assert check_request(request()) is None
    assert check_request(request("OPTIONS", body=b"")) is None


def test_405_lists_the_allowed_methods() -> None:
    refusal = check_request(request("SUBSCRIBE", body=b""), allowed_methods=("INVITE", "ACK", "BYE"),
                            to_tag="t1")
    assert refusal is not None and refusal.status == 405 and refusal.headers.get("Allow") == "INVITE, ACK, BYE"
    assert refusal.to.tag == "t1" and refusal.cseq.method == "SUBSCRIBE"
    assert check_request(request("BYE", body=b""), allowed_methods=("INVITE", "BYE")) is None


def test_ack_is_never_refused() -> None:
    ack = request("ACK", uri="tel:+15551234567", extra="Require: foo\r\n", content_type="text/plain")
    assert check_request(ack, allowed_methods=("INVITE",)) is None


@pytest.mark.parametrize("uri, status", [
    ("sip:x@trunk.example.net", None), ("SIPS:x@trunk.example.net", None), ("tel:+15551234567", 416),
    ("urn:service:sos", 416), ("http://example.com/", 416),
])
def test_416_for_an_unsupported_request_uri_scheme(uri: str, status: int | None) -> None:
    refusal = check_request(request(uri=uri))
    assert (refusal.status if refusal else None) == status
    assert check_request(request(uri=uri), supported_schemes=("sip", "sips", "tel", "urn", "http")) is None


def test_420_lists_each_unsupported_option_tag_once() -> None:
    req = request(extra="Require: 100rel, precondition\r\nRequire: precondition, timer\r\nSupported: path\r\n")
    refusal = check_request(req, supported_extensions=("100rel",))
    assert refusal is not None and refusal.status == 420
    assert refusal.headers.values("Unsupported") == ["precondition", "timer"]
    assert check_request(req, supported_extensions=("100rel", "precondition", "timer")) is None
    assert check_request(req, supported_extensions=("100REL", "precondition", "timer")) is not None  # exact


def test_require_is_ignored_in_cancel_and_proxy_require_by_a_uas() -> None:
    assert check_request(request("CANCEL", body=b"", extra="Require: foo\r\n")) is None
    proxied = request(extra="Proxy-Require: sec-agree\r\n")
    assert check_request(proxied) is None
    refusal = check_request(proxied, role="proxy")
    assert refusal is not None and refusal.headers.get("Unsupported") == "sec-agree"


def test_415_for_an_unknown_body_type_encoding_or_language() -> None:
    refusal = check_request(request(content_type="application/isup"))
    assert refusal is not None and refusal.status == 415 and refusal.headers.get("Accept") == "application/sdp"
    wider = check_request(request(content_type="application/isup"),
                          accepted_content_types=("application/sdp", "multipart/mixed"))
    assert wider is not None and wider.headers.get("Accept") == "application/sdp, multipart/mixed"
    assert check_request(request(content_type="Application/SDP; charset=x")) is None  # case, parameters
    assert check_request(request(content_type="application/isup", body=b"")) is None  # no body: nothing to read
    no_type = check_request(request(content_type=None))
    assert no_type is not None and no_type.status == 415
    gzip = check_request(request(extra="Content-Encoding: gzip\r\n"))
    assert gzip is not None and gzip.status == 415 and gzip.headers.get("Accept-Encoding") == "identity"
    assert check_request(request(extra="Content-Encoding: gzip\r\n"), accepted_encodings=("gzip",)) is None
    assert check_request(request(extra="Content-Language: fr\r\n")) is None
    french = check_request(request(extra="Content-Language: fr\r\n"), accepted_languages=("en",))
    assert french is not None and french.headers.get("Accept-Language") == "en"


@pytest.mark.parametrize("accept, acceptable", [
    ("application/sdp", True), ("application/*", True), ("*/*", True), ("Application/SDP;level=1", True),
    ("text/plain, application/sdp", True), ("application/sdp;q=0", False), ("application/sdp;q=0.0", False),
    ("application/sdp;q=0.1", True), ("text/nobodyKnowsThis", False), ("", False), ("text/*", False),
])
def test_406_when_accept_rules_out_sdp(accept: str, acceptable: bool) -> None:
    refusal = check_request(request(extra=f"Accept: {accept}\r\n"))
    assert (refusal is None) is acceptable
    if refusal is not None:
        assert refusal.status == 406 and (refusal.headers.get("Warning") or "").startswith("399 ")
    # OPTIONS can always be answered, without a body.
    assert check_request(request("OPTIONS", body=b"", extra=f"Accept: {accept}\r\n")) is None


def test_checks_run_in_rfc_order() -> None:
    """416 before 420 before 415 before 406, as §8.2 orders them."""
    req = request(uri="tel:+1", extra="Require: x\r\nAccept: text/x\r\n", content_type="text/x")
    statuses = []
    kwargs: dict[str, object] = {}
    for allow in ({"supported_schemes": ("tel",)}, {"supported_extensions": ("x",)},
                  {"accepted_content_types": ("text/x",)}):
        refusal = check_request(req, **kwargs)  # type: ignore[arg-type]
        assert refusal is not None
        statuses.append(refusal.status)
        kwargs.update(allow)
    last = check_request(req, **kwargs)  # type: ignore[arg-type]
    assert last is not None
    assert statuses + [last.status] == [416, 420, 415, 406]
    assert check_request(req, response_content_types=("text/x",), **kwargs) is None  # type: ignore[arg-type]


def test_refusals_are_well_formed_responses() -> None:
    refusal = check_request(request(uri="tel:+1"), to_tag="abc")
    assert refusal is not None
    again = parse_message(refusal.to_bytes())
    assert again.to.tag == "abc" and again.call_id == "a84b4c76e66710"
    assert again.headers.get("Via") == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds"


def test_a_to_tag_factory_is_called_only_for_a_refusal() -> None:
    made: list[str] = []

    def make_tag() -> str:
        made.append(f"t{len(made) + 1}")
        return made[-1]

    assert check_request(request(), to_tag=make_tag) is None
    assert made == []
    refusal = check_request(request(uri="tel:+15551234567"), to_tag=make_tag)
    assert refusal is not None and refusal.status == 416 and refusal.to.tag == "t1" and made == ["t1"]
    refusal = check_request(request(content_type="text/plain"), to_tag=make_tag)
    assert refusal is not None and refusal.status == 415 and refusal.to.tag == "t2"


@pytest.mark.parametrize("schemes", [("sip",), ("SIP",), ["Sip", "tel"], (s for s in ["sIp"])])
def test_supported_schemes_compare_case_insensitively_whatever_the_iterable(schemes: object) -> None:
    assert check_request(request(uri="SIP:+15551234567@trunk.example.net"),
                         supported_schemes=schemes) is None  # type: ignore[arg-type]
