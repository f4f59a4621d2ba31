"""OPTIONS keep-alive, both ways: the server answers OPTIONS (200, Allow, Accept, Supported) without a
challenge, pings its destinations every ``options_interval``, marks one that stops answering down (a
call then goes to the next destination, or gets 503 at once when none is up) and up again when it answers.
Time is a SteppedClock: the RFC's timers and the configured interval, stepped, never waited for."""

from __future__ import annotations

import asyncio
import logging

import pytest

from reference_server.config import parse_config
from reference_server.server import ReferenceServer, with_listen
from sipcore.aio.clock import SteppedClock

from ..addresses import loopback
from .support import Peer, offer, retry_with_credentials, run

CONFIG = """
[server]
listen = ["udp:127.0.0.1:5060"]
[media]
address = "{host}"
port_min = 41000
port_max = 41099
[[trunk]]
domain_name = "example"
username = "alice"
password = "secret"
destination = [{destinations}]
options_interval = 30
options_timeout = 4
"""


async def _rig(clock: SteppedClock, dests: list[Peer]) -> ReferenceServer:
    text = CONFIG.format(host=loopback(1), destinations=", ".join(f'"{p.addr[0]}:{p.addr[1]}"' for p in dests))
    server = ReferenceServer(with_listen(parse_config(text), f"udp:{loopback(1)}:0"), clock=clock)
    await server.start()
    return server


def _addr(server: ReferenceServer) -> tuple[str, int]:
    local = server.local_addresses[0]
    return local.host, local.port


def test_server_answers_options_to_its_domain_and_address_without_challenge() -> None:
    async def main() -> None:
        clock = SteppedClock()
        dest, ua = await Peer.open(clock=clock), await Peer.open(loopback(2), clock=clock)
        server = await _rig(clock, [dest])
        try:
            host, port = _addr(server)
            for uri in ("sip:example.trunk.voipbin.net", f"sip:{host}:{port}"):
                request = ua.request("OPTIONS", uri, from_uri="sip:sbc@pbx.example.com", to_uri=uri)
                answer = await ua.send(request, (host, port)).final()
                assert answer.status == 200, uri
                allow = {m.strip() for m in (answer.headers.get("Allow") or "").split(",")}
                assert {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"} <= allow
                assert answer.headers.get("Accept") == "application/sdp"
                assert answer.headers.get("Supported") is not None
                assert answer.headers.get("Proxy-Authenticate") is None
            stranger = ua.request("OPTIONS", "sip:nobody.example.org", from_uri="sip:x@y.z", to_uri="sip:nobody.example.org")
            assert (await ua.send(stranger, (host, port)).final()).status == 404
        finally:
            await server.stop()
            dest.close()
            ua.close()
    run(main())


def test_server_pings_each_destination_at_start_and_every_interval() -> None:
    async def main() -> None:
        clock = SteppedClock()
        dest = await Peer.open(clock=clock)
        server = await _rig(clock, [dest])
        try:
            first = await dest.next_request("OPTIONS")
            options = first.request
            assert options.uri == f"sip:{dest.addr[0]}:{dest.addr[1]};transport=udp"
            assert options.from_.uri.host == "example.trunk.voipbin.net"  # type: ignore[union-attr]
            assert options.max_forwards == 70
            dest.respond(first, 200)
            await dest.no_request(0.2)  # nothing more before the interval
            await clock.advance(30)
            second = await dest.next_request("OPTIONS")
            assert second.request.cseq.seq == options.cseq.seq + 1
            assert second.request.top_via.branch != options.top_via.branch
            dest.respond(second, 200)
        finally:
            await server.stop()
            dest.close()
    run(main())


async def _call(server: ReferenceServer, ua: Peer) -> tuple[int, str | None]:
    uri = "sip:+15550100@example.trunk.voipbin.net"
    invite = ua.request("INVITE", uri, from_uri="sip:alice@example.trunk.voipbin.net", to_uri=uri, body=offer(4000))
    challenge = await ua.send(invite, _addr(server)).final()
    final = await ua.send(retry_with_credentials(invite, challenge, "alice", "secret"), _addr(server)).final()
    return final.status, final.headers.get("Retry-After")


def test_unanswered_destination_is_down_calls_get_503_at_once_and_it_comes_back(
        caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        clock = SteppedClock()
        dest, ua = await Peer.open(clock=clock), await Peer.open(loopback(2), clock=clock)
        server = await _rig(clock, [dest])
        try:
            await dest.next_request("OPTIONS")  # left unanswered
            await clock.advance(4)  # options_timeout
            status, retry_after = await _call(server, ua)
            assert status == 503 and retry_after is not None
            assert "is down: no answer to OPTIONS within 4 s" in caplog.text
            while not dest.requests.empty():  # only the ping's retransmissions reached it, no INVITE
                assert (await dest.next_request()).request.method == "OPTIONS"
            await clock.advance(26)
            ping = await dest.next_request("OPTIONS")
            while ping.request.cseq.seq == 1:  # a retransmission of the first one
                ping = await dest.next_request("OPTIONS")
            dest.respond(ping, 200)
            await dest.no_request(0.1)
            assert "is up again: OPTIONS answered 200 OK" in caplog.text
            call = asyncio.ensure_future(_call(server, ua))
            invite = await dest.next_request("INVITE")
            dest.respond(invite, 486)
            assert (await call)[0] == 486
        finally:
            await server.stop()
            dest.close()
            ua.close()
    caplog.set_level(logging.INFO, logger="reference_server.keepalive")
    run(main(), timeout=20)


def test_a_down_destination_is_skipped_for_the_next_one() -> None:
    async def main() -> None:
        clock = SteppedClock()
        first, second = await Peer.open(clock=clock), await Peer.open(loopback(3), clock=clock)
        ua = await Peer.open(loopback(2), clock=clock)
        server = await _rig(clock, [first, second])
        try:
            dest_ping = await second.next_request("OPTIONS")
            second.respond(dest_ping, 200)
            ping = await first.next_request("OPTIONS")
            first.respond(ping, 503)  # "not taking calls": down at once
            await first.no_request(0.1)
            call = asyncio.ensure_future(_call(server, ua))
            invite = await second.next_request("INVITE")
            second.respond(invite, 404)
            assert (await call)[0] == 404
            assert first.requests.empty()
        finally:
            await server.stop()
            for peer in (first, second, ua):
                peer.close()
    run(main())
