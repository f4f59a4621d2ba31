"""Session timers (RFC 4028) through the reference server: 422 with Min-SE for too small an interval, what
the INVITE to the destination asks, the refresh relayed leg to leg, and the call whose refresh never comes
ended with BYE on both legs. Time is stepped (``rig.clock``), with RFC 4028's real intervals."""

from __future__ import annotations

from sipcore.dialog import Dialog
from sipcore.message import Response
from sipcore.q850 import parse_reason
from sipcore.session_timer import bye_delay
from sipcore.transaction import RequestReceived

from .support import IDS, ServerRig, answer, offer, run

TIMER = [("Supported", "timer")]


async def _call(rig: ServerRig, headers: list[tuple[str, str]], b_headers: list[tuple[str, str]]
                ) -> tuple[Dialog, Dialog, Response, RequestReceived]:
    """A call asking ``headers`` of the trunk, answered by the destination with ``b_headers``."""
    ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
    invite, responses = await rig.authed_invite(rig.invite(body=offer(ua_rtp.port), headers=headers))
    b_invite = await rig.dest.next_request("INVITE")
    b_ok = rig.dest.respond(b_invite, 200, body=answer(b_invite.request.body, dest_rtp.port), headers=b_headers)
    ok = await responses.final()
    assert ok.status == 200, f"{ok.status} {ok.reason}"
    ua_dialog = Dialog.from_uac(invite, ok)
    rig.ua.endpoint.send_stateless(ua_dialog.create_ack(invite.cseq.seq, IDS.branch(), rig.ua.addr), rig.addr)
    await rig.dest.next_request("ACK")
    return ua_dialog, Dialog.from_uas(b_invite.request, b_ok), ok, b_invite


def test_an_interval_below_min_se_gets_422_with_min_se_and_nothing_reaches_the_destination() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            _, responses = await rig.authed_invite(rig.invite(body=offer(4000), headers=[
                *TIMER, ("Session-Expires", "60;refresher=uac")]))
            final = await responses.final()
            assert final.status == 422 and final.headers.get("Min-SE") == "90"
            await rig.dest.no_request()

    run(main())


def test_a_caller_without_timer_support_is_not_sent_422_its_interval_is_raised() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            await rig.authed_invite(rig.invite(body=offer(4000), headers=[("Session-Expires", "60")]))
            b_invite = (await rig.dest.next_request("INVITE")).request
            # it cannot refresh: the destination is asked to
            assert b_invite.headers.get("Session-Expires") == "90;refresher=uas"

    run(main())


def test_the_invite_to_the_destination_supports_100rel_and_timer_and_asks_the_server_interval() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            await rig.authed_invite(rig.invite(body=offer(4000), headers=[*TIMER, ("Min-SE", "120")]))
            b_invite = (await rig.dest.next_request("INVITE")).request
            assert set(b_invite.headers.values("Supported")) == {"100rel", "timer"}
            assert b_invite.headers.get("Session-Expires") == "1800"  # the caller asked none: the server's
            assert b_invite.headers.get("Min-SE") == "120"  # the larger of the caller's and the server's

    run(main())


def test_the_callers_refresh_is_relayed_and_restarts_the_session_then_its_lapse_ends_both_legs() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            se = [("Session-Expires", "120;refresher=uac")]
            ua_dialog, _, ok, _ = await _call(rig, [*TIMER, *se], [*se, ("Require", "timer")])
            assert ok.headers.get("Session-Expires") == "120;refresher=uac"
            assert "timer" in ok.headers.values("Require")
            await rig.clock.advance(60)  # the caller refreshes at half the interval, with an UPDATE
            update = ua_dialog.create_request("UPDATE", branch=IDS.branch(), local_addr=rig.ua.addr,
                                              extra_headers=[*TIMER, *se])
            responses = rig.ua.send(update, rig.addr)
            relayed = await rig.dest.next_request("UPDATE")
            assert relayed.request.headers.get("Session-Expires") == "120;refresher=uac"
            rig.dest.respond(relayed, 200)  # a destination that says nothing of the session ...
            refreshed = await responses.final()
            assert refreshed.status == 200  # ... the server, which supports timer, tells the caller
            assert refreshed.headers.get("Session-Expires") == "120;refresher=uac"
            await rig.clock.advance(bye_delay(120) - 1)  # 87 s after the refresh: the session still runs
            await rig.dest.no_request(0.2)
            await rig.clock.advance(2)
            bye_b = await rig.dest.next_request("BYE")
            bye_a = await rig.ua.next_request("BYE")
            for bye in (bye_a, bye_b):
                reasons = parse_reason(bye.request.headers.get("Reason") or "")
                assert [r.cause for r in reasons] == [102]  # Q.850: recovery on timer expiry
            rig.dest.respond(bye_b, 200)
            rig.ua.respond(bye_a, 200)
            await rig.wait_until(lambda: rig.server.active_calls == 0)

    run(main())


def test_a_destination_without_session_timers_leaves_the_refresh_to_the_caller() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            _, _, ok, _ = await _call(rig, [*TIMER, ("Session-Expires", "100")], [])
            assert ok.headers.get("Session-Expires") == "100;refresher=uac"
            assert "timer" in ok.headers.values("Require")
            await rig.clock.advance(bye_delay(100) + 0.5)  # no refresh came
            await rig.dest.next_request("BYE")
            await rig.ua.next_request("BYE")

    run(main())


def test_a_call_without_session_timers_is_never_ended_by_the_server() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            await _call(rig, [], [])
            await rig.clock.advance(7200)
            await rig.dest.no_request(0.3)
            await rig.ua.no_request(0.1)
            assert rig.server.active_calls == 1

    run(main())
