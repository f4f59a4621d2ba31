"""Routing by domain: {domain_name}.trunk.voipbin.net -> trunk, the registrar domain, IP-auth lookup."""

from __future__ import annotations

import pytest

from reference_server.config import ServerConfig, parse_config
from reference_server.routing import TrunkRouter
from sipcore.message import Request
from sipcore.parser import parse_message

CONFIG = """\
[[trunk]]
domain_name = "acme"
username = "alice"
password = "secret"
destination = "127.0.0.1:5080"

[[trunk]]
domain_name = "Sales.EU"
username = "bob"
password = "pw"
destination = "127.0.0.1:5080"

[[trunk]]
domain_name = "pbx"
auth_types = ["ip"]
allowed_ips = ["10.0.0.0/8", "2001:db8::/32"]
destination = "127.0.0.1:5080"

[[trunk]]
domain_name = "both"
auth_types = ["basic", "ip"]
username = "carol"
password = "pw"
allowed_ips = ["10.1.2.3"]
destination = "127.0.0.1:5080"
"""


@pytest.fixture
def config() -> ServerConfig:
    return parse_config(CONFIG, "routing.toml")


@pytest.fixture
def router(config: ServerConfig) -> TrunkRouter:
    return TrunkRouter(config)


def make_request(method: str, ruri: str, to: str, from_: str = "<sip:caller@192.0.2.1>;tag=f1") -> Request:
    raw = (f"{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n"
           f"Max-Forwards: 70\r\nFrom: {from_}\r\nTo: {to}\r\nCall-ID: c1@192.0.2.1\r\n"
           f"CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n")
    message = parse_message(raw.encode())
    assert isinstance(message, Request)
    return message


def test_match_trunk_domain_case_insensitively(router: TrunkRouter) -> None:
    trunk = router.match("ACME.Trunk.VoIPBin.net")
    assert trunk is not None and trunk.domain_name == "acme"
    assert router.match("acme.trunk.voipbin.net.") is trunk  # fully qualified with the root dot


def test_dotted_domain_name_uses_all_leading_labels(router: TrunkRouter) -> None:
    trunk = router.match("sales.eu.trunk.voipbin.net")
    assert trunk is not None and trunk.domain_name == "Sales.EU"
    assert router.match("eu.trunk.voipbin.net") is None  # a suffix of the labels is not the trunk
    assert router.match("x.sales.eu.trunk.voipbin.net") is None


def test_non_trunk_hosts(router: TrunkRouter) -> None:
    assert router.match("trunk.voipbin.net") is None and not router.is_trunk_domain("trunk.voipbin.net")
    assert router.match("acme.voipbin.net") is None
    assert router.match("acme.trunk.voipbin.net.evil.example") is None
    assert router.is_trunk_domain("nosuch.trunk.voipbin.net")
    assert router.is_registrar_domain("Example.Registrar.VoIPBin.net")
    assert not router.is_registrar_domain("other.registrar.voipbin.net")


def test_route_invite_to_trunk(router: TrunkRouter) -> None:
    route = router.route_request(make_request("INVITE", "sip:+15551234567@acme.trunk.voipbin.net",
                                              "<sip:+15551234567@acme.trunk.voipbin.net>"), ["127.0.0.1"])
    assert route.kind == "trunk" and route.trunk is not None and route.trunk.domain_name == "acme"
    assert (route.user, route.domain, route.status) == ("+15551234567", "acme.trunk.voipbin.net", None)


def test_unknown_trunk_is_404(router: TrunkRouter) -> None:
    route = router.route_request(make_request("INVITE", "sip:100@nosuch.trunk.voipbin.net",
                                              "<sip:100@nosuch.trunk.voipbin.net>"), ["127.0.0.1"])
    assert (route.kind, route.status, route.trunk) == ("unknown_trunk", 404, None)


def test_foreign_domain_is_404_and_tel_uri_416(router: TrunkRouter) -> None:
    route = router.route_request(make_request("INVITE", "sip:bob@example.com", "<sip:bob@example.com>"),
                                 ["127.0.0.1"])
    assert (route.kind, route.status) == ("not_ours", 404)
    route = router.route_request(make_request("INVITE", "tel:+15551234567", "<tel:+15551234567>"), ["127.0.0.1"])
    assert (route.kind, route.status) == ("not_ours", 416)


def test_register_routes_to_registrar_with_the_to_user(router: TrunkRouter) -> None:
    route = router.route_request(make_request("REGISTER", "sip:example.registrar.voipbin.net",
                                              "<sip:1001@example.registrar.voipbin.net>"), ["127.0.0.1"])
    assert (route.kind, route.user, route.domain) == ("registrar", "1001", "example.registrar.voipbin.net")


