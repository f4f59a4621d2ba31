"""A destination's 503 with Retry-After, seen by one worker of a multi-worker server, keeps every worker's
calls away from it: the replicas exchange it like registrar bindings (reference_server.shared_state)."""

from __future__ import annotations

from reference_server.destination_health import DestinationHealth
from reference_server.registrar import Registrar
from reference_server.shared_state import SharedFailureLimiter, apply_update, share_health
from sipcore.parser import parse_message

DEST = ("192.0.2.30", 5060)
OTHER = ("192.0.2.31", 5060)


def unavailable(retry_after: str) -> object:
    return parse_message((
        "SIP/2.0 503 Service Unavailable\r\nVia: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKx\r\n"
        "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>;tag=2\r\nCall-ID: c1\r\n"
        f"CSeq: 1 INVITE\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\n\r\n").encode())


def test_a_503_seen_by_one_worker_holds_the_destination_down_on_the_others() -> None:
    mine, theirs = DestinationHealth(), DestinationHealth()
    wire: list[tuple[bytes, bytes]] = []
    share_health(mine, lambda kind, payload: wire.append((kind, payload)))
    assert mine.note(DEST, unavailable("30"), now=100.0) == 30.0  # type: ignore[arg-type]
    assert len(wire) == 1
    registrar, limiter = Registrar(), SharedFailureLimiter(3, 60.0, 60.0)
    assert apply_update(*wire[0], registrar, limiter, theirs)
    assert theirs.down_for(DEST, 110.0) == 20.0 and theirs.down_for(OTHER, 110.0) == 0.0
    assert theirs.down_for(DEST, 130.5) == 0.0  # the Retry-After is over everywhere


def test_an_earlier_hold_from_another_worker_does_not_shorten_a_longer_one() -> None:
    health = DestinationHealth()
    health.hold_until(DEST, 200.0)
    health.hold_until(DEST, 150.0)
    assert health.down_for(DEST, 100.0) == 100.0


def test_only_the_first_worker_pings_and_the_others_route_by_what_it_saw() -> None:
    from collections import namedtuple
    from types import SimpleNamespace

    from reference_server.registrar import Registrar as _Registrar
    from reference_server.shared_state import share_keepalive
    from reference_server.trunk_calls import TrunkDestinations

    def replica(pinging: bool, wire: list[tuple[bytes, bytes]]) -> TrunkDestinations:
        destinations = TrunkDestinations(None, None, None, None, via_host="192.0.2.20")  # type: ignore[arg-type]
        share_keepalive(destinations, lambda kind, payload: wire.append((kind, payload)), pinging=pinging)
        return destinations

    wire: list[tuple[bytes, bytes]] = []
    first, second = replica(True, wire), replica(False, wire)
    assert first.pinging and not second.pinging
    second.start((), [object()])  # type: ignore[list-item]  # a worker that does not ping starts no monitor
    assert second.monitors == {}
    trunk, dest = SimpleNamespace(name="example"), namedtuple("Dest", "uri")("sip:192.0.2.30:5060")
    assert second.is_up(trunk, dest)  # type: ignore[arg-type]  # never pinged: up
    assert first.publish_state is not None
    first.publish_state("example", "sip:192.0.2.30:5060", False)  # what the first worker's monitor reports
    assert apply_update(*wire[-1], _Registrar(), SharedFailureLimiter(3, 60.0, 60.0), None, second)
    assert not second.is_up(trunk, dest)  # type: ignore[arg-type]
    first.publish_state("example", "sip:192.0.2.30:5060", True)
    apply_update(*wire[-1], _Registrar(), SharedFailureLimiter(3, 60.0, 60.0), None, second)
    assert second.is_up(trunk, dest)  # type: ignore[arg-type]


def test_every_kind_of_channel_message_has_a_byte_of_its_own() -> None:
    from reference_server import front_door, shared_state, worker
    kinds = [shared_state.BINDINGS, shared_state.FAILURE, shared_state.SUCCESS, shared_state.HELD,
             shared_state.KEEPALIVE, worker.DATAGRAM, worker.HELLO, front_door.OVERLOAD]
    assert len(set(kinds)) == len(kinds), kinds  # a HELD sent as b"H" was taken for a worker's hello
