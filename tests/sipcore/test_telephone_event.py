"""RFC 4733 telephone-event payloads and the packets of one event (sipcore.telephone_event)."""

from __future__ import annotations

import pytest

from sipcore.telephone_event import (
    TelephoneEvent,
    TelephoneEventError,
    dtmf_digit,
    dtmf_event,
    event_plan,
)


def test_payload_layout_matches_rfc_4733_section_2_3() -> None:
    # event 5, E bit set, volume 10, duration 800: 05 | 1 0 001010 | 0x0320
    assert TelephoneEvent(5, end=True, volume=10, duration=800).to_bytes() == bytes([5, 0x8A, 0x03, 0x20])
    assert TelephoneEvent.parse(bytes([11, 0x0A, 0x00, 0xA0])) == TelephoneEvent(11, False, 10, 160)


def test_parse_refuses_a_short_payload_and_build_refuses_out_of_range_fields() -> None:
    with pytest.raises(TelephoneEventError, match="3 bytes"):
        TelephoneEvent.parse(b"\x01\x02\x03")
    with pytest.raises(ValueError, match="volume 64"):
        TelephoneEvent(1, volume=64).to_bytes()
    with pytest.raises(ValueError, match="duration 65536"):
        TelephoneEvent(1, duration=65536).to_bytes()


def test_dtmf_codes_follow_table_1() -> None:
    assert [dtmf_event(d) for d in "0123456789*#ABCD"] == list(range(16))
    assert dtmf_event("a") == 12 and dtmf_digit(11) == "#" and dtmf_digit(20) == "?20"
    with pytest.raises(ValueError, match="not a DTMF digit"):
        dtmf_event("x")


def test_event_plan_grows_the_duration_then_sends_the_end_three_times() -> None:
    assert event_plan(800, 160) == [(False, 160), (False, 320), (False, 480), (False, 640),
                                    (True, 800), (True, 800), (True, 800)]
    assert event_plan(100, 160) == [(True, 100)] * 3  # shorter than a packet: the end packets alone
    assert event_plan(500, 160)[-4:] == [(False, 480), (True, 500), (True, 500), (True, 500)]
    with pytest.raises(ValueError, match="16 bits"):
        event_plan(70000, 160)
