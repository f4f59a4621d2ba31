"""A trunk with several destinations (``destination = [...]``, reference_server.failover): the next one is
tried on a 503 (its Retry-After keeps the first out of later calls), on no response within
``destination_timeout`` and on a transport error; any other final status is the call's answer and is relayed;
when every destination has failed the caller gets 503."""

from __future__ import annotations

import dataclasses
import socket

from reference_server.config import ServerConfig
from reference_server.destination import Destination
from sipcore.message import Request

from ..addresses import loopback
from .support import Peer, Responses, ServerRig, offer, run


def second_destination(peer: list[Peer], timeout: float | None = None) -> object:
    """A ``configure`` for ServerRig: every trunk's second destination is the peer put in ``peer``."""

    def configure(config: ServerConfig) -> ServerConfig:
        host, port = peer[0].addr
        return dataclasses.replace(config, trunks=tuple(
            dataclasses.replace(t, fallback_destinations=(Destination(host, port, "udp"),), destination_timeout=timeout)
            for t in config.trunks))

    return configure


class TwoDestinations(ServerRig):
    """ServerRig whose trunks send to ``dest`` first, then to ``dest2``."""

    def __init__(self, timeout: float | None = None, first: str | None = None) -> None:
        self._dest2: list[Peer] = []
        super().__init__(configure=second_destination(self._dest2, timeout), destination=first)  # type: ignore[arg-type]

    async def __aenter__(self) -> TwoDestinations:
        self.dest2 = await Peer.open(loopback(2), clock=self.clock)
        self._dest2.append(self.dest2)
        self.cleanups.append(self.dest2.close)
        await super().__aenter__()
        return self


async def call(rig: ServerRig) -> tuple[Request, Responses]:
    return await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))


def test_a_503_with_retry_after_moves_the_call_on_and_keeps_the_first_destination_out_meanwhile() -> None:
    async def main() -> None:
        async with TwoDestinations() as rig:
            _, responses = await call(rig)
            first = await rig.dest.next_request("INVITE")
            rig.dest.respond(first, 503, headers=[("Retry-After", "30")])
            second = await rig.dest2.next_request("INVITE")
            assert second.request.uri == f"sip:15551234@{loopback(2)}:{rig.dest2.addr[1]}"
            assert second.request.call_id != first.request.call_id  # a new INVITE towards another gateway
            assert second.request.body == first.request.body  # the same offer
            rig.dest2.respond(second, 200, body=second.request.body)
            assert (await responses.final()).status == 200
            assert not [r for r in responses.seen if r.status == 503]

            _, again = await call(rig)  # within the Retry-After: straight to the second destination
            assert (await rig.dest2.next_request("INVITE")).request.uri == second.request.uri
            await rig.dest.no_request(0.3)

            await rig.clock.advance(31)  # the Retry-After is over: the first destination is tried again
            _, later = await call(rig)
            await rig.dest.next_request("INVITE")

    run(main())


def test_a_busy_destination_is_the_answer_the_next_one_is_not_tried() -> None:
    async def main() -> None:
        async with TwoDestinations() as rig:
            _, responses = await call(rig)
            rig.dest.respond(await rig.dest.next_request("INVITE"), 486)
            assert (await responses.final()).status == 486
            await rig.dest2.no_request(0.3)

    run(main())


def test_no_response_within_the_destination_timeout_moves_the_call_on() -> None:
    async def main() -> None:
        async with TwoDestinations(timeout=2.0) as rig:
            _, responses = await call(rig)
            await rig.dest.next_request("INVITE")  # and nothing comes back
            await rig.dest2.no_request(0.2)
            await rig.clock.advance(2)
            second = await rig.dest2.next_request("INVITE")
            rig.dest2.respond(second, 180)
            assert (await responses.status(180)).status == 180
            await rig.clock.advance(2)  # a provisional response: the timeout no longer applies
            rig.dest2.respond(second, 200, body=second.request.body)
            assert (await responses.final()).status == 200

    run(main())


def test_a_transport_error_moves_the_call_on() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # a port where nothing listens
        probe.bind((loopback(1), 0))
        closed = probe.getsockname()[1]

    async def main() -> None:
        async with TwoDestinations(first=f"sip:{loopback(1)}:{closed}") as rig:
            _, responses = await call(rig)
            second = await rig.dest2.next_request("INVITE")
            rig.dest2.respond(second, 200, body=second.request.body)
            assert (await responses.final()).status == 200

    run(main())


def test_every_destination_failing_gives_the_caller_503() -> None:
    async def main() -> None:
        async with TwoDestinations(timeout=1.0) as rig:
            _, responses = await call(rig)
            rig.dest.respond(await rig.dest.next_request("INVITE"), 503, headers=[("Retry-After", "60")])
            await rig.dest2.next_request("INVITE")  # silent
            await rig.clock.advance(1)
            final = await responses.final()
            assert (final.status, final.reason) == (503, "Service Unavailable")  # not the silent one's 408
            assert final.headers.get("Retry-After") is None  # the trunk still has a destination that is up

    run(main())


def test_every_destination_down_answers_503_with_the_shortest_retry_after() -> None:
    async def main() -> None:
        async with TwoDestinations() as rig:
            _, responses = await call(rig)
            rig.dest.respond(await rig.dest.next_request("INVITE"), 503, headers=[("Retry-After", "60")])
            rig.dest2.respond(await rig.dest2.next_request("INVITE"), 503, headers=[("Retry-After", "20 (busy)")])
            assert (await responses.final()).status == 503
            _, refused = await call(rig)
            final = await refused.final()
            assert final.status == 503 and final.headers.get("Retry-After") == "20"
            await rig.dest.no_request(0.2)
            await rig.dest2.no_request(0.1)

    run(main())
