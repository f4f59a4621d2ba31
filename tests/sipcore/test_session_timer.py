"""sipcore.session_timer: Session-Expires, Min-SE, RSeq and RAck as RFC 4028 and RFC 3262 write them, the
refresh and give-up times of RFC 4028 §10, option tags."""

from __future__ import annotations

import pytest

from sipcore import (
    RAck,
    SessionExpires,
    SIPParseError,
    bye_delay,
    has_option_tag,
    is_reliable,
    parse_message,
    parse_min_se,
    parse_rack,
    parse_rseq,
    parse_session_expires,
    refresh_delay,
)
from sipcore.message import Request, Response

HEAD = ("INVITE sip:1@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
        "From: <sip:a@example.com>;tag=1\r\nTo: <sip:1@example.com>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
        "Max-Forwards: 70\r\n")


def request(*headers: str) -> Request:
    message = parse_message((HEAD + "".join(h + "\r\n" for h in headers) + "Content-Length: 0\r\n\r\n").encode())
    assert isinstance(message, Request)
    return message


def response(status: int, *headers: str) -> Response:
    text = HEAD.replace("INVITE sip:1@example.com SIP/2.0", f"SIP/2.0 {status} X").replace(
        "Max-Forwards: 70\r\n", "")
    message = parse_message((text + "".join(h + "\r\n" for h in headers) + "Content-Length: 0\r\n\r\n").encode())
    assert isinstance(message, Response)
    return message


def test_session_expires_with_and_without_a_refresher_and_in_compact_form() -> None:
    assert parse_session_expires(request("Session-Expires: 1800;refresher=uac")) == SessionExpires(1800, "uac")
    assert parse_session_expires(request("x: 90 ; Refresher=UAS")) == SessionExpires(90, "uas")
    assert parse_session_expires(request("Session-Expires: 600")) == SessionExpires(600, None)
    assert parse_session_expires(request()) is None
    assert str(SessionExpires(90, "uac")) == "90;refresher=uac" and str(SessionExpires(90)) == "90"
    assert SessionExpires(90, "uac").swapped() == SessionExpires(90, "uas")


@pytest.mark.parametrize("value, problem", [("abc", "not a number"), ("0", "not a session interval"),
                                            ("90;refresher=me", "neither uac nor uas")])
def test_a_bad_session_expires_says_what_is_wrong(value: str, problem: str) -> None:
    with pytest.raises(SIPParseError, match=problem):
        parse_session_expires(request(f"Session-Expires: {value}"))


def test_min_se_defaults_to_the_rfc_floor() -> None:
    assert parse_min_se(request("Min-SE: 120")) == 120
    assert parse_min_se(request()) == 90 and parse_min_se(request(), 0) == 0


def test_the_refresher_refreshes_at_half_and_the_other_side_gives_up_before_expiry() -> None:
    assert refresh_delay(1800) == 900
    assert bye_delay(1800) == 1768  # 32 s before
    assert bye_delay(90) == 60  # a third before
    assert bye_delay(4) == pytest.approx(4 - 4 / 3)


def test_reliable_provisionals_rseq_and_rack() -> None:
    reliable = response(183, "Require: 100rel", "RSeq: 7")
    assert is_reliable(reliable) and parse_rseq(reliable) == 7
    assert not is_reliable(response(183, "RSeq: 7")) and not is_reliable(response(200, "Require: 100rel", "RSeq: 1"))
    with pytest.raises(SIPParseError, match="RSeq 0"):
        parse_rseq(response(183, "RSeq: 0"))
    assert parse_rack(request("RAck: 7 1 invite")) == RAck(7, 1, "INVITE")
    assert str(RAck(7, 1, "INVITE")) == "7 1 INVITE"
    with pytest.raises(SIPParseError, match="rseq cseq method"):
        parse_rack(request("RAck: 7 1"))


def test_option_tags_in_supported_and_require() -> None:
    message = request("Supported: replaces, 100REL", "k: timer")
    assert has_option_tag(message, "100rel") and has_option_tag(message, "timer")
    assert not has_option_tag(message, "100rel", "Require")
