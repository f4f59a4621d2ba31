"""The spec's basic trunk call through the reference server, over loopback UDP: 407, authenticated
INVITE relayed as a new INVITE, 180/200 relayed, end-to-end ACK per leg, BYE from either side, CANCEL,
and in-dialog requests relayed leg to leg."""

from __future__ import annotations

import gc
import weakref

from sipcore.builders import make_cancel
from sipcore.dialog import Dialog
from sipcore.digest import parse_challenge
from sipcore.message import make_response
from sipcore.timers import TimerConfig

from ..addresses import loopback
from .support import (
    IDS,
    ServerRig,
    answer,
    establish,
    offer,
    retry_with_credentials,
    run,
    sdp_addr,
)


def test_trunk_call_ladder_407_relay_answer_ack_bye() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            invite = rig.invite(body=offer(ua_rtp.port))
            challenge = await rig.ua.send(invite, rig.addr).final()
            assert challenge.status == 407
            assert challenge.to.tag is not None  # the ACK (sent by the UA's transaction) carries it
            offered = [parse_challenge(v, header="Proxy-Authenticate")
                       for v in challenge.headers.get_all("Proxy-Authenticate")]
            assert {c.realm for c in offered} == {"example.trunk.voipbin.net"}
            assert all(c.qop == ("auth",) for c in offered)
            assert [c.algorithm for c in offered] == ["SHA-256", "MD5"]
            await rig.dest.no_request(0.2)  # nothing reaches the destination before authentication

            again = await rig.ua.send(rig.invite(body=offer(ua_rtp.port)), rig.addr).final()
            assert again.status == 407
            assert parse_challenge(again.headers.get("Proxy-Authenticate") or "").nonce != offered[0].nonce

            retry = retry_with_credentials(invite, challenge, "alice", "secret")
            responses = rig.ua.send(retry, rig.addr)
            assert (await responses.next()).status == 100
            event = await rig.dest.next_request("INVITE")
            b = event.request
            # a NEW INVITE: own Call-ID, From tag, branch, CSeq; Contact and Via are the server's
            assert b.call_id != retry.call_id
            assert b.from_.tag != retry.from_.tag
            assert b.top_via.branch != retry.top_via.branch
            assert len(b.via) == 1 and (b.top_via.host, b.top_via.port) == rig.addr
            assert b.cseq.seq == 1
            assert b.contacts[0].uri.host == rig.addr[0] and b.contacts[0].uri.port == rig.addr[1]
            assert b.max_forwards == 69
            assert b.uri == f"sip:15551234@{loopback(1)}:{rig.dest.addr[1]}"
            assert str(b.to.uri) == f"sip:15551234@{loopback(1)}:{rig.dest.addr[1]}" and b.to.tag is None
            assert str(b.from_.uri) == "sip:alice@example.trunk.voipbin.net"
            assert "Proxy-Authorization" not in b.headers
            (call,) = rig.server.b2bua.calls.values()
            relay = rig.server.relays.get(call.key)
            assert relay is not None
            assert sdp_addr(b.body) == (loopback(1), relay.b_port)  # the offer points at the relay's B side

            rig.dest.respond(event, 100)
            rig.dest.respond(event, 180)
            ringing = await responses.status(180)
            a_tag = ringing.to.tag
            assert a_tag is not None and a_tag != rig.dest.tag  # the A leg's own To tag
            rig.dest.respond(event, 200, body=answer(b.body, dest_rtp.port))
            ok = await responses.final()
            assert ok.status == 200 and ok.to.tag == a_tag  # stable for the call
            assert sdp_addr(ok.body) == (loopback(1), relay.a_port)
            assert relay.b_remote == (loopback(1), dest_rtp.port) and relay.a_remote == (loopback(1), ua_rtp.port)

            await rig.dest.no_request(0.15)  # the server waits for the caller's ACK before ACKing the B leg
            ua_dialog = Dialog.from_uac(retry, ok)
            rig.ua.endpoint.send_stateless(ua_dialog.create_ack(retry.cseq.seq, IDS.branch(), rig.ua.addr),
                                           rig.addr)
            ack = (await rig.dest.next_request("ACK")).request
            assert ack.call_id == b.call_id and ack.cseq.seq == 1 and ack.to.tag == rig.dest.tag

            bye = ua_dialog.create_bye(branch=IDS.branch(), local_addr=rig.ua.addr)
            bye_responses = rig.ua.send(bye, rig.addr)
            b_bye = await rig.dest.next_request("BYE")
            assert b_bye.request.call_id == b.call_id
            rig.dest.respond(b_bye, 200)
            assert (await bye_responses.final()).status == 200
            await rig.wait_until(lambda: rig.server.active_calls == 0)
            assert rig.server.relays.allocator.in_use == 0
            assert rig.server.b2bua.dialog_count == 0

    run(main())


