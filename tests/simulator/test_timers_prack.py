"""The simulated UA and destination through the reference server with session timers (RFC 4028) and
reliable provisional responses (RFC 3262). Everything runs on one SteppedClock with RFC 4028's real
intervals (90 s and up): a test moves the clock a second at a time instead of waiting."""

from __future__ import annotations

import asyncio
from typing import Any

from reference_server.server import ReferenceServer
from simulator.destination import Destination
from simulator.settings import Answer, DestinationSettings, Send100, Send183, SessionTimer, UaSettings
from simulator.ua import CallResult, UserAgent
from simulator.uas import IncomingCall
from sipcore.aio.clock import SteppedClock

from ..reference_server.support import make_config
from .helpers import DEST_IP, DOMAIN, UA_IP, run


async def _through_trunk(ua_changes: dict[str, Any], dest_changes: dict[str, Any], *, hold_s: int,
                         ) -> tuple[CallResult, IncomingCall]:
    """One call UA -> reference server -> destination, the clock moved a second at a time until it ends."""
    clock = SteppedClock()
    dest = await Destination.start(DestinationSettings(listen=(DEST_IP, 0), **dest_changes), clock=clock)
    server = ReferenceServer(make_config(dest.local_addr), clock=clock)
    await server.start()
    local = server.local_addresses[0]
    ua = await UserAgent.start(UaSettings(listen=(UA_IP, 0), target=(local.host, local.port), domain=DOMAIN,
                                          password="secret", hold_ms=hold_s * 1000, **ua_changes), clock=clock)
    try:
        call = asyncio.ensure_future(ua.call("+15551234567"))
        for _ in range(hold_s + 40):
            if call.done():
                break
            await asyncio.sleep(0.01)  # loopback I/O
            await clock.advance(1)
        result = await asyncio.wait_for(call, 5.0)
        assert await dest.wait_for_calls(1, 3.0)
    finally:
        await ua.stop()
        await dest.stop()
        await server.stop()
    return result, dest.calls[0]


EARLY = (Send100(), Send183(early_media=True), Answer(after_ms=500))


def test_the_ua_refreshes_by_update_every_half_interval_through_the_trunk() -> None:
    result, far = run(_through_trunk({"session_timer": SessionTimer(interval=90)}, {}, hold_s=100), timeout=30)
    assert result.answered and result.session_expires == "90;refresher=uac"
    assert result.refreshes == [200, 200]  # at 45 s and 90 s
    assert far.refreshes_received == 2 and "UPDATE" in far.requests[2]
    assert result.ended_by == "local-bye"


def test_the_destination_refreshes_by_reinvite_when_the_ua_leaves_it_the_choice() -> None:
    result, far = run(_through_trunk({"session_timer": SessionTimer(interval=120, refresher=None)},
                                     {"session_timer": SessionTimer(refresher="uas", method="INVITE")}, hold_s=70),
                      timeout=30)
    assert result.session_expires == "120;refresher=uas"
    assert far.refreshes == [200] and result.refreshes_received == 1  # the re-INVITE at 60 s, relayed
    assert result.ended_by == "local-bye"


def test_a_refresher_that_never_refreshes_has_its_call_ended_by_the_trunk_on_both_legs() -> None:
    result, far = run(_through_trunk({"session_timer": SessionTimer(interval=90, refresh=False)}, {}, hold_s=200),
                      timeout=30)
    assert result.refreshes == [] and result.ended_by == "remote-bye"  # at 90 - 30 = 60 s
    assert far.ended_by == "remote-bye"


def test_a_422_is_answered_with_the_min_se_it_names() -> None:
    result, _ = run(_through_trunk({"session_timer": SessionTimer(interval=30)}, {}, hold_s=1))
    assert result.min_se == [90] and result.status == 200 and result.session_expires == "90;refresher=uac"


def test_prack_end_to_end_with_early_media_before_the_answer() -> None:
    result, far = run(_through_trunk({"prack": True}, {"script": EARLY, "reliable": "on"}, hold_s=1))
    assert result.prack_statuses == [200] and far.pracks == 1
    assert result.early_media_packets > 0 and result.status == 200


def test_a_ua_without_100rel_still_reaches_a_destination_requiring_it() -> None:
    result, far = run(_through_trunk({}, {"script": EARLY, "reliable": "require"}, hold_s=1))
    assert far.final_status == 200 and far.pracks == 1  # the trunk PRACKed for the UA
    assert result.prack_statuses == [] and 183 in result.provisional and result.early_media_packets > 0
