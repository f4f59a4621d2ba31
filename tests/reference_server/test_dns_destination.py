"""A trunk whose destination is a host name (``destination = "sip:carrier.test"``): the server locates it for
each call as RFC 3263 says (NAPTR, SRV, A from dnsmasq on this process's loopback block), and moves the B
leg to the next SRV target when the first answers 503, stays silent or is unreachable."""

from __future__ import annotations

import logging
import socket

import pytest

from reference_server.config import (
    ConfigError,
    Destination,
    apply_overrides,
    load_config,
    parse_config,
    parse_destination,
)

from ..addresses import loopback
from ..dns_server import Zone, dnsmasq, dnsmasq_missing
from .support import Peer, ServerRig, run

CARRIER = "carrier.test"
D1, D2 = loopback(71, subnet=55), loopback(72, subnet=55)  # SRV priority 10, then 20

needs_dnsmasq = pytest.mark.skipif(dnsmasq_missing() is not None, reason=str(dnsmasq_missing()))


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def carrier_zone(port1: int, port2: int) -> Zone:
    zone = Zone(CARRIER)
    zone.naptr(CARRIER, 10, 10, "SIP+D2U", f"_sip._udp.{CARRIER}")
    zone.srv(f"_sip._udp.{CARRIER}", f"d1.{CARRIER}", port1, priority=10)
    zone.srv(f"_sip._udp.{CARRIER}", f"d2.{CARRIER}", port2, priority=20)
    return zone.host(f"d1.{CARRIER}", D1).host(f"d2.{CARRIER}", D2)


@pytest.mark.parametrize(("text", "expected"), [
    ("sip:carrier.test", Destination("carrier.test", None, None)),
    ("sip:Carrier.Test:5080", Destination("carrier.test", 5080, None)),
    ("tcp:carrier.test", Destination("carrier.test", None, "tcp")),
    ("127.0.0.1", Destination("127.0.0.1", 5060, "udp")),  # an IP: the RFC 3263 defaults at once
])
def test_a_named_destination_leaves_port_and_transport_to_dns(text: str, expected: Destination) -> None:
    assert parse_destination(text) == expected
    assert parse_destination(text).by_dns == (expected.host == "carrier.test")


def test_the_dns_server_from_the_file_or_the_command_line() -> None:
    trunk = '[[trunk]]\ndomain_name = "xy"\nusername = "u"\npassword = "p"\ndestination = "sip:carrier.test"\n'
    assert parse_config('[server]\ndns = "127.0.0.53:5353"\n' + trunk, "s.toml").dns == ("127.0.0.53", 5353)
    assert parse_config(trunk, "s.toml").dns is None  # the system's resolver
    assert apply_overrides(load_config(None), None, None, "[::1]").dns == ("::1", 53)
    with pytest.raises(ConfigError, match='s.toml:2: server.dns: DNS server "resolver.example": "resolver.example" '
                                          "is not an IP address"):
        parse_config('[server]\ndns = "resolver.example"\n' + trunk, "s.toml")
    with pytest.raises(ConfigError, match="--dns: DNS server"):
        apply_overrides(load_config(None), None, None, "udp:127.0.0.1")


@needs_dnsmasq
def test_the_call_goes_to_the_srv_target() -> None:
    port1, port2 = _free_port(D1), _free_port(D2)
    with dnsmasq(carrier_zone(port1, port2)) as (ip, port):
        async def scenario() -> None:
            async with ServerRig(destination=f"sip:{CARRIER}", dns=f"{ip}:{port}") as rig:
                d1 = await Peer.open(D1, clock=rig.clock, port=port1)
                rig.cleanups.append(d1.close)
                _, responses = await rig.authed_invite(rig.invite())
                b_invite = await d1.next_request("INVITE")
                assert b_invite.request.uri == f"sip:15551234@{CARRIER}"  # the name, not the address
                d1.respond(b_invite, 200, body=b"")
                ok = await responses.final()
                assert ok.status == 200
        run(scenario())


@needs_dnsmasq
@pytest.mark.parametrize("first", ["503", "silent", "unreachable"])
def test_the_next_srv_target_when_the_first_fails(first: str, caplog: pytest.LogCaptureFixture) -> None:
    port1, port2 = _free_port(D1), _free_port(D2)
    with dnsmasq(carrier_zone(port1, port2)) as (ip, port):
        async def scenario() -> None:
            async with ServerRig(destination=f"sip:{CARRIER}", dns=f"{ip}:{port}") as rig:
                d1 = None if first == "unreachable" else await Peer.open(D1, clock=rig.clock, port=port1)
                d2 = await Peer.open(D2, clock=rig.clock, port=port2)
                rig.cleanups += [d2.close] + ([d1.close] if d1 is not None else [])
                _, responses = await rig.authed_invite(rig.invite())
                if d1 is not None:
                    tried = await d1.next_request("INVITE")
                    if first == "503":
                        d1.respond(tried, 503)
                    else:
                        await rig.clock.advance(64 * rig.timers.t1)  # Timer B
                moved = await d2.next_request("INVITE")
                if d1 is not None:  # the same request as a new transaction (RFC 3263 §4.3)
                    assert moved.request.call_id == tried.request.call_id
                    assert moved.request.cseq.seq == tried.request.cseq.seq
                    assert moved.request.top_via.branch != tried.request.top_via.branch
                d2.respond(moved, 200, body=b"")
                ok = await responses.final()
                assert ok.status == 200, f"{ok.status} {ok.reason}"
        with caplog.at_level(logging.INFO, logger="reference_server.call"):
            run(scenario())
    moves = [r.getMessage() for r in caplog.records if "RFC 3263" in r.getMessage()]
    assert len(moves) == 1 and f"at {D1}:{port1}; trying {D2}:{port2}" in moves[0], moves


@needs_dnsmasq
def test_when_every_target_fails_the_caller_gets_the_last_answer() -> None:
    """d1 silent (a timeout), d2 486: the caller gets 486, not the 408 of the target given up."""
    port1, port2 = _free_port(D1), _free_port(D2)
    with dnsmasq(carrier_zone(port1, port2)) as (ip, port):
        async def scenario() -> None:
            async with ServerRig(destination=f"sip:{CARRIER}", dns=f"{ip}:{port}") as rig:
                d1 = await Peer.open(D1, clock=rig.clock, port=port1)
                d2 = await Peer.open(D2, clock=rig.clock, port=port2)
                rig.cleanups += [d1.close, d2.close]
                _, responses = await rig.authed_invite(rig.invite())
                await d1.next_request("INVITE")
                await rig.clock.advance(64 * rig.timers.t1)  # Timer B
                d2.respond(await d2.next_request("INVITE"), 486)
                final = await responses.final()
                assert final.status == 486, f"{final.status} {final.reason}"
        run(scenario())


@needs_dnsmasq
def test_a_destination_dns_does_not_know_is_503_and_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    with dnsmasq(carrier_zone(5070, 5071)) as (ip, port):
        async def scenario() -> None:
            async with ServerRig(destination=f"sip:gone.{CARRIER}", dns=f"{ip}:{port}") as rig:
                _, responses = await rig.authed_invite(rig.invite())
                final = await responses.final()
                assert final.status == 503
        with caplog.at_level(logging.WARNING, logger="reference_server.call"):
            run(scenario())
    lines = [r.getMessage() for r in caplog.records if "cannot be located" in r.getMessage()]
    assert len(lines) == 1 and f"cannot locate sip:gone.{CARRIER}: NAPTR gone.{CARRIER}: no records" in lines[0]
    assert not any(r.exc_info for r in caplog.records)
