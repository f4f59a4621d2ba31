"""RFC 3263 location over real DNS: dnspython's asyncio resolver asking dnsmasq (started by the test on this
process's loopback block, port 5353) for NAPTR, SRV and A records."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from sipcore.aio.resolver import SipResolver, locate_blocking
from sipcore.locate import LocateError
from sipcore.transport_address import TransportAddress

from ..addresses import block
from ..dns_server import TRUNK, dnsmasq, dnsmasq_missing, trunk_zone

pytestmark = pytest.mark.skipif(dnsmasq_missing() is not None, reason=str(dnsmasq_missing()))

SIP1, SIP2, SIP3 = (block().ip(61, subnet=53), 5070), (block().ip(62, subnet=53), 5071), (block().ip(63, subnet=53), 5080)


@pytest.fixture(scope="module")
def dns_server() -> Iterator[tuple[str, int]]:
    with dnsmasq(trunk_zone(SIP1, SIP2, SIP3)) as server:
        yield server


def locate(server: tuple[str, int], text: str, **kwargs: object) -> list[TransportAddress]:
    return asyncio.run(SipResolver(server, timeout=2.0, rng=random.Random(1)).locate(text, **kwargs))  # type: ignore[arg-type]


def test_naptr_srv_a_in_priority_order(dns_server: tuple[str, int]) -> None:
    assert locate(dns_server, f"sip:+15550100@{TRUNK}", families=("A",)) == [
        TransportAddress("udp", *SIP1), TransportAddress("udp", *SIP2)]


def test_a_tcp_client_takes_the_tcp_naptr_service(dns_server: tuple[str, int]) -> None:
    assert locate(dns_server, TRUNK, transports=("tcp",), families=("A",)) == [TransportAddress("tcp", *SIP3)]


def test_a_port_skips_naptr_and_srv(dns_server: tuple[str, int]) -> None:
    resolver = SipResolver(dns_server, rng=random.Random(1))
    assert asyncio.run(resolver.locate(f"sip1.{TRUNK}:5999", families=("A",))) == [
        TransportAddress("udp", SIP1[0], 5999)]
    assert resolver.trace == [f"A sip1.{TRUNK}: {SIP1[0]}"]


def test_an_unknown_name_says_what_each_query_answered(dns_server: tuple[str, int]) -> None:
    with pytest.raises(LocateError) as err:
        locate(dns_server, f"sip:+1@nowhere.{TRUNK}", families=("A",))
    message = str(err.value)
    assert message.startswith(f"cannot locate sip:+1@nowhere.{TRUNK}: NAPTR nowhere.{TRUNK}: no records")
    assert f"A nowhere.{TRUNK}: no records" in message


def test_a_refusing_server_is_named_in_the_trace(dns_server: tuple[str, int]) -> None:
    with pytest.raises(LocateError) as err:
        locate(dns_server, "sip:elsewhere.example.org:5060", families=("A",))  # outside dnsmasq's --local
    assert "A elsewhere.example.org: no usable answer" in str(err.value)
    assert "REFUSED" in str(err.value)


def test_a_silent_dns_server_ends_within_the_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind((block().ip(99, subnet=53), 0))
        server = silent.getsockname()
        started = time.monotonic()
        with pytest.raises(LocateError) as err:
            asyncio.run(SipResolver(server, timeout=0.3).locate(f"sip:{TRUNK}"))
        elapsed = time.monotonic() - started
    assert f"NAPTR {TRUNK}: no answer from the DNS server {server[0]}:{server[1]} within 0.3 s" in str(err.value)
    assert elapsed < 2.0


def test_equal_priorities_are_shared_by_weight() -> None:
    with dnsmasq(trunk_zone(SIP1, SIP2, weights=(90, 10), same_priority=True)) as server:
        resolver = SipResolver(server, rng=random.Random(2782))

        async def firsts() -> Counter[str]:
            counts: Counter[str] = Counter()
            for _ in range(300):
                counts[(await resolver.locate(f"udp:{TRUNK}", families=("A",)))[0].host] += 1
            return counts

        first = asyncio.run(firsts())
    assert 0.8 < first[SIP1[0]] / 300 < 0.97 and first[SIP2[0]] > 0


def test_locate_blocking_inside_and_outside_an_event_loop(dns_server: tuple[str, int]) -> None:
    expected = [TransportAddress("udp", *SIP1), TransportAddress("udp", *SIP2)]
    assert locate_blocking(TRUNK, nameserver=dns_server, families=("A",)) == expected

    async def inside() -> list[TransportAddress]:
        return locate_blocking(TRUNK, nameserver=dns_server, families=("A",))

    assert asyncio.run(inside()) == expected
