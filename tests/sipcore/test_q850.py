"""Q.850 <-> SIP status mapping (RFC 3398 / facts.md table) and the Reason header (RFC 3326)."""

from __future__ import annotations

import pytest

from sipcore.errors import SIPParseError
from sipcore.q850 import (
    NORMAL_CALL_CLEARING,
    Reason,
    cause_for_status,
    cause_text,
    parse_reason,
    reason_header,
    status_for_cause,
)

# facts.md, left half: Q.850 -> SIP, one row at a time.
Q850_TO_SIP = [
    ((1, 2, 3), 404),
    ((17,), 486),
    ((18,), 408),
    ((19, 20, 31), 480),
    ((21,), 403),
    ((22,), 410),
    ((27,), 502),
    ((28,), 484),
    ((29,), 501),
    ((34, 38, 41, 42), 503),
    ((58,), 488),
    ((102,), 504),
    ((127,), 500),
]

# facts.md, right half: SIP -> Q.850, one row at a time.
SIP_TO_Q850 = [
    ((400, 481, 500, 503), 41),
    ((401, 402, 403, 407, 603), 21),
    ((404, 485, 604), 1),
    ((408, 504), 102),
    ((410,), 22),
    ((480,), 18),
    ((484,), 28),
    ((486, 600), 17),
    ((502,), 38),
    ((405,), 63),
    ((406, 415, 501), 79),
    ((487,), None),
]


@pytest.mark.parametrize(("causes", "status"), Q850_TO_SIP)
def test_status_for_cause_follows_the_table(causes: tuple[int, ...], status: int) -> None:
    assert [status_for_cause(c) for c in causes] == [status] * len(causes)


@pytest.mark.parametrize(("statuses", "cause"), SIP_TO_Q850)
def test_cause_for_status_follows_the_table(statuses: tuple[int, ...], cause: int | None) -> None:
    assert [cause_for_status(s) for s in statuses] == [cause] * len(statuses)


def test_normal_clearing_is_a_bye_not_a_response() -> None:
    assert NORMAL_CALL_CLEARING == 16
    assert status_for_cause(16) == 500  # only if a final response is needed anyway: the default


def test_other_causes_get_500() -> None:
    assert [status_for_cause(c) for c in (0, 7, 99, 126, 200)] == [500] * 5


def test_rfc3398_rows_beyond_the_facts_table() -> None:
    assert [cause_for_status(s) for s in (482, 483, 420, 505)] == [25, 25, 127, 127]
    assert cause_for_status(488) == 31 and cause_for_status(606) == 31  # "by Warning header": default 31
    assert [status_for_cause(c) for c in (23, 26, 55, 65, 79, 88)] == [410, 404, 403, 488, 501, 503]


def test_unlisted_failure_classes_fall_back_and_non_failures_map_to_nothing() -> None:
    assert cause_for_status(499) == 21
    assert cause_for_status(580) == 38
    assert cause_for_status(699) == 21
    assert [cause_for_status(s) for s in (100, 180, 200, 302, 700)] == [None] * 5


@pytest.mark.parametrize("status", [404, 410, 484, 486])
def test_relay_reason_keeps_the_status(status: int) -> None:
    # "Relay reason is on": the destination's cause comes back to the UA as the same status.
    cause = cause_for_status(status)
    assert cause is not None and status_for_cause(cause) == status


@pytest.mark.parametrize(("cause", "text"), [
    (1, "Unallocated (unassigned) number"),
    (3, "No route to destination"),
    (16, "Normal call clearing"),
    (17, "User busy"),
    (18, "No user responding"),
    (19, "No answer from user (user alerted)"),
    (21, "Call rejected"),
    (31, "Normal, unspecified"),
    (34, "No circuit/channel available"),
    (102, "Recovery on timer expiry"),
    (127, "Interworking, unspecified"),
])
def test_cause_text(cause: int, text: str) -> None:
    assert cause_text(cause) == text


def test_unassigned_cause_text() -> None:
    assert cause_text(12) == "Unknown cause 12"


def test_reason_header() -> None:
    assert reason_header(1) == 'Q.850;cause=1;text="Unallocated (unassigned) number"'
    assert reason_header(16, 'say "bye"') == 'Q.850;cause=16;text="say \\"bye\\""'
    with pytest.raises(ValueError):
        reason_header(128)


def test_parse_reason_single() -> None:
    assert parse_reason('Q.850;cause=17;text="User busy"') == [Reason("Q.850", 17, "User busy")]


def test_parse_reason_round_trips_reason_header() -> None:
    [reason] = parse_reason(reason_header(19))
    assert (reason.protocol, reason.cause, reason.text) == ("Q.850", 19, "No answer from user (user alerted)")
    assert str(reason) == reason_header(19)


def test_parse_reason_multiple_values_with_commas_in_quotes() -> None:
    value = 'SIP ; cause=200 ; text="Call completed elsewhere, thanks", Q.850;Cause=16;text="a \\"quoted\\", b";location=LN'
    sip, q850 = parse_reason(value)
    assert sip == Reason("SIP", 200, "Call completed elsewhere, thanks")
    assert q850.protocol == "Q.850" and q850.cause == 16
    assert q850.text == 'a "quoted", b'
    assert q850.params == {"location": "LN"}
    assert str(q850) == 'Q.850;cause=16;text="a \\"quoted\\", b";location=LN'


def test_parse_reason_without_text_and_with_flag_parameter() -> None:
    [reason] = parse_reason("Q.850;cause=41;x-flag")
    assert reason == Reason("Q.850", 41, None, {"x-flag": None})
    assert str(reason) == "Q.850;cause=41;x-flag"


@pytest.mark.parametrize(("value", "message"), [
    ("Q.850;cause=abc", "cause 'abc' is not a number"),
    ('Q.850;cause=1;text="open', "unterminated quoted string"),
    (";cause=1", "no protocol"),
    ("Q.850;cause=1, ", "no protocol"),
    ("Q.850;;cause=1", "empty parameter"),
])
def test_parse_reason_errors(value: str, message: str) -> None:
    with pytest.raises(SIPParseError, match=message) as info:
        parse_reason(value)
    assert info.value.header == "Reason"
