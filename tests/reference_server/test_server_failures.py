"""Hangup-cause relay: the destination's final error reaches the caller with the same status code and
reason phrase and a Q.850 Reason header (RFC 3326, RFC 3398); silence gives 408 (Timer B, Timer C);
an unreachable destination gives 503."""

from __future__ import annotations

import pytest

from reference_server.faults import Fault
from sipcore.q850 import parse_reason

from .support import ServerRig, offer, run


@pytest.mark.parametrize(("status", "phrase", "cause"), [
    (404, "NOT FOUND", 1), (480, "Temporarily Unavailable", 18), (486, "Busy Here", 17),
    (488, "Not Acceptable Here", 31), (500, "Server Internal Error", 41), (502, "Bad Gateway", 38),
    (503, "Service Unavailable", 41), (603, "Decline", 21),
])
def test_destination_error_reaches_caller_with_same_status_and_q850_reason(status: int, phrase: str,
                                                                             cause: int) -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            rig.dest.respond(event, 100)
            rig.dest.respond(event, status, phrase)
            final = await responses.final()
            assert (final.status, final.reason) == (status, phrase)
            (reason,) = parse_reason(final.headers.get("Reason") or "")
            assert (reason.protocol, reason.cause) == ("Q.850", cause)
            assert reason.text
            await rig.wait_until(lambda: rig.server.relays.allocator.in_use == 0)

    run(main())


def test_destination_reason_header_is_relayed_as_sent() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            own = 'Q.850;cause=20;text="Subscriber absent"'
            rig.dest.respond(event, 480, headers=[("Reason", own)])
            final = await responses.final()
            assert final.status == 480 and final.headers.get("Reason") == own

    run(main())


def test_silent_destination_gives_408_with_cause_102_at_timer_b() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            await rig.dest.next_request("INVITE")  # and the destination never answers
            await rig.clock.advance(rig.timers.timer_b - 0.25)  # (steps exact in binary: no rounding)
            assert [r.status for r in responses.seen] == [100]  # nothing final before Timer B
            await rig.clock.advance(0.25)  # 64*T1 after the B leg's INVITE
            final = await responses.final()
            assert (final.status, final.reason) == (408, "Request Timeout")
            assert parse_reason(final.headers.get("Reason") or "")[0].cause == 102
            await rig.wait_until(lambda: rig.server.relays.allocator.in_use == 0 and rig.server.active_calls == 0)

    run(main())


def test_ringing_forever_is_cancelled_after_timer_c_and_gives_408() -> None:
    async def main() -> None:
        async with ServerRig() as rig:  # Timer C: 180 s (RFC 3261 §16.6: more than 3 minutes)
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            rig.dest.respond(event, 180)
            await responses.status(180)
            await rig.clock.advance(179.75)
            await rig.dest.no_request(0.05)
            await rig.clock.advance(0.25)
            cancel = await rig.dest.next_request("CANCEL")
            final = await responses.final()
            assert final.status == 408 and "cause=102" in (final.headers.get("Reason") or "")
            rig.dest.respond(cancel, 200)
            rig.dest.respond(event, 487)
            await rig.wait_until(lambda: rig.server.relays.allocator.in_use == 0 and rig.server.active_calls == 0)

    run(main())


def test_every_provisional_response_restarts_timer_c() -> None:
    async def main() -> None:
        async with ServerRig(timer_c=100.0) as rig:
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            rig.dest.respond(event, 100)
            for _ in range(3):  # a 180 every 60 s: Timer C (100 s) never runs out
                rig.dest.respond(event, 180)
                await responses.status(180)
                await rig.clock.advance(60)
                await rig.dest.no_request(0.05)
            await rig.clock.advance(39.75)  # 99.75 s after the last 180
            await rig.dest.no_request(0.05)
            await rig.clock.advance(0.25)  # 100 s after it
            cancel = await rig.dest.next_request("CANCEL")
            assert (await responses.final()).status == 408
            rig.dest.respond(cancel, 200)
            rig.dest.respond(event, 487)
            await rig.wait_until(lambda: rig.server.relays.allocator.in_use == 0 and rig.server.active_calls == 0)

    run(main())


def test_unreachable_destination_gives_503() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            rig.dest.close()  # ICMP port unreachable for the B leg's INVITE
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            final = await responses.final()
            assert final.status == 503
            assert "cause=41" in (final.headers.get("Reason") or "")
            await rig.wait_until(lambda: rig.server.relays.allocator.in_use == 0 and rig.server.active_calls == 0)

    run(main())


def test_without_q850_reason_the_status_is_relayed_with_no_reason_added() -> None:
    """A proxy-like trunk (HangupPolicy(q850_reason=False), the test fault no-q850-reason): 404 stays 404,
    no Reason is added, but one the destination sent passes through."""
    async def main() -> None:
        async with ServerRig(faults={Fault.NO_Q850_REASON}) as rig:
            for own_reason in ([], [("Reason", "Q.850;cause=3")]):
                _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
                event = await rig.dest.next_request("INVITE")
                rig.dest.respond(event, 404, "Not Found", headers=own_reason)
                final = await responses.final()
                assert (final.status, final.reason) == (404, "Not Found")
                assert final.headers.get("Reason") == (own_reason[0][1] if own_reason else None)

    run(main())


def test_status_rewrite_answers_500_with_the_destinations_cause() -> None:
    """HangupPolicy(relay_status=False), the test fault status-rewrite: the 404 reaches the caller as 500,
    the Q.850 cause still the destination's (1), so only the status-relay scenarios can catch it."""
    async def main() -> None:
        async with ServerRig(faults={Fault.STATUS_REWRITE}) as rig:
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            rig.dest.respond(event, 404, "Not Found")
            final = await responses.final()
            assert (final.status, final.reason) == (500, "Server Internal Error")
            assert final.headers.get("Reason") == 'Q.850;cause=1;text="Unallocated (unassigned) number"'

    run(main())
