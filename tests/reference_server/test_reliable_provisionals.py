"""Reliable provisional responses (RFC 3262) through the reference server: relayed reliably with PRACK end
to end to a caller that supports 100rel, absorbed for one that does not, made reliable for one that
requires it; retransmitted until the PRACK; a PRACK for nothing gets 481. Time is stepped."""

from __future__ import annotations

from sipcore.dialog import Dialog
from sipcore.message import Request, Response
from sipcore.session_timer import parse_rack, parse_rseq
from sipcore.transaction import RequestReceived

from .support import IDS, Peer, Responses, ServerRig, answer, offer, run, sdp_addr

REL = [("Supported", "100rel")]


def _prack(rig: ServerRig, invite: Request, provisional: Response, rseq: int | None = None) -> Responses:
    dialog = Dialog.from_uac(invite, provisional)
    got = parse_rseq(provisional)
    prack = dialog.create_request("PRACK", branch=IDS.branch(), local_addr=rig.ua.addr, extra_headers=[
        ("RAck", f"{rseq if rseq is not None else got} {invite.cseq.seq} INVITE")])
    return rig.ua.send(prack, rig.addr)


def _reliable_183(peer: Peer, event: RequestReceived, body: bytes, rseq: int = 7) -> Response:
    return peer.respond(event, 183, body=body, headers=[("Require", "100rel"), ("RSeq", str(rseq))])


def test_a_reliable_183_reaches_a_caller_supporting_100rel_and_its_prack_goes_end_to_end() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            invite, responses = await rig.authed_invite(rig.invite(body=offer(ua_rtp.port), headers=REL))
            b_invite = await rig.dest.next_request("INVITE")
            _reliable_183(rig.dest, b_invite, answer(b_invite.request.body, dest_rtp.port))
            progress = await responses.status(183)
            assert "100rel" in progress.headers.values("Require")
            rseq = parse_rseq(progress)
            assert rseq is not None and progress.body  # the server's own RSeq; the SDP (early media) kept
            await rig.clock.advance(rig.timers.t1)  # no PRACK yet: the server retransmits after T1
            again = await responses.status(183)
            assert parse_rseq(again) == rseq
            _reliable_183(rig.dest, b_invite, answer(b_invite.request.body, dest_rtp.port))  # the destination's own
            prack = _prack(rig, invite, progress)                                       # retransmission stays
            relayed = await rig.dest.next_request("PRACK")
            rack = parse_rack(relayed.request)
            assert rack is not None and (rack.rseq, rack.cseq, rack.method) == (7, b_invite.request.cseq.seq, "INVITE")
            rig.dest.respond(relayed, 200)
            assert (await prack.final()).status == 200
            await rig.clock.advance(8)  # acknowledged: no more retransmissions
            dest_rtp.send(sdp_addr(b_invite.request.body))
            await ua_rtp.receive()  # early media flows before the answer
            rig.dest.respond(b_invite, 200, body=answer(b_invite.request.body, dest_rtp.port))
            final = await responses.final()
            assert final.status == 200
            extra = [r.status for r in responses.seen if r.status == 183]
            assert len(extra) == 2, f"183s reaching the caller: {extra}"  # the first and one retransmission

    run(main())


def test_a_caller_without_100rel_gets_an_unreliable_183_and_the_server_pracks_the_destination() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            _, responses = await rig.authed_invite(rig.invite(body=offer(ua_rtp.port)))
            b_invite = await rig.dest.next_request("INVITE")
            _reliable_183(rig.dest, b_invite, answer(b_invite.request.body, dest_rtp.port), rseq=42)
            prack = await rig.dest.next_request("PRACK")
            rack = parse_rack(prack.request)
            assert rack is not None and rack.rseq == 42
            rig.dest.respond(prack, 200)
            progress = await responses.status(183)
            assert "RSeq" not in progress.headers and "100rel" not in progress.headers.values("Require")
            assert progress.body  # still the early media's SDP

    run(main())


def test_a_caller_requiring_100rel_gets_reliable_provisionals_whose_prack_the_server_answers() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            invite, responses = await rig.authed_invite(rig.invite(body=offer(4000), headers=[
                ("Require", "100rel"), *REL]))
            b_invite = await rig.dest.next_request("INVITE")
            rig.dest.respond(b_invite, 180)  # unreliable from the destination
            ringing = await responses.status(180)
            assert parse_rseq(ringing) is not None
            assert (await _prack(rig, invite, ringing).final()).status == 200
            await rig.dest.no_request(0.2)  # nothing to PRACK downstream

    run(main())


def test_a_prack_for_no_reliable_response_gets_481_and_no_prack_at_all_fails_the_call() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            invite, responses = await rig.authed_invite(rig.invite(body=offer(4000), headers=REL))
            b_invite = await rig.dest.next_request("INVITE")
            _reliable_183(rig.dest, b_invite, answer(b_invite.request.body, 4002))
            progress = await responses.status(183)
            wrong = parse_rseq(progress)
            assert wrong is not None
            assert (await _prack(rig, invite, progress, wrong + 1).final()).status == 481
            await rig.clock.advance(64 * rig.timers.t1)  # RFC 3262 §3: 5xx when no PRACK comes
            final = await responses.final()
            assert final.status == 500
            await rig.dest.next_request("CANCEL")

    run(main())
