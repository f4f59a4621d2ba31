"""Whether a digest uri designates the request's target or the server itself (RFC 7616 §3.4.6)."""

from __future__ import annotations

import pytest

from sipcore.digest_uri import ServerNames, digest_uri_problem
from sipcore.uri import canonical_host, default_port, parse_uri

RURI = "sip:15550100@example.trunk.voipbin.net"
NAMES = ServerNames.of(["Example.Trunk.Voipbin.Net."], [("127.0.0.10", 5060), ("127.0.0.10", 5070),
                                                        ("[::1]", 5060)])


@pytest.mark.parametrize("digest_uri", [
    RURI,
    "SIP:15550100@EXAMPLE.trunk.voipbin.net",  # host and scheme case-insensitive (§19.1.4)
    "sip:%31%35%35%35%30%31%30%30@example.trunk.voipbin.net",  # the user %-escaped
    "sip:15550100@example.trunk.voipbin.net;transport=udp",  # the trunk's domain, the same user
])
def test_the_request_target_is_accepted(digest_uri: str) -> None:
    assert digest_uri_problem(digest_uri, RURI, NAMES) is None


@pytest.mark.parametrize("digest_uri", [
    "sip:example.trunk.voipbin.net",  # the trunk's domain
    "sip:EXAMPLE.trunk.voipbin.net.:5070",  # with a port the server listens on
    "sip:127.0.0.10:5060",  # SIPp's default: the address it sent to
    "sip:127.0.0.10:5070",
    "sip:127.0.0.10",  # no port: 5060 (RFC 3261 §19.1.2)
    "sip:[::1]",  # IPv6, brackets and the default port
    "sip:[0:0:0:0:0:0:0:1]:5060",  # another spelling of ::1
    "sip:[::ffff:127.0.0.10]:5060",  # IPv4-mapped
    "sip:127.0.0.10:5060;transport=udp;lr",
])
def test_the_server_itself_is_accepted(digest_uri: str) -> None:
    assert digest_uri_problem(digest_uri, RURI, NAMES) is None


def test_default_port_equivalence_goes_by_the_scheme() -> None:
    only_5070 = ServerNames.of([], [("127.0.0.10", 5070)])
    assert "designates neither" in (digest_uri_problem("sip:127.0.0.10", RURI, only_5070) or "")
    tls = ServerNames.of([], [("127.0.0.10", 5061)])
    assert digest_uri_problem("sips:127.0.0.10", "sips:15550100@example.trunk.voipbin.net", tls) is None
    assert digest_uri_problem("sips:127.0.0.10", "sips:15550100@example.trunk.voipbin.net", NAMES) is not None
    assert (default_port("sip"), default_port("SIPS")) == (5060, 5061)


@pytest.mark.parametrize("digest_uri, why", [
    ("sip:evil.example.com", "designates neither the Request-URI nor this server"),
    ("sip:15550100@evil.example.com", "designates neither"),
    ("sip:127.0.0.10:5080", "designates neither"),  # our address, a port we do not listen on
    ("sip:127.0.0.11:5060", "designates neither"),
    ("sip:example.trunk.voipbin.net:9999", "designates neither"),
    ("sip:other.trunk.voipbin.net", "designates neither"),  # another trunk
    ("sip:bob@example.trunk.voipbin.net", "names user 'bob', but the Request-URI is for user '15550100'"),
    ("sip:127.0.0.10;maddr=192.0.2.1", "maddr"),
    ("sip:127.0.0.10?subject=x", "URI headers"),
    ("sips:127.0.0.10:5060", "is a sips URI, the Request-URI a sip one"),
    ("tel:+15550100", "is not the Request-URI"),
])
def test_a_foreign_uri_is_refused_naming_it(digest_uri: str, why: str) -> None:
    problem = digest_uri_problem(digest_uri, RURI, NAMES)
    assert problem is not None and why in problem
    assert problem.startswith(f"digest uri {digest_uri!r}")


