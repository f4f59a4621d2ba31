"""A caller behind NAT through the reference server: its Via, Contact and SDP name a private address it
cannot be reached at; it sends SIP and RTP from another (the NAT binding). Responses follow rport
(RFC 3581), in-dialog requests and media go back to where its packets came from (RFC 4961)."""

from __future__ import annotations

from sipcore.builders import new_request
from sipcore.dialog import Dialog
from sipcore.message import Request

from ..addresses import loopback
from .support import IDS, RtpSocket, ServerRig, answer, offer, run, sdp_addr

PRIVATE = ("10.200.0.1", 5062)  # the caller's own idea of its address (nobody can reach it)
PRIVATE_MEDIA = 40000


def nat_invite(rig: ServerRig) -> Request:
    domain = "example.trunk.voipbin.net"
    return new_request("INVITE", f"sip:15551234@{domain}", from_uri=f"sip:alice@{domain}",
                       to_uri=f"sip:15551234@{domain}", local_addr=PRIVATE, from_tag=rig.ua.tag,
                       call_id=IDS.call_id(PRIVATE[0]), cseq=1, branch=IDS.branch(),
                       contact=f"<sip:alice@{PRIVATE[0]}:{PRIVATE[1]}>",
                       body=offer(PRIVATE_MEDIA, host=PRIVATE[0]), content_type="application/sdp")


def test_a_caller_behind_nat_gets_its_answers_bye_and_media_through_the_binding() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            invite, responses = await rig.authed_invite(nat_invite(rig))  # the 407 came back: rport honoured
            b_invite = await rig.dest.next_request("INVITE")
            b_ok = rig.dest.respond(b_invite, 200, body=answer(b_invite.request.body, dest_rtp.port))
            ok = await responses.final()
            assert ok.status == 200
            via = ok.top_via
            assert (via.host, via.port) == PRIVATE  # sent-by untouched ...
            assert via.received == rig.ua.addr[0] and via.rport == rig.ua.addr[1]  # ... the source stamped
            ua_dialog = Dialog.from_uac(invite, ok)
            rig.ua.endpoint.send_stateless(ua_dialog.create_ack(invite.cseq.seq, IDS.branch(), PRIVATE), rig.addr)
            await rig.dest.next_request("ACK")

            # media both ways, although the caller's SDP names 10.200.0.1
            relay_a, relay_b = sdp_addr(ok.body), sdp_addr(b_invite.request.body)
            for _ in range(3):
                ua_rtp.send(relay_a)
            _, source = await dest_rtp.receive()
            assert source == relay_b
            dest_rtp.send(relay_b)
            _, source = await ua_rtp.receive()
            assert source == relay_a

            # the destination hangs up: the BYE reaches the caller where its requests came from
            dest_dialog = Dialog.from_uas(b_invite.request, b_ok)
            bye = dest_dialog.create_request("BYE", branch=IDS.branch(), local_addr=rig.dest.addr)
            bye_responses = rig.dest.send(bye, b_invite.addr)
            event = await rig.ua.next_request("BYE")
            assert event.addr == rig.addr
            rig.ua.respond(event, 200)
            assert (await bye_responses.final()).status == 200

    run(main())


def test_rtp_from_a_third_address_is_not_relayed() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            stranger = RtpSocket(loopback(99))  # neither the caller's SDP nor its signalling IP
            rig.cleanups.append(stranger.close)
            _, responses = await rig.authed_invite(nat_invite(rig))
            b_invite = await rig.dest.next_request("INVITE")
            rig.dest.respond(b_invite, 200, body=answer(b_invite.request.body, dest_rtp.port))
            ok = await responses.final()
            relay_a = sdp_addr(ok.body)
            for _ in range(5):
                stranger.send(relay_a, payload=b"\x00" * 160)  # first, consistent: it must still not latch
            for _ in range(3):
                ua_rtp.send(relay_a)
            data, _ = await dest_rtp.receive()
            assert data[12:] == b"\xff" * 160  # the caller's, not the stranger's
            for _ in range(5):
                stranger.send(relay_a, payload=b"\x00" * 160)
            ua_rtp.send(relay_a)
            data, _ = await dest_rtp.receive()
            assert data[12:] == b"\xff" * 160
            relay = rig.server.relays.get(next(iter(rig.server.b2bua.calls)))
            assert relay is not None
            # the stranger's first five are held back (nothing announced had spoken yet), the caller's first
            # confirms nothing alone; once latched, the stranger's next five are refused
            await rig.wait_until(lambda: (relay.a_to_b.learning, relay.a_to_b.rejected_source,
                                          relay.a_to_b.packets) == (6, 5, 3))
            assert relay.a_remote == ua_rtp.sock.getsockname()

    run(main())
