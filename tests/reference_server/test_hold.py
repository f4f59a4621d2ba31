"""Hold and resume through the reference trunk: the relay honours the SDP directions (RFC 3264 §5.1), a
re-INVITE from either side is relayed with its own CSeq, and a failed offer leaves the directions as they
were. The end-to-end tests use the simulated UA and destination over loopback."""

from __future__ import annotations

import random
from typing import Any, cast

from reference_server.call_policy import MediaPolicy
from reference_server.media import MediaAnchor
from reference_server.rtp_relay import MediaRelay
from reference_server.server import ReferenceServer
from simulator.destination import Destination
from simulator.settings import Answer, DestinationSettings, HangupAfter, Hold, Resume, Send100, UaSettings
from simulator.ua import CallResult, UserAgent
from sipcore.aio.rtp import RtpEndpoint
from sipcore.message import Request, Response
from sipcore.sdp_offer import make_offer

from ..addresses import loopback
from .support import ServerRig, establish, make_config, offer, run
from .test_rtp_relay import DEST_IP, TRUNK_IP, UA_IP, allocator, until

SIM_UA, SIM_DEST, SERVER = loopback(51), loopback(52), loopback(53)


class DirectionsRelay:
    host, a_port, b_port = "192.0.2.30", 20000, 20002
    b_remote = None

    def __init__(self) -> None:
        self.directions: list[tuple[bool, bool]] = []

    def set_a_remote(self, addr: Any) -> None:
        pass

    def set_b_remote(self, addr: Any) -> None:
        pass

    def set_directions(self, a_to_b: bool, b_to_a: bool) -> None:
        self.directions.append((a_to_b, b_to_a))


def sdp_message(direction: str, cls: type[Request] | type[Response] = Request) -> Request | Response:
    body = make_offer("192.0.2.31", 6000, 1, direction=direction).to_bytes()
    message: Request | Response = (Request("INVITE", "sip:1@192.0.2.30", [("Call-ID", "x"), ("CSeq", "2 INVITE")])
                                   if cls is Request else Response(200, "OK", [("Call-ID", "x"), ("CSeq", "2 INVITE")]))
    message.set_body(body, "application/sdp")
    return message


def test_directions_follow_each_sides_latest_sdp() -> None:
    relay = DirectionsRelay()
    anchor = MediaAnchor(cast(MediaRelay, relay))
    anchor.from_a(sdp_message("sendonly"))               # the caller holds: it sends, it will not receive
    assert relay.directions[-1] == (True, False)
    anchor.from_b(sdp_message("recvonly", Response))     # the answer: the destination only receives
    assert relay.directions[-1] == (True, False)
    anchor.from_a(sdp_message("inactive"))
    assert relay.directions[-1] == (False, False)
    before = anchor.snapshot()
    anchor.from_a(sdp_message("sendrecv"))               # resume offered: B still says recvonly
    assert relay.directions[-1] == (True, False)         # B's media waits for its answer
    anchor.restore(before)                               # ... and the re-INVITE failed: as before
    assert anchor.directions == {"A": "inactive", "B": "recvonly"}
    anchor.from_a(sdp_message("sendrecv"))
    anchor.from_b(sdp_message("sendrecv", Response))
    assert relay.directions[-1] == (True, True)


def test_the_fault_hold_ignored_keeps_both_directions_open() -> None:
    relay = DirectionsRelay()
    anchor = MediaAnchor(cast(MediaRelay, relay), MediaPolicy(honour_directions=False))
    anchor.from_a(sdp_message("inactive"))
    assert relay.directions == []


def test_relay_drops_a_closed_direction_and_counts_it_while_rtcp_flows() -> None:
    async def scenario() -> None:
        relay = await MediaRelay.open(allocator(seed=7))
        ua = await RtpEndpoint.open(UA_IP)
        dest = await RtpEndpoint.open(DEST_IP)
        try:
            relay.set_a_remote(ua.local_addr)
            relay.set_b_remote(dest.local_addr)
            relay.set_directions(True, False)  # the UA holds with a=sendonly
            ua.start_sending((TRUNK_IP, relay.a_port), rng=random.Random(1))
            dest.start_sending((TRUNK_IP, relay.b_port), rng=random.Random(2))
            assert await dest.wait_for_packets(10, 2.0)
            assert await until(lambda: relay.b_to_a.held >= 10)
            assert ua.received == [] and relay.b_to_a.packets == 0
            relay.set_directions(True, True)   # resumed
            assert await ua.wait_for_packets(5, 2.0)
        finally:
            for closable in (ua, dest, relay):
                closable.close()
    run(scenario())