def test_invite_for_an_extension_routes_to_registrar_with_the_request_uri_user(router: TrunkRouter) -> None:
    route = router.route_request(make_request("INVITE", "sip:1002@example.registrar.voipbin.net",
                                              "<sip:ext-1002@example.registrar.voipbin.net>"), ["127.0.0.1"])
    assert (route.kind, route.user) == ("registrar", "1002")


def test_request_uri_of_our_ip_resolved_by_to_then_from(router: TrunkRouter) -> None:
    # SIPp style: the Request-URI names the server's address, the To names the trunk.
    by_to = router.route_request(make_request("INVITE", "sip:service@127.0.0.1:5060",
                                              "<sip:service@acme.trunk.voipbin.net>"), ["127.0.0.1"])
    assert by_to.kind == "trunk" and by_to.trunk is not None and by_to.trunk.domain_name == "acme"
    assert by_to.user == "service"
    by_from = router.route_request(make_request("INVITE", "sip:service@127.0.0.1", "<sip:service@127.0.0.1>",
                                                "<sip:alice@sales.eu.trunk.voipbin.net>;tag=1"), ["127.0.0.1"])
    assert by_from.trunk is not None and by_from.trunk.domain_name == "Sales.EU"
    # A known trunk in From beats an unknown trunk in To.
    mixed = router.route_request(make_request("INVITE", "sip:s@127.0.0.1", "<sip:s@nosuch.trunk.voipbin.net>",
                                              "<sip:alice@acme.trunk.voipbin.net>;tag=1"), ["127.0.0.1"])
    assert mixed.kind == "trunk"
    register = router.route_request(make_request("REGISTER", "sip:127.0.0.1",
                                                 "<sip:1001@example.registrar.voipbin.net>"), ["127.0.0.1"])
    assert (register.kind, register.user) == ("registrar", "1001")


def test_request_uri_of_our_ip_with_no_known_domain(router: TrunkRouter) -> None:
    route = router.route_request(make_request("INVITE", "sip:service@127.0.0.1", "<sip:service@127.0.0.1>"),
                                 ["127.0.0.1"])
    assert (route.kind, route.status) == ("not_ours", 404)
    unknown = router.route_request(make_request("INVITE", "sip:s@127.0.0.1", "<sip:s@zz.trunk.voipbin.net>"),
                                   ["127.0.0.1"])
    assert (unknown.kind, unknown.status) == ("unknown_trunk", 404)


def test_request_uri_of_another_ip_is_not_resolved_by_to(router: TrunkRouter) -> None:
    route = router.route_request(make_request("INVITE", "sip:service@192.0.2.50",
                                              "<sip:service@acme.trunk.voipbin.net>"), ["127.0.0.1"])
    assert (route.kind, route.status) == ("not_ours", 404)


def test_ipv6_local_address(router: TrunkRouter) -> None:
    route = router.route_request(make_request("INVITE", "sip:s@[::1]:5060", "<sip:s@acme.trunk.voipbin.net>"),
                                 ["::1"])
    assert route.kind == "trunk"


def test_trunks_for_source_ip_is_cidr_aware_and_only_for_ip_auth(router: TrunkRouter) -> None:
    assert [t.domain_name for t in router.trunks_for_source_ip("10.200.0.1")] == ["pbx"]
    assert [t.domain_name for t in router.trunks_for_source_ip("10.1.2.3")] == ["pbx", "both"]
    assert [t.domain_name for t in router.trunks_for_source_ip("2001:db8::1")] == ["pbx"]
    assert [t.domain_name for t in router.trunks_for_source_ip("::ffff:10.0.0.1")] == ["pbx"]
    assert router.trunks_for_source_ip("192.0.2.1") == []
    assert router.trunks_for_source_ip("garbage") == []


@pytest.mark.parametrize(("host", "kind", "domain"), [
    ("ACME.Trunk.VoIPBin.net.", "trunk", "acme.trunk.voipbin.net"),
    ("nosuch.trunk.voipbin.net", "unknown_trunk", "nosuch.trunk.voipbin.net"),
    ("Example.Registrar.VoIPBin.net", "registrar", "example.registrar.voipbin.net"),
    ("[2001:db8::1.]", "not_ours", "2001:db8::1."),  # the domain as normalized once; checked normalized twice
])
def test_classify_agrees_with_the_public_checks(router: TrunkRouter, host: str, kind: str, domain: str) -> None:
    request = make_request("INVITE", "sip:100@acme.trunk.voipbin.net", "<sip:100@acme.trunk.voipbin.net>")
    route = router._classify(host, request, "100", from_header=None)
    assert (route.kind, route.domain) == (kind, domain)
    assert router.is_trunk_domain(domain) == (kind in ("trunk", "unknown_trunk"))
    assert (router.match(domain) is not None) == (kind == "trunk")
