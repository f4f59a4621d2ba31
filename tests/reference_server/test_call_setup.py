"""Call setup: the media relay opened at once on a parked relay's sockets (no task), or in a task when new
sockets must be bound; and every way setup can end early (CANCEL while the relay opens, no ports, a
failure while sending the B legs) on both paths."""

from __future__ import annotations

import asyncio

import pytest

from reference_server.call import Call
from reference_server.media import MediaAnchor
from reference_server.rtp_relay import MediaRelay, NoPortsAvailable
from sipcore.builders import make_cancel

from ..addresses import loopback
from .support import ServerRig, offer, run, sdp_addr


async def _failed_call(rig: ServerRig) -> Call:
    """A call the destination refuses (486): its relay is parked when it ends."""
    _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
    event = await rig.dest.next_request("INVITE")
    (call,) = rig.server.b2bua.calls.values()
    rig.dest.respond(event, 486)
    assert (await responses.final()).status == 486
    await _all_released(rig)
    return call


async def _all_released(rig: ServerRig) -> None:
    await rig.wait_until(lambda: rig.server.relays.allocator.in_use == 0 and rig.server.active_calls == 0)


def test_a_parked_relay_is_reused_at_once_with_its_transports_and_a_new_one_is_opened_in_a_task() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            relays = rig.server.relays
            relays.reuse_after = 0.0
            first = await _failed_call(rig)
            assert first.task is not None  # nothing parked yet: bound in a task
            assert first.media is not None
            parked = [side.transport for side in first.media.relay._sides()]

            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            event = await rig.dest.next_request("INVITE")
            (call,) = rig.server.b2bua.calls.values()
            assert call.task is None and not call.opening  # set up inline, on the parked sockets
            relay = relays.get(call.key)
            assert relay is not None and relay.b_port == first.media.relay.b_port
            assert [side.transport for side in relay._sides()] == parked  # the same transports
            assert sdp_addr(event.request.body) == (loopback(1), relay.b_port)
            rig.dest.respond(event, 486)
            assert (await responses.final()).status == 486
            await _all_released(rig)

    run(main())


def test_cancel_while_the_relay_opens_ends_the_call_without_a_b_leg() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            relays, gate = rig.server.relays, asyncio.Event()
            real_open = relays.open

            async def slow_open(call_id: str) -> MediaRelay:
                await gate.wait()
                return await real_open(call_id)

            relays.open = slow_open  # type: ignore[method-assign]
            invite, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            await rig.wait_until(lambda: rig.server.active_calls == 1)
            (call,) = rig.server.b2bua.calls.values()
            assert call.opening
            rig.ua.send(make_cancel(invite), rig.addr)
            assert (await responses.final()).status == 487
            assert rig.server.active_calls == 1  # held until the relay is open, then released
            gate.set()
            await _all_released(rig)
            await rig.dest.no_request(0.1)

    run(main())


def test_no_ports_for_the_relay_gives_503() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            async def no_ports(call_id: str) -> MediaRelay:
                raise NoPortsAvailable("test: none left")

            rig.server.relays.open = no_ports  # type: ignore[method-assign]
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            assert (await responses.final()).status == 503
            await _all_released(rig)
            await rig.dest.no_request(0.1)

    run(main())


@pytest.mark.parametrize("parked", [False, True])
def test_a_failure_while_setting_up_gives_500_on_either_path(parked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            rig.server.relays.reuse_after = 0.0
            if parked:
                await _failed_call(rig)

            def broken(*args: object, **kwargs: object) -> bytes:
                raise RuntimeError("test: setup breaks")

            monkeypatch.setattr(MediaAnchor, "from_a", broken)
            _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
            final = await responses.final()
            assert (final.status, final.reason) == (500, "Server Internal Error")
            await _all_released(rig)
            await rig.dest.no_request(0.1)

    run(main())