def test_bye_from_destination_ends_both_legs() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            call = await establish(rig)
            responses = call.dest_request(rig, "BYE", headers=[("Reason", 'Q.850;cause=16;text="Normal call clearing"')])
            ua_bye = await rig.ua.next_request("BYE")
            assert ua_bye.request.call_id == call.invite.call_id
            assert ua_bye.request.to.tag == call.invite.from_.tag
            assert "cause=16" in (ua_bye.request.headers.get("Reason") or "")
            rig.ua.respond(ua_bye, 200)
            assert (await responses.final()).status == 200
            await rig.wait_until(lambda: rig.server.relays.allocator.in_use == 0 and rig.server.active_calls == 0)

    run(main())


def test_cancel_from_caller_gives_487_and_cancels_the_b_leg() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            invite, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            rig.dest.respond(event, 180)
            await responses.status(180)
            cancel_responses = rig.ua.send(make_cancel(invite), rig.addr)
            assert (await cancel_responses.final()).status == 200
            b_cancel = await rig.dest.next_request("CANCEL")
            assert b_cancel.request.call_id == event.request.call_id
            assert b_cancel.request.top_via.branch == event.request.top_via.branch
            final = await responses.final()
            assert (final.status, final.reason) == (487, "Request Terminated")
            rig.dest.respond(b_cancel, 200)
            rig.dest.respond(event, 487)
            await rig.wait_until(lambda: rig.server.relays.allocator.in_use == 0 and rig.server.active_calls == 0)

    run(main())


def test_reinvite_and_info_are_relayed_with_their_responses() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            call = await establish(rig)
            relay = rig.server.relays.get(next(iter(rig.server.b2bua.calls)))
            assert relay is not None
            new_ua_rtp = rig.rtp()
            responses = call.ua_request(rig, "INVITE", body=offer(new_ua_rtp.port))
            reinvite = await rig.dest.next_request("INVITE")
            assert reinvite.request.call_id == call.b_invite.request.call_id
            assert reinvite.request.cseq.seq == 2
            assert sdp_addr(reinvite.request.body) == (loopback(1), relay.b_port)
            assert relay.a_remote == (loopback(1), new_ua_rtp.port)  # the new offer moved the caller's media
            ok = rig.dest.respond(reinvite, 200, body=answer(reinvite.request.body, call.dest_rtp.port))
            ua_ok = await responses.final()
            assert ua_ok.status == 200 and sdp_addr(ua_ok.body) == (loopback(1), relay.a_port)
            ack = call.ua_dialog.create_ack(call.ua_dialog.local_cseq or 0, IDS.branch(), rig.ua.addr)
            rig.ua.endpoint.send_stateless(ack, rig.addr)
            b_ack = await rig.dest.next_request("ACK")
            assert b_ack.request.cseq.seq == ok.cseq.seq

            info = call.dest_request(rig, "INFO", body=b"", headers=[("Info-Package", "dtmf")])
            ua_info = await rig.ua.next_request("INFO")
            assert ua_info.request.headers.get("Info-Package") == "dtmf"
            rig.ua.respond(ua_info, 200)
            assert (await info.final()).status == 200

            options = call.ua_request(rig, "OPTIONS")
            dest_options = await rig.dest.next_request("OPTIONS")
            rig.dest.respond(dest_options, 486)  # whatever the far end says is relayed
            assert (await options.final()).status == 486

            unknown_dialog = rig.ua.request("INFO", f"sip:{rig.addr[0]}:{rig.addr[1]}", from_uri="sip:x@example.com",
                                            to_uri="sip:y@example.com")
            unknown_dialog.headers.set("To", "<sip:y@example.com>;tag=nosuchtag")
            assert (await rig.ua.send(unknown_dialog, rig.addr).final()).status == 481

    run(main())