def test_the_refusal_says_what_would_designate_this_server() -> None:
    problem = digest_uri_problem("sip:evil.example.com", RURI, NAMES)
    assert problem is not None
    assert problem.endswith("(example.trunk.voipbin.net, 127.0.0.10:5060, 127.0.0.10:5070, [::1]:5060)")
    many = ServerNames.of(["a.example"], [(f"10.0.0.{i}", 5060) for i in range(9)])
    assert (digest_uri_problem("sip:b.example", RURI, many) or "").endswith("10.0.0.2:5060 and 6 more)")


@pytest.mark.parametrize("digest_uri", ["sip:", "sip:a b@example.com", "example.trunk.voipbin.net",
                                        "sip:127.0.0.10:99999", "sip:%zz@h"])
def test_a_malformed_uri_is_refused(digest_uri: str) -> None:
    problem = digest_uri_problem(digest_uri, RURI, NAMES)
    assert problem is not None and problem.startswith("malformed digest uri: ")


@pytest.mark.parametrize("digest_uri", ["sip:::1:5060", "sip:::1", "sip:0:0:0:0:0:0:0:1:5060"])
def test_sipps_unbracketed_ipv6_naming_the_server_is_accepted(digest_uri: str) -> None:
    """SIPp over IPv6 writes its default digest uri without brackets: read as the address it can only be."""
    assert digest_uri_problem(digest_uri, RURI, NAMES) is None


@pytest.mark.parametrize("digest_uri, why", [
    ("sip:::1:5070", "designates neither"),  # a port the server does not listen on at ::1
    ("sip:2001:db8::1:5060", "designates neither"),
    ("sip:::1:99999", "malformed digest uri"),
    ("sip:::1:5060;transport=udp", "malformed digest uri"),  # only the bare address form is tolerated
    ("sip:alice@::1:5060", "malformed digest uri"),
])
def test_other_unbracketed_ipv6_uris_are_refused(digest_uri: str, why: str) -> None:
    problem = digest_uri_problem(digest_uri, RURI, NAMES)
    assert problem is not None and why in problem
    assert "malformed digest uri" in (digest_uri_problem("sip:::1:5060", RURI) or "")  # no server names


def test_a_long_uri_is_cut_in_the_reason() -> None:
    problem = digest_uri_problem("sip:" + "a" * 500 + ".example", RURI, NAMES)
    assert problem is not None and len(problem) < 300 and "..." in problem


def test_user_parts_for_a_request_uri_without_one() -> None:
    register = "sip:example.registrar.voipbin.net"
    registrar = ServerNames.of(["example.registrar.voipbin.net"], [("127.0.0.10", 5060)])
    assert digest_uri_problem("sip:127.0.0.10:5060", register, registrar) is None
    problem = digest_uri_problem("sip:1001@example.registrar.voipbin.net", register, registrar)
    assert problem is not None and "the Request-URI has no user part" in problem


def test_without_server_names_only_the_request_uri_is_accepted() -> None:
    assert digest_uri_problem("sip:15550100@EXAMPLE.trunk.voipbin.net", RURI) is None
    assert digest_uri_problem("sip:127.0.0.10:5060", RURI) == (
        f"digest uri 'sip:127.0.0.10:5060' is not the Request-URI {RURI!r}")


def test_a_parsed_request_uri_is_taken_as_it_is() -> None:
    assert digest_uri_problem("sip:127.0.0.10", parse_uri(RURI), NAMES) is None
    assert digest_uri_problem("not a uri", "not a uri") is None  # identical text needs no parsing
    assert "Request-URI is malformed" in (digest_uri_problem("sip:127.0.0.10", "not a uri", NAMES) or "")


@pytest.mark.parametrize("host, canonical", [
    ("Example.COM.", "example.com"), ("[::1]", "::1"), ("[0:0::1]", "::1"), ("::ffff:192.0.2.1", "192.0.2.1"),
    ("[::FFFF:192.0.2.1]", "192.0.2.1"), ("192.0.2.1", "192.0.2.1"), ("[::1]", "::1"),
])
def test_canonical_host(host: str, canonical: str) -> None:
    assert canonical_host(host) == canonical
