"""Hold, resume and DTMF between the simulated UA and destination (simulator.midcall), and their settings."""

from __future__ import annotations

import pytest

from simulator.destination import Destination
from simulator.settings import (
    Answer,
    DestinationSettings,
    HangupAfter,
    Hold,
    Resume,
    Send100,
    SendDigits,
    SettingsError,
    UaSettings,
    check_script,
)
from simulator.ua import UserAgent
from sipcore.telephone_event import TelephoneEvent

from .helpers import DEST_IP, UA_IP, run


async def _call(script: tuple, **options: object):  # type: ignore[no-untyped-def]
    dest = await Destination.start(DestinationSettings(listen=(DEST_IP, 0), script=script))
    ua = await UserAgent.start(UaSettings(listen=(UA_IP, 0), target=dest.local_addr))
    try:
        result = await ua.call("+15551234567", **options)
        assert await dest.wait_for_calls(1, 3.0)
    finally:
        await ua.stop()
        await dest.stop()
    return result, dest.calls[0], dest, ua


def test_the_ua_holds_then_resumes_and_the_far_end_stops_sending_meanwhile() -> None:
    result, far, dest, _ = run(_call((Send100(), Answer()), hold_ms=200,
                                     midcall=(Hold(200, "sendonly"), Resume(400))))
    assert result.reinvites == [("sendonly", 200), ("sendrecv", 200)]
    assert far.reinvites_answered == [200, 200]
    paused = dest.record.first("rtp-paused")
    resumed = dest.record.first("rtp-resumed")
    assert paused is not None and "ours a=recvonly, theirs a=sendonly" in paused.summary
    assert resumed is not None and resumed.t_monotonic - paused.t_monotonic > 0.3
    held = [p for p in result.rtp_packets if paused.t_monotonic + 0.05 < p.arrival < resumed.t_monotonic]
    assert held == [] and any(p.arrival > resumed.t_monotonic + 0.05 for p in result.rtp_packets)
    # the holder keeps sending (a=sendonly): music on hold reaches the far end while held
    assert any(paused.t_monotonic + 0.05 < p.arrival < resumed.t_monotonic for p in far.rtp_packets)


def test_the_destination_holds_with_a_inactive_and_both_sides_go_quiet() -> None:
    script = (Send100(), Answer(), Hold(200, "inactive"), Resume(400), HangupAfter(200))
    result, far, dest, ua = run(_call(script, expect_remote_bye=True))
    assert far.reinvites == [("inactive", 200), ("sendrecv", 200)] and result.reinvites_answered == [200, 200]
    assert ua.record.first("rtp-paused") is not None and dest.record.first("rtp-paused") is not None


def test_digits_go_out_with_the_far_ends_telephone_event_number() -> None:
    result, far, _, _ = run(_call((Send100(), Answer()), hold_ms=100, midcall=(SendDigits(100, "7*"),)))
    events = [TelephoneEvent.parse(p.payload) for p in far.rtp_packets if p.payload_type == 101]
    assert [(e.event, e.end) for e in events] == [(7, False)] * 4 + [(7, True)] * 3 + [(10, False)] * 4 + \
        [(10, True)] * 3
    assert len(result.dtmf_sent) == 14


def test_mid_call_steps_are_checked() -> None:
    with pytest.raises(SettingsError, match="Hold.direction: 'recvonly'"):
        Hold(100, "recvonly")
    with pytest.raises(SettingsError, match="not a string of DTMF digits"):
        SendDigits(0, "12x")
    with pytest.raises(SettingsError, match="Hold needs an Answer before it"):
        check_script((Send100(), Hold(10), Answer()))