def test_late_offer_answer_travels_in_the_acks() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            invite, responses = await rig.authed_invite(rig.invite())  # no SDP: the offer comes in the 200
            event = await rig.dest.next_request("INVITE")
            assert event.request.body == b""
            rig.dest.respond(event, 200, body=offer(dest_rtp.port))
            ok = await responses.final()
            (call,) = rig.server.b2bua.calls.values()
            relay = rig.server.relays.get(call.key)
            assert relay is not None and sdp_addr(ok.body) == (loopback(1), relay.a_port)
            dialog = Dialog.from_uac(invite, ok)
            ack = dialog.create_ack(invite.cseq.seq, IDS.branch(), rig.ua.addr, answer(ok.body, ua_rtp.port),
                                    content_type="application/sdp")
            rig.ua.endpoint.send_stateless(ack, rig.addr)
            b_ack = (await rig.dest.next_request("ACK")).request
            assert sdp_addr(b_ack.body) == (loopback(1), relay.b_port)
            assert relay.a_remote == (loopback(1), ua_rtp.port) and relay.b_remote == (loopback(1), dest_rtp.port)

    run(main())


def test_an_ended_call_is_freed_at_once_but_its_b_leg_2xx_is_still_acked_and_a_forked_2xx_hung_up() -> None:
    async def main() -> None:
        gc.disable()  # the call must go by reference counting, not wait for the cyclic collector
        try:
            async with ServerRig(timers=TimerConfig(t1=0.1, t2=0.4, t4=0.5)) as rig:  # Timer M = 6.4 s
                call = await establish(rig)
                ended = weakref.ref(next(iter(rig.server.b2bua.calls.values())))
                b_leg = weakref.ref(ended().legs[0])  # type: ignore[union-attr]
                target = weakref.ref(ended().legs[0].target)  # type: ignore[union-attr]
                bye_responses = call.dest_request(rig, "BYE")
                rig.ua.respond(await rig.ua.next_request("BYE"), 200)
                assert (await bye_responses.final()).status == 200
                await rig.wait_until(lambda: rig.server.active_calls == 0)
                assert ended() is None  # not kept by its INVITE client transaction (Timer M) or the BYE's
                assert b_leg() is None and target() is None  # what lingers keeps the messages, not the leg

                server_addr = call.b_invite.addr
                rig.dest.endpoint.send_stateless(call.b_ok, server_addr)  # the destination's 2xx again
                ack = (await rig.dest.next_request("ACK")).request
                assert ack.to.tag == rig.dest.tag and ack.cseq.seq == call.b_invite.request.cseq.seq

                forked = make_response(call.b_invite.request, 200, to_tag="fork2")
                forked.headers.add("Contact", rig.dest.contact)
                rig.dest.endpoint.send_stateless(forked, server_addr)  # another fork answers: ACK and BYE it
                assert (await rig.dest.next_request("ACK")).request.to.tag == "fork2"
                assert (await rig.dest.next_request("BYE")).request.to.tag == "fork2"
        finally:
            gc.enable()

    run(main())


def test_a_2xx_never_acked_is_resent_then_the_call_is_hung_up_after_64_t1() -> None:
    async def main() -> None:
        async with ServerRig() as rig:  # T1 0.5 s, T2 4 s: 64*T1 = 32 s
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            rig.dest.respond(event, 200, body=answer(event.request.body, rig.rtp().port))
            assert (await responses.final()).status == 200  # and the UA never ACKs it
            await rig.clock.advance(64 * rig.timers.t1 - 0.25)
            await rig.dest.no_request(0.05)  # no ACK, no BYE on the B leg yet
            # resent after T1, 2*T1, 4*T1, then every T2 (RFC 3261 §13.3.1.4): 0.5, 1.5, 3.5, 7.5 ... 31.5 s
            await rig.wait_until(lambda: [r.status for r in responses.seen] == [100] + [200] * 11)
            await rig.clock.advance(0.25)
            assert (await rig.dest.next_request("ACK")).request.cseq.seq == event.request.cseq.seq
            b_bye = await rig.dest.next_request("BYE")
            rig.dest.respond(b_bye, 200)
            a_bye = await rig.ua.next_request("BYE")
            rig.ua.respond(a_bye, 200)
            await rig.wait_until(lambda: rig.server.active_calls == 0 and rig.server.relays.allocator.in_use == 0)

    run(main())
