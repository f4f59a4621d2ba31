"""RFC 3263 §4 server location, sans-IO: which queries are asked and the targets their answers give."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from sipcore.errors import ProtocolError
from sipcore.locate import (
    LocateError,
    Locator,
    Naptr,
    Query,
    ServerName,
    Srv,
    locate_from_records,
    order_srv,
    parse_nameserver,
    parse_server,
)
from sipcore.transport_address import TransportAddress

D = "example.trunk.voipbin.net"
UDP_SRV, TCP_SRV = f"_sip._udp.{D}", f"_sip._tcp.{D}"
S1, S2, S3 = f"sip1.{D}", f"sip2.{D}", f"sip3.{D}"


def udp(host: str, port: int = 5060) -> TransportAddress:
    return TransportAddress("udp", host, port)


def tcp(host: str, port: int = 5060) -> TransportAddress:
    return TransportAddress("tcp", host, port)


def naptr(order: int, preference: int, service: str, replacement: str, flags: str = "s") -> Naptr:
    return Naptr(order, preference, flags, service, "", replacement)


def run(server: str, records: Mapping[tuple[str, str], Sequence[Any]], *, transports: Sequence[str] = ("udp", "tcp"),
        families: Sequence[str] = ("A",), seed: int = 1) -> tuple[list[TransportAddress], list[str]]:
    """The targets, and the queries asked in order."""
    locator = Locator(parse_server(server), rng=random.Random(seed), transports=transports, families=families)
    asked = []
    while (query := locator.next_query()) is not None:
        asked.append(str(query))
        locator.answer(query, records.get((query.name, query.rdtype), ()))
    return locator.targets(), asked


FULL: dict[tuple[str, str], list[Any]] = {
    (D, "NAPTR"): [naptr(20, 10, "SIP+D2T", TCP_SRV), naptr(10, 50, "SIP+D2U", UDP_SRV),
                   naptr(10, 10, "SIPS+D2T", f"_sips._tcp.{D}")],
    (UDP_SRV, "SRV"): [Srv(20, 0, 5071, S2), Srv(10, 0, 5070, S1)],
    (TCP_SRV, "SRV"): [Srv(10, 0, 5080, S3)],
    (S1, "A"): ["127.0.0.61"], (S2, "A"): ["127.0.0.62"], (S3, "A"): ["127.0.0.63"],
    (D, "A"): ["127.0.0.99"],
}


@pytest.mark.parametrize(("server", "targets", "asked"), [
    # a numeric IP: no DNS at all (§4.1, §4.2)
    ("sip:+15550100@127.0.0.1", [udp("127.0.0.1")], []),
    ("sip:127.0.0.1:5070;transport=tcp", [tcp("127.0.0.1", 5070)], []),
    ("sip:[::1]:5070", [udp("::1", 5070)], []),
    ("tcp:127.0.0.1", [tcp("127.0.0.1")], []),
    # a name with a port: A only, UDP unless written (§4.2)
    (f"sip:+1@{D}:5090", [udp("127.0.0.99", 5090)], [f"A {D}"]),
    (f"tcp:{D}:5090", [tcp("127.0.0.99", 5090)], [f"A {D}"]),
    # a transport but no port: SRV for that transport only, no NAPTR
    (f"sip:{D};transport=tcp", [tcp("127.0.0.63", 5080)], [f"SRV {TCP_SRV}", f"A {S3}"]),
    # a name alone: NAPTR (SIPS+D2T dropped: no TLS; then order 10 before order 20), its SRV by priority
    (f"sip:+15550100@{D}", [udp("127.0.0.61", 5070), udp("127.0.0.62", 5071)],
     [f"NAPTR {D}", f"SRV {UDP_SRV}", f"A {S1}", f"A {S2}"]),
    # the maddr parameter names the server (RFC 3263 §4)
    ("sip:+1@elsewhere.example.org;maddr=127.0.0.7", [udp("127.0.0.7")], []),
])
def test_what_is_asked_and_what_it_gives(server: str, targets: list[TransportAddress], asked: list[str]) -> None:
    assert run(server, FULL) == (targets, asked)


def test_naptr_order_then_preference_picks_the_service() -> None:
    records = {**FULL, (D, "NAPTR"): [naptr(10, 90, "SIP+D2U", UDP_SRV), naptr(10, 20, "SIP+D2T", TCP_SRV),
                                      naptr(5, 99, "SIP+D2U", UDP_SRV, flags="u")]}  # flag u: not a SIP record
    assert run(D, records)[0] == [tcp("127.0.0.63", 5080)]
    # a client speaking only UDP drops the TCP service (§4.1: services it does not support are discarded)
    assert run(D, records, transports=("udp",))[0] == [udp("127.0.0.61", 5070), udp("127.0.0.62", 5071)]


def test_the_next_naptr_service_when_the_first_has_no_srv_records() -> None:
    records = {**FULL, (D, "NAPTR"): [naptr(10, 10, "SIP+D2U", f"_sip._udp.gone.{D}"),
                                      naptr(20, 10, "SIP+D2T", TCP_SRV)]}
    targets, asked = run(D, records)
    assert targets == [tcp("127.0.0.63", 5080)]
    assert asked[:3] == [f"NAPTR {D}", f"SRV _sip._udp.gone.{D}", f"SRV {TCP_SRV}"]


def test_without_naptr_srv_for_each_transport_in_turn() -> None:
    records = {k: v for k, v in FULL.items() if k not in ((D, "NAPTR"), (UDP_SRV, "SRV"))}
    targets, asked = run(f"sip:{D}", records)
    assert targets == [tcp("127.0.0.63", 5080)]
    assert asked == [f"NAPTR {D}", f"SRV {UDP_SRV}", f"SRV {TCP_SRV}", f"A {S3}"]


def test_without_naptr_or_srv_the_name_itself_at_the_default_port() -> None:
    records = {(D, "A"): ["127.0.0.99"], (D, "AAAA"): ["::1"]}
    targets, asked = run(f"sip:{D}", records, families=("A", "AAAA"))
    assert targets == [udp("127.0.0.99"), udp("::1")]
    assert asked == [f"NAPTR {D}", f"SRV {UDP_SRV}", f"SRV {TCP_SRV}", f"A {D}", f"AAAA {D}"]
    # a TCP-only client: TCP at 5060 (§4.1 allows it when UDP is not spoken)
    assert run(f"sip:{D}", records, transports=("tcp",))[0] == [tcp("127.0.0.99")]


def test_an_srv_target_without_addresses_is_skipped() -> None:
    records = {**FULL, (UDP_SRV, "SRV"): [Srv(10, 0, 5070, f"ghost.{D}"), Srv(20, 0, 5071, S2)]}
    assert run(f"sip:{D}", records)[0] == [udp("127.0.0.62", 5071)]


def test_srv_records_leading_nowhere_do_not_fall_back_to_the_domain_a_record() -> None:
    records = {(UDP_SRV, "SRV"): [Srv(10, 0, 5070, f"ghost.{D}")], (D, "A"): ["127.0.0.99"]}
    with pytest.raises(LocateError) as err:
        run(f"sip:{D};transport=udp", records)
    assert f"A ghost.{D}: no records" in str(err.value) and str(err.value).startswith(f"cannot locate sip:{D}")


def test_srv_target_dot_means_not_available() -> None:
    records = {(UDP_SRV, "SRV"): [Srv(0, 0, 0, ".")], (D, "A"): ["127.0.0.99"]}
    with pytest.raises(LocateError, match='target ".": the service is not available'):
        run(f"sip:{D};transport=udp", records)


def test_nothing_found_names_every_query_and_answer() -> None:
    with pytest.raises(LocateError) as err:
        run(f"sip:+1@nowhere.{D}", {})
    message = str(err.value)
    for query in (f"NAPTR nowhere.{D}", f"SRV _sip._udp.nowhere.{D}", f"SRV _sip._tcp.nowhere.{D}",
                  f"A nowhere.{D}"):
        assert f"{query}: no records" in message


def test_naptr_offering_only_tls_to_a_client_without_tls_is_a_clear_error() -> None:
    records = {(D, "NAPTR"): [naptr(10, 10, "SIPS+D2T", f"_sips._tcp.{D}")]}
    with pytest.raises(LocateError, match=r"offer SIPS\+D2T; this client speaks SIP\+D2U, SIP\+D2T$"):
        run(D, records)


TLS_SRV = f"_sips._tcp.{D}"


def tls(host: str, port: int = 5061) -> TransportAddress:
    return TransportAddress("tls", host, port)


def test_a_sips_uri_takes_only_the_sips_naptr_record_and_its_sips_srv() -> None:
    """RFC 3263 §4.1: for a sips: URI only SIPS+D2T counts, even when SIP+D2U is preferred."""
    records = {(D, "NAPTR"): [naptr(10, 10, "SIP+D2U", UDP_SRV), naptr(20, 10, "SIPS+D2T", TLS_SRV)],
               (UDP_SRV, "SRV"): [Srv(1, 0, 5060, S1)], (TLS_SRV, "SRV"): [Srv(1, 0, 5071, S2)],
               (S1, "A"): ["192.0.2.1"], (S2, "A"): ["192.0.2.2"]}
    targets, asked = run(f"sips:+1@{D}", records, transports=("udp", "tcp", "tls"))
    assert targets == [tls("192.0.2.2", 5071)]
    assert asked == [f"NAPTR {D}", f"SRV {TLS_SRV}", f"A {S2}"]
    # a sip: URI with the same records: the preferred UDP record
    assert run(f"sip:+1@{D}", records, transports=("udp", "tcp", "tls"))[0] == [udp("192.0.2.1")]


def test_a_sips_uri_without_naptr_asks_sips_srv_then_the_a_record_at_5061() -> None:
    targets, asked = run(f"sips:+1@{D}", {(D, "A"): ["192.0.2.9"]}, transports=("tls",))
    assert targets == [tls("192.0.2.9")]
    assert asked == [f"NAPTR {D}", f"SRV {TLS_SRV}", f"A {D}"]
    assert run(f"sip:{D};transport=tls", {(TLS_SRV, "SRV"): [Srv(1, 0, 5081, S1)], (S1, "A"): ["192.0.2.3"]},
               transports=("tls",))[0] == [tls("192.0.2.3", 5081)]
    assert run(f"tls:{D}", {(D, "A"): ["192.0.2.4"]}, transports=("tls",))[0] == [tls("192.0.2.4")]
    assert run(f"sips:{D}:5099", {(D, "A"): ["192.0.2.5"]}, transports=("tls",))[0] == [tls("192.0.2.5", 5099)]


def test_a_sips_uri_for_a_client_without_tls_or_a_domain_without_sips_is_a_clear_error() -> None:
    with pytest.raises(LocateError, match="reached over TLS, but this client speaks UDP and TCP"):
        run(f"sips:+1@{D}", {})
    with pytest.raises(LocateError, match=r"offer SIP\+D2U; this client speaks SIPS\+D2T"):
        run(f"sips:+1@{D}", {(D, "NAPTR"): [naptr(10, 10, "SIP+D2U", UDP_SRV)]}, transports=("udp", "tls"))


def test_a_transport_the_client_does_not_speak_is_refused() -> None:
    with pytest.raises(LocateError, match="reached over TCP, but this client speaks UDP"):
        run("sip:127.0.0.1;transport=tcp", {}, transports=("udp",))


def test_addresses_in_a_then_aaaa_order_and_duplicates_once() -> None:
    records = {(UDP_SRV, "SRV"): [Srv(10, 0, 5070, S1), Srv(20, 0, 5070, S2)],
               (S1, "A"): ["127.0.0.61"], (S1, "AAAA"): ["::1"], (S2, "A"): ["127.0.0.61"]}
    targets, asked = run(f"udp:{D}", records, families=("A", "AAAA"))
    assert targets == [udp("127.0.0.61", 5070), udp("::1", 5070)]
    assert asked == [f"SRV {UDP_SRV}", f"A {S1}", f"AAAA {S1}", f"A {S2}", f"AAAA {S2}"]


# -- RFC 2782 ordering -------------------------------------------------------------------------------

class Fixed:
    """A "random" source returning the values given, in turn."""

    def __init__(self, *values: int) -> None:
        self.values = list(values)
        self.asked: list[tuple[int, int]] = []

    def randint(self, a: int, b: int) -> int:
        self.asked.append((a, b))
        return self.values.pop(0)


def test_priority_first_whatever_the_weights() -> None:
    records = [Srv(20, 1000, 1, "c"), Srv(10, 1, 2, "a"), Srv(30, 0, 3, "d"), Srv(10, 0, 4, "b")]
    assert [r.priority for r in order_srv(records, random.Random(3))] == [10, 10, 20, 30]


@pytest.mark.parametrize(("picks", "expected", "ranges"), [
    # zero weight first in the running sum (0, 60, 100): a pick of 0 selects it (RFC 2782)
    ((0, 0, 0), ["zero", "sixty", "forty"], [(0, 100), (0, 100), (0, 40)]),
    ((1, 0, 0), ["sixty", "zero", "forty"], [(0, 100), (0, 40), (0, 40)]),
    ((60, 0, 0), ["sixty", "zero", "forty"], [(0, 100), (0, 40), (0, 40)]),
    # 61 passes sixty's running sum: forty; then zero and sixty (sums 0, 60): 1 selects sixty; zero last,
    # with no random number needed for a group of weight 0
    ((61, 1), ["forty", "sixty", "zero"], [(0, 100), (0, 60)]),
])
def test_running_sum_selection(picks: tuple[int, ...], expected: list[str], ranges: list[tuple[int, int]]) -> None:
    records = [Srv(10, 60, 1, "sixty"), Srv(10, 40, 2, "forty"), Srv(10, 0, 3, "zero")]
    rng = Fixed(*picks)
    assert [r.target for r in order_srv(records, rng)] == expected
    assert rng.asked == ranges


def test_weights_share_the_first_place_in_proportion() -> None:
    records = [Srv(10, 60, 1, "a"), Srv(10, 30, 2, "b"), Srv(10, 10, 3, "c"), Srv(10, 0, 4, "z")]
    rng = random.Random(2782)
    first = Counter(order_srv(records, rng)[0].target for _ in range(20_000))
    assert abs(first["a"] / 20_000 - 60 / 101) < 0.02
    assert abs(first["b"] / 20_000 - 30 / 101) < 0.02
    assert abs(first["c"] / 20_000 - 10 / 101) < 0.02
    assert first["z"] / 20_000 < 0.02  # weight 0: first only when the pick is 0 (1 in 101)


def test_the_same_seed_gives_the_same_order() -> None:
    records = [Srv(10, 50, i, f"t{i}") for i in range(6)]
    assert order_srv(records, random.Random(9)) == order_srv(records, random.Random(9))
    orders = {tuple(r.port for r in order_srv(records, random.Random(seed))) for seed in range(40)}
    assert len(orders) > 10  # and different seeds spread the load


# -- names, URIs and misuse --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("sip:+15550100@Example.Trunk.Voipbin.Net", ServerName(D, None, None)),
    (f"sip:{D}:5070;transport=TCP", ServerName(D, 5070, "tcp")),
    (f"{D}.", ServerName(D, None, None)),
    (f"udp:{D}", ServerName(D, None, "udp")),
    ("[::1]:5070", ServerName("::1", 5070, None)),
])
def test_parse_server(text: str, expected: ServerName) -> None:
    parsed = parse_server(text)
    assert (parsed.host, parsed.port, parsed.transport) == (expected.host, expected.port, expected.transport)


@pytest.mark.parametrize(("text", "message"), [
    (f"sips:+1@{D};transport=udp", "a sips: URI is reached over TLS, not udp"),
    (f"sip:{D};transport=sctp", "transport sctp is not supported (udp, tcp or tls)"),
    ("sip:", "is not a valid SIP URI"),
    ("bad_name!:5060", "is not an IP address (expected a host name, an IP address or a sip: URI)"),
])
def test_parse_server_errors_quote_the_text(text: str, message: str) -> None:
    with pytest.raises(LocateError) as err:
        parse_server(text)
    assert message in str(err.value) and text in str(err.value)


def test_parse_nameserver() -> None:
    assert parse_nameserver("127.0.0.53") == ("127.0.0.53", 53)
    assert parse_nameserver("127.0.0.53:5353") == ("127.0.0.53", 5353)
    assert parse_nameserver("[::1]:5353") == ("::1", 5353)
    for bad in ("dns.example.org", "udp:127.0.0.1:53", "127.0.0.1:0"):
        with pytest.raises(LocateError, match="DNS server"):
            parse_nameserver(bad)


def test_an_answer_to_another_query_is_misuse() -> None:
    locator = Locator(parse_server(D), rng=random.Random(1))
    assert locator.next_query() == Query(D, "NAPTR")
    with pytest.raises(ProtocolError, match=f"waiting for NAPTR {D}"):
        locator.answer(Query(D, "SRV"), [])
    with pytest.raises(ProtocolError, match="still waiting"):
        locator.targets()


def test_a_server_failure_is_no_records_and_the_trace_says_why() -> None:
    locator = Locator(parse_server(f"sip:{D}:5070"), rng=random.Random(1), families=("A",))
    query = locator.next_query()
    assert query == Query(D, "A")
    locator.answer(query, ["127.0.0.1"], problem="no usable answer (SERVFAIL)")
    with pytest.raises(LocateError, match=f"A {D}: no usable answer \\(SERVFAIL\\)"):
        locator.targets()


def test_locate_from_records_compares_names_without_case_or_final_dot() -> None:
    records = {(f"_SIP._UDP.{D.upper()}.", "srv"): [Srv(10, 0, 5070, f"{S1}.")], (S1.upper(), "A"): ["127.0.0.61"]}
    assert locate_from_records(f"udp:{D}", records, rng=random.Random(1)) == [udp("127.0.0.61", 5070)]


@pytest.mark.parametrize(("text", "expected"), [
    ("sips:+1@127.0.0.1", TransportAddress("tls", "127.0.0.1", 5061)),  # RFC 3261 §19.1.2
    ("sip:127.0.0.1:5081;transport=tls", TransportAddress("tls", "127.0.0.1", 5081)),
    ("tls:[::1]:5062", TransportAddress("tls", "::1", 5062)),
])
def test_a_tls_server_given_by_address_needs_no_dns(text: str, expected: TransportAddress) -> None:
    assert locate_from_records(text, {}, rng=random.Random(1), transports=("tls",)) == [expected]