async def _call_through_server(ua_steps: tuple[Any, ...], dest_script: tuple[Any, ...], *,
                               keep_sending: bool = False) -> tuple[CallResult, Destination, ReferenceServer]:
    dest = await Destination.start(DestinationSettings(listen=(SIM_DEST, 0), script=dest_script,
                                                       keep_sending_on_hold=keep_sending))
    config = make_config(dest.local_addr, listen=(f"udp:{SERVER}:0",))
    server = ReferenceServer(config)
    await server.start()
    local = server.local_addresses[0]
    ua = await UserAgent.start(UaSettings(listen=(SIM_UA, 0), username="alice", password="secret",
                                          domain="example.trunk.voipbin.net", target=(local.host, local.port)))
    try:
        result = await ua.call("+15550100", hold_ms=300, midcall=ua_steps,
                               expect_remote_bye=not ua_steps, remote_bye_timeout_ms=4000)
        await dest.wait_for_calls(1, 3.0)
    finally:
        await ua.stop()
        await dest.stop()
        await server.stop()
    return result, dest, server


def _received_2xx_to_invites(result: CallResult) -> list[float]:
    return [e.t_monotonic for e in result.events if e.kind == "sip-received" and e.detail.get("status") == 200
            and "INVITE" in str(e.detail.get("cseq"))]


def test_a_held_caller_gets_no_rtp_although_the_destination_keeps_sending() -> None:
    result, dest, _ = run(_call_through_server((Hold(300, "sendonly"), Resume(500)), (Send100(), Answer()),
                                               keep_sending=True), timeout=20)
    assert result.reinvites == [("sendonly", 200), ("sendrecv", 200)] and result.error is None
    answered, held, resumed = _received_2xx_to_invites(result)[:3]
    during = [p for p in result.rtp_packets if held + 0.06 < p.arrival < resumed]
    after = [p for p in result.rtp_packets if p.arrival > resumed + 0.06]
    assert dest.calls[0].rtp_sent > 0 and resumed - held > 0.4
    assert during == []  # the relay dropped what the (broken) destination kept sending
    assert len(after) >= 5  # and relays it again once resumed
    assert dest.calls[0].reinvites_answered == [200, 200]


def test_a_re_invite_from_the_destination_reaches_the_caller_in_its_own_dialog() -> None:
    script = (Send100(), Answer(), Hold(300, "inactive"), Resume(400), HangupAfter(300))
    result, dest, _ = run(_call_through_server((), script), timeout=20)
    assert result.reinvites_answered == [200, 200]  # the UA answered both, relayed to it
    assert dest.calls[0].reinvites == [("inactive", 200), ("sendrecv", 200)]
    invites = [e for e in result.events if e.kind == "sip-received" and e.detail.get("method") == "INVITE"]
    assert len(invites) == 2
    seqs = [int(str(e.detail["cseq"]).split()[0]) for e in invites]
    assert seqs[1] == seqs[0] + 1  # the trunk's own CSeq on the UA's leg, rising


def test_glare_both_re_invites_get_491_and_the_directions_stay() -> None:
    """RFC 3261 §14.1/§14.2: the UA's hold re-INVITE is on its way to the destination when the destination
    sends one of its own; the trunk answers that one 491, the destination (its own pending) answers the
    relayed one 491, which reaches the UA; the failed offer leaves the relay's directions open."""
    async def main() -> None:
        async with ServerRig() as rig:
            call = await establish(rig)
            relay = rig.server.relays.get(next(iter(rig.server.b2bua.calls)))
            assert relay is not None and relay.directions == (True, True)
            hold = make_offer(loopback(1), rig.rtp().port, 2, direction="sendonly").to_bytes()
            ua_responses = call.ua_request(rig, "INVITE", body=hold)
            relayed = await rig.dest.next_request("INVITE")
            assert b"a=sendonly" in relayed.request.body
            assert relay.directions == (True, False)  # the offer is in effect while it is pending
            dest_responses = call.dest_request(rig, "INVITE", body=offer(call.dest_rtp.port))
            assert (await dest_responses.final()).status == 491
            rig.dest.respond(relayed, 491)
            assert (await ua_responses.final()).status == 491
            assert relay.directions == (True, True)

    run(main())
