"""A call to an extension registered from two phones (reference_server.caller_dialogs): each phone's early
dialog reaches the caller under a To tag of its own, the 2xx confirms the early dialog of the phone that
answered, the other phone's INVITE is cancelled with Reason "Call completed elsewhere" (RFC 3326), and
the caller hears the early media of the most recent 183."""

from __future__ import annotations

import asyncio

from sipcore.dialog import Dialog

from ..addresses import loopback
from .support import IDS, ServerRig, answer, offer, run, sdp_addr
from .test_server_registrar import DOMAIN, register


def test_forked_early_dialogs_get_their_own_to_tags_and_the_loser_is_cancelled_as_completed_elsewhere() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            phone1, phone2 = await rig.peer(), await rig.peer()
            for phone in (phone1, phone2):
                assert (await register(rig, phone, "1002", "pass1002")).status == 200
            carrier = await rig.peer(loopback(3))
            ua_rtp, rtp1, rtp2 = rig.rtp(), rig.rtp(), rig.rtp()
            invite = rig.invite(carrier, "1002", DOMAIN, offer(ua_rtp.port))
            responses = carrier.send(invite, rig.addr)
            leg1, leg2 = await phone1.next_request("INVITE"), await phone2.next_request("INVITE")
            phone1.respond(leg1, 180)
            ringing = await responses.status(180)
            phone2.respond(leg2, 183, body=answer(leg2.request.body, rtp2.port))
            progress = await responses.status(183)
            phone1.respond(leg1, 180)  # the same early dialog again: the same tag
            again = await responses.status(180)
            tags = {ringing.to.tag, progress.to.tag}
            assert len(tags) == 2 and None not in tags, "one A-side To tag per B early dialog"
            assert again.to.tag == ringing.to.tag

            # early media: the most recent 183's (phone 2), not phone 1's
            relay_a = sdp_addr(progress.body)
            relay_b = sdp_addr(leg2.request.body)
            for _ in range(3):
                rtp2.send(relay_b, b"\x02" * 160)
                rtp1.send(relay_b, b"\x01" * 160)
                await asyncio.sleep(0.02)
            heard = set()
            for _ in range(3):
                data, source = await ua_rtp.receive()
                heard.add(data[12:13])
                assert source == relay_a
            assert heard == {b"\x02"}

            phone2.respond(leg2, 200, body=answer(leg2.request.body, rtp2.port))
            ok = await responses.final()
            assert ok.status == 200 and ok.to.tag == progress.to.tag  # it confirms phone 2's early dialog
            cancel = await phone1.next_request("CANCEL")
            assert cancel.request.call_id == leg1.request.call_id
            assert cancel.request.headers.get("Reason") == 'SIP;cause=200;text="Call completed elsewhere"'
            phone1.respond(cancel, 200)
            phone1.respond(leg1, 487)
            dialog = Dialog.from_uac(invite, ok)
            carrier.endpoint.send_stateless(dialog.create_ack(1, IDS.branch(), carrier.addr), rig.addr)
            assert (await phone2.next_request("ACK")).request.call_id == leg2.request.call_id
            bye = carrier.send(dialog.create_bye(branch=IDS.branch(), local_addr=carrier.addr), rig.addr)
            phone2.respond(await phone2.next_request("BYE"), 200)
            assert (await bye.final()).status == 200
            await rig.wait_until(lambda: rig.server.active_calls == 0 and rig.server.b2bua.dialog_count == 0)

    run(main())
