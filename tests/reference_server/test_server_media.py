"""Early media through the reference server: the relay opens with the B leg, the destination's 183 SDP
points the caller at the relay, and the destination's RTP reaches the caller before the 200 OK."""

from __future__ import annotations

from reference_server.faults import Fault
from sipcore.builders import make_cancel

from ..addresses import loopback
from .support import ServerRig, answer, offer, run, sdp_addr


def test_early_media_reaches_the_caller_before_the_200() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            _, responses = await rig.authed_invite(rig.invite(body=offer(ua_rtp.port)))
            event = await rig.dest.next_request("INVITE")
            relay_b = sdp_addr(event.request.body)
            relay = rig.server.relays.get(next(iter(rig.server.b2bua.calls)))
            assert relay is not None and relay_b == (loopback(1), relay.b_port)

            rig.dest.respond(event, 183, "Ringing", body=answer(event.request.body, dest_rtp.port))
            progress = await responses.status(183)
            assert progress.reason == "Ringing"  # the phrase is relayed as sent
            assert sdp_addr(progress.body) == (loopback(1), relay.a_port)

            dest_rtp.send(relay_b)  # the destination plays its announcement / ringback
            data, source = await ua_rtp.receive()
            assert source == (loopback(1), relay.a_port) and data[0] >> 6 == 2
            ua_rtp.send(sdp_addr(progress.body))  # and the caller's RTP reaches the destination too
            _, source = await dest_rtp.receive()
            assert source == relay_b
            assert not any(r.status == 200 for r in responses.seen)  # all of it before the 200 OK

            rig.dest.respond(event, 200, body=answer(event.request.body, dest_rtp.port))
            assert (await responses.final()).status == 200

    run(main())


def test_fault_no_early_media_strips_18x_sdp_and_holds_media_until_200() -> None:
    async def main() -> None:
        async with ServerRig(faults={Fault.NO_EARLY_MEDIA}) as rig:
            ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
            invite, responses = await rig.authed_invite(rig.invite(body=offer(ua_rtp.port)))
            event = await rig.dest.next_request("INVITE")
            relay_b = sdp_addr(event.request.body)
            rig.dest.respond(event, 183, body=answer(event.request.body, dest_rtp.port))
            progress = await responses.status(183)
            assert progress.body == b"" and "Content-Type" not in progress.headers
            dest_rtp.send(relay_b)
            try:
                await ua_rtp.receive(0.3)
            except TimeoutError:
                pass
            else:
                raise AssertionError("early RTP was relayed despite the no-early-media fault")
            rig.dest.respond(event, 200, body=answer(event.request.body, dest_rtp.port))
            ok = await responses.final()
            assert ok.status == 200 and ok.body
            dest_rtp.send(relay_b)
            await ua_rtp.receive()  # after the answer media flows

    run(main())


def test_relay_is_released_on_error_timeout_and_setup_cancel() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            allocator = rig.server.relays.allocator
            # a final error from the destination
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            assert allocator.in_use == 2  # one port pair per side, opened with the B leg
            rig.dest.respond(event, 486)
            assert (await responses.final()).status == 486
            await rig.wait_until(lambda: allocator.in_use == 0 and rig.server.active_calls == 0)

            # no answer at all: Timer B on the B leg (64*T1)
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            await rig.dest.next_request("INVITE")  # never answered
            assert allocator.in_use == 2
            await rig.clock.advance(rig.timers.timer_b)
            assert (await responses.final()).status == 408
            await rig.wait_until(lambda: allocator.in_use == 0 and rig.server.active_calls == 0)

            # CANCEL before the B leg has answered anything: the CANCEL waits for a provisional
            invite, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            rig.ua.send(make_cancel(invite), rig.addr)
            assert (await responses.final()).status == 487
            await rig.dest.no_request(0.1)  # RFC 3261 §9.1: no CANCEL before a provisional response
            rig.dest.respond(event, 180)
            b_cancel = await rig.dest.next_request("CANCEL")
            rig.dest.respond(b_cancel, 200)
            rig.dest.respond(event, 487)
            await rig.wait_until(lambda: allocator.in_use == 0 and rig.server.active_calls == 0)

    run(main())
