"""The simulated UA calls the simulated destination directly, through every destination behaviour."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from simulator.destination import Destination
from simulator.settings import (
    Answer,
    DestinationSettings,
    HangupAfter,
    NeverAnswer,
    Reject,
    Send100,
    Send180,
    Send183,
    Step,
    UaSettings,
    Wait,
)
from simulator.ua import CallResult, UserAgent
from simulator.uas import IncomingCall
from sipcore.aio.clock import SteppedClock
from sipcore.q850 import reason_header
from sipcore.rtp import dominant_frequency
from sipcore.timers import TimerConfig

from ..addresses import loopback
from .helpers import DEST_IP, UA_IP, run, until

RFC = TimerConfig()  # Timer B = 64*T1 = 32 s
Drive = Callable[[SteppedClock, Destination, UserAgent, "asyncio.Task[CallResult]"], Awaitable[None]]


async def _call(script: Sequence[Step], *, honour_cancel: bool = True, transport: str = "UDP",
                drive: Drive | None = None, wait_dest: bool = True,
                **call_options: Any) -> tuple[CallResult, IncomingCall | None, Destination, UserAgent]:
    """The UA calls a destination playing ``script``. With ``drive``, both run on one SteppedClock and
    ``drive(clock, dest, ua, call)`` moves it while the call runs (timers fire only when it does)."""
    clock = SteppedClock() if drive is not None else None
    on = {"clock": clock} if clock is not None else {}
    dest = await Destination.start(DestinationSettings(listen=(DEST_IP, 0), transport=transport, script=script,
                                                       honour_cancel=honour_cancel), **on)
    ua = await UserAgent.start(UaSettings(listen=(UA_IP, 0), transport=transport, target=dest.local_addr), **on)
    try:
        call = asyncio.ensure_future(ua.call("+15551234567", **call_options))
        if drive is not None and clock is not None:
            await drive(clock, dest, ua, call)
        result = await asyncio.wait_for(call, 5.0)
        if wait_dest:
            assert await dest.wait_for_calls(1, 3.0)
    finally:
        await ua.stop()
        await dest.stop()
    return result, (dest.calls[0] if dest.calls else None), dest, ua


def _seen(agent: Destination | UserAgent, kind: str, summary: str) -> Callable[[], bool]:
    return lambda: agent.record.first(kind, summary=summary) is not None


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
def test_answered_call_has_ack_bye_and_rtp_both_ways(transport: str) -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(lambda: ua.record.first("rtp-first-packet") and dest.record.first("rtp-first-packet"),
                    "RTP both ways")
        await clock.advance(0.25)
        assert not call.done()  # held for hold_ms
        await clock.advance(0.25)  # hold_ms: the UA hangs up

    result, far, _, ua = run(_call([Send100(), Send180(), Answer()], transport=transport, hold_ms=500, drive=drive))
    assert (result.status, result.provisional, result.answered) == (200, [100, 180], True)
    assert (result.ended_by, result.bye_status, result.error) == ("local-bye", 200, None)
    assert far is not None and far.acked and far.ended_by == "remote-bye"
    assert far.responses_sent == [100, 180, 200]
    assert result.rtp_received >= 1 and far.rtp_received >= 1
    assert {p.payload_type for p in result.rtp_packets} == {0}
    assert abs(dominant_frequency(result.rtp_packets[-1].payload) - 440) < 20  # the destination's tone
    assert abs(dominant_frequency(far.rtp_packets[-1].payload) - 1000) < 20  # the UA's tone
    assert [e.summary.split()[0] for e in ua.record.select("sip-sent")] == ["INVITE", "ACK", "BYE"]
    bye = ua.record.first("sip-sent", summary="BYE")
    ack = ua.record.first("sip-sent", summary="ACK")
    assert bye is not None and ack is not None and bye.t_monotonic - ack.t_monotonic == 0.5  # hold_ms


def test_early_media_rtp_arrives_before_the_200() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(lambda: ua.record.first("rtp-first-packet") and dest.record.first("rtp-first-packet"),
                    "early media both ways")
        assert ua.record.first("sip-received", summary="200") is None
        await clock.advance(0.5)  # Answer(after_ms=500)
        await until(_seen(ua, "sip-sent", "ACK"), "the ACK")
        await clock.advance(0.25)  # hold_ms

    result, far, _, ua = run(_call([Send100(), Send183(early_media=True), Answer(after_ms=500)], hold_ms=250,
                                   drive=drive))
    assert result.status == 200 and 183 in result.provisional
    first_rtp = ua.record.first("rtp-first-packet", call_id=result.call_id)
    ok = ua.record.first("sip-received", call_id=result.call_id, status=200, method="INVITE")
    assert first_rtp is not None and ok is not None
    assert first_rtp.t_monotonic < ok.t_monotonic  # RTP flowed while the call was still ringing
    assert result.early_media_packets >= 1
    assert far is not None and far.early_media_at is not None and far.answered_at is not None
    assert far.answered_at - far.early_media_at == 0.5  # Answer(after_ms=500) after the 183 started the RTP
    # the UA sent RTP to the 183's address too, so early media flowed both ways
    assert far.first_rtp_at is not None and far.first_rtp_at < far.answered_at


def test_wait_delays_the_first_response() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(lambda: dest.calls, "the INVITE")
        await clock.advance(0.25)
        assert ua.record.first("sip-received", summary="100") is None  # still waiting
        await clock.advance(0.25)  # Wait(500)

    result, _, _, ua = run(_call([Wait(500), Send100(), Answer()], hold_ms=0, drive=drive))
    invite = ua.record.first("sip-sent", summary="INVITE")
    trying = ua.record.first("sip-received", summary="100")
    assert result.status == 200 and invite is not None and trying is not None
    assert trying.t_monotonic - invite.t_monotonic == 0.5


@pytest.mark.parametrize(("status", "reason", "header"), [
    (404, "No Such Number", reason_header(1)),
    (486, None, None),
    (603, "Go Away", 'SIP;cause=603;text="Declined"'),
])
def test_reject_relays_status_reason_phrase_and_reason_header(status: int, reason: str | None,
                                                              header: str | None) -> None:
    result, far, _, ua = run(_call([Send100(), Reject(status, reason, header)]))
    assert result.status == status and not result.answered
    assert result.reason == (reason or {486: "Busy Here"}[status])
    assert result.reason_header == header
    invite = ua.record.first("sip-sent", summary="INVITE")
    ack = ua.record.first("sip-sent", summary="ACK")
    assert invite is not None and ack is not None  # the client transaction ACKs the non-2xx
    assert "CSeq: 1 ACK" in ack.detail["raw"]
    branch = invite.detail["raw"].split("branch=")[1].split(";")[0].split("\r")[0]
    assert f"branch={branch}" in ack.detail["raw"]
    assert far is not None and far.final_status == status and far.ended_by == "rejected"


def test_never_answer_without_provisional_times_out_on_timer_b() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(lambda: dest.calls, "the INVITE")  # never answered
        await clock.advance(RFC.timer_b - 0.5)
        assert not call.done()
        await clock.advance(0.5)  # Timer B

    result, _, _, _ = run(_call([NeverAnswer()], wait_dest=False, drive=drive))
    assert result.timed_out and result.status is None
    assert result.error is not None and "Timer B" in result.error
    assert result.ended_at is not None and result.ended_at - result.invite_sent_at == RFC.timer_b


def test_never_answer_after_ringing_is_cancelled_at_the_ring_timeout() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(_seen(ua, "sip-received", "180"), "the 180")
        await clock.advance(29.5)
        assert ua.record.first("sip-sent", summary="CANCEL") is None
        await clock.advance(0.5)  # the ring timeout

    result, far, _, ua = run(_call([Send180(), NeverAnswer()], ring_timeout_ms=30_000, drive=drive))
    assert result.timed_out and "ring timeout" in (result.error or "")
    assert (result.cancelled, result.cancel_status, result.status) == (True, 200, 487)
    assert far is not None and far.cancelled and far.final_status == 487 and far.ended_by == "cancel"
    invite, cancel = ua.record.first("sip-sent", summary="INVITE"), ua.record.first("sip-sent", summary="CANCEL")
    assert invite is not None and cancel is not None and cancel.t_monotonic - invite.t_monotonic == 30.0


def test_answer_then_hang_up_sends_bye_to_the_ua() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(lambda: dest.calls and dest.calls[0].acked, "the ACK")
        await clock.advance(0.25)  # HangupAfter(250)

    result, far, _, ua = run(_call([Send180(), Answer(), HangupAfter(250)], expect_remote_bye=True, drive=drive))
    assert result.status == 200 and result.ended_by == "remote-bye" and result.error is None
    assert ua.record.first("sip-received", summary="BYE") is not None
    assert far is not None and far.ended_by == "local-bye" and far.bye_status == 200


def test_expected_remote_bye_that_never_comes_is_a_bounded_timeout() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(_seen(ua, "sip-sent", "ACK"), "the ACK")
        await clock.advance(9.5)
        assert ua.record.first("sip-sent", summary="BYE") is None
        await clock.advance(0.5)  # remote_bye_timeout_ms

    result, _, _, _ = run(_call([Answer()], expect_remote_bye=True, drive=drive))
    assert result.timed_out and "hang up within 10 s" in (result.error or "")
    assert result.ended_by == "local-bye" and result.bye_status == 200


def test_cancel_on_ringing_is_honoured_with_487() -> None:
    result, far, _, _ = run(_call([Send100(), Send180(), NeverAnswer()], cancel_on_ringing=True))
    assert (result.cancelled, result.cancel_status, result.status) == (True, 200, 487)
    assert not result.timed_out and not result.answered
    assert far is not None and far.cancelled and far.responses_sent == [100, 180, 487]


def test_cancel_after_ms_is_honoured_with_487() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(_seen(ua, "sip-received", "180"), "the 180")
        await clock.advance(0.125)
        assert ua.record.first("sip-sent", summary="CANCEL") is None
        await clock.advance(0.125)  # cancel_after_ms=250

    result, far, _, ua = run(_call([Send100(), Send180(), NeverAnswer()], cancel_after_ms=250, drive=drive))
    assert (result.cancelled, result.cancel_status, result.status) == (True, 200, 487)
    assert not result.timed_out and not result.answered
    assert far is not None and far.cancelled and far.responses_sent == [100, 180, 487]
    invite, cancel = ua.record.first("sip-sent", summary="INVITE"), ua.record.first("sip-sent", summary="CANCEL")
    assert invite is not None and cancel is not None and cancel.t_monotonic - invite.t_monotonic == 0.25


def test_cancel_ignored_gives_a_bounded_timeout() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(lambda: ua.record.first("sip-received", summary="200", method="CANCEL"), "the CANCEL's 200")
        await clock.advance(64 * RFC.t1 - 0.5)
        assert not call.done()
        await clock.advance(0.5)  # 64*T1 after the CANCEL (RFC 3261 §9.1)

    result, far, _, _ = run(_call([Send180(), NeverAnswer()], honour_cancel=False, cancel_on_ringing=True,
                                  wait_dest=False, drive=drive))
    assert (result.cancelled, result.cancel_status, result.status) == (True, 200, None)
    assert result.timed_out and "no final response within 32 s of the CANCEL" in (result.error or "")
    assert far is not None and far.cancelled and far.final_status is None


def test_answer_after_an_ignored_cancel_is_acked_and_hung_up() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(lambda: dest.calls and dest.calls[0].cancelled, "the CANCEL")
        await clock.advance(0.25)  # Answer(after_ms=250)

    result, far, _, _ = run(_call([Send180(), Answer(after_ms=250)], honour_cancel=False, cancel_on_ringing=True,
                                  drive=drive))
    assert result.cancelled and result.status == 200 and result.answered
    assert result.ended_by == "local-bye" and result.bye_status == 200
    assert far is not None and far.acked and far.ended_by == "remote-bye"


def test_for_behaviour_builds_the_script_in_the_documented_order() -> None:
    async def scenario() -> tuple[CallResult, IncomingCall]:
        dest = await Destination.for_behaviour((DEST_IP, 0), wait_ms=50, early_media=True, reject=480,
                                               reason="Nobody Home", reason_header=reason_header(19))
        ua = await UserAgent.start(UaSettings(listen=(UA_IP, 0), target=dest.local_addr))
        try:
            result = await ua.call("sip:+15551234567@example.trunk.voipbin.net",
                                   request_uri=f"sip:+15551234567@{loopback(30)}")
            await dest.wait_for_calls(1, 2.0)
            return result, dest.calls[0]
        finally:
            await ua.stop()
            await dest.stop()

    result, far = run(scenario())
    assert (result.status, result.reason, result.provisional) == (480, "Nobody Home", [100, 180, 183])
    assert result.reason_header == 'Q.850;cause=19;text="No answer from user (user alerted)"'
    assert far.request_uri == f"sip:+15551234567@{loopback(30)}" and far.to_uri.endswith("@example.trunk.voipbin.net")
    assert far.early_media_at is not None and result.remote_sdp is not None  # the 183 carried SDP, RTP started


def test_cancel_requested_before_any_provisional_waits_for_one() -> None:
    async def drive(clock: SteppedClock, dest: Destination, ua: UserAgent, call: asyncio.Task[CallResult]) -> None:
        await until(lambda: dest.calls, "the INVITE")
        await clock.advance(0.125)  # cancel_after_ms=125: the cancel is due, but no provisional has come
        await asyncio.sleep(0.05)
        assert ua.record.first("sip-sent", summary="CANCEL") is None
        await clock.advance(0.125)  # Wait(250): the 180, then the CANCEL

    result, far, _, ua = run(_call([Wait(250), Send180(), NeverAnswer()], cancel_after_ms=125, drive=drive))
    ringing = ua.record.first("sip-received", summary="180")
    cancel = ua.record.first("sip-sent", summary="CANCEL")
    assert ringing is not None and cancel is not None
    assert ua.record.events.index(cancel) > ua.record.events.index(ringing)  # RFC 3261 §9.1
    assert (result.cancel_status, result.status) == (200, 487)
    assert far is not None and far.responses_sent == [180, 487]
