"""RFC 5922 §7: which SIP domains a certificate names, and whether it names the one a UA dialled."""

from __future__ import annotations

import pytest

from sipcore.tls_identity import certificate_identity, identity_problem

DOMAIN = "example.trunk.voipbin.net"


def cert(*sans: tuple[str, str], cn: str | None = None) -> dict[str, object]:
    """A certificate as ``ssl.SSLSocket.getpeercert()`` gives it."""
    out: dict[str, object] = {"subject": ((("organizationName", "test"),),) + (((("commonName", cn),),) if cn else ())}
    if sans:
        out["subjectAltName"] = sans
    return out


def test_a_dnsname_san_for_the_domain_matches_case_insensitively() -> None:
    assert identity_problem(cert(("DNS", "Example.Trunk.VoIPBin.net")), DOMAIN) is None
    assert identity_problem(cert(("DNS", DOMAIN + ".")), DOMAIN) is None


def test_a_sip_uri_san_names_its_domain_user_and_parameters_aside() -> None:
    assert identity_problem(cert(("URI", f"sip:{DOMAIN}")), DOMAIN) is None
    assert identity_problem(cert(("URI", f"sip:alice@{DOMAIN};transport=tls")), DOMAIN) is None
    assert certificate_identity(cert(("URI", "https://example.net/"))).domains == ()  # not a sip: URI


def test_another_name_is_refused_naming_both() -> None:
    problem = identity_problem(cert(("DNS", "other.example.net"), cn=DOMAIN), DOMAIN)
    assert problem is not None
    assert "DNS:other.example.net" in problem and DOMAIN in problem
    assert "CN names it" in problem  # the CN is not looked at when SANs exist (RFC 5922 §7.1)


def test_the_cn_counts_only_without_any_subjectaltname() -> None:
    assert identity_problem(cert(cn=DOMAIN), DOMAIN) is None
    assert certificate_identity(cert(cn=DOMAIN)).from_common_name
    # an IP SAN alone is a SAN too: the CN is then no identity
    assert identity_problem(cert(("IP Address", "127.0.0.1"), cn=DOMAIN), DOMAIN) is not None


def test_wildcards_never_match() -> None:
    problem = identity_problem(cert(("DNS", "*.trunk.voipbin.net")), DOMAIN)
    assert problem is not None and "wildcards do not match" in problem
    assert identity_problem(cert(("DNS", "*.trunk.voipbin.net")), "*.trunk.voipbin.net") is not None


@pytest.mark.parametrize(("san", "expected", "ok"), [
    ("127.0.0.20", "127.0.0.20", True),
    ("127.0.0.21", "127.0.0.20", False),
    ("::1", "[::1]", True),
    ("0:0:0:0:0:0:0:1", "::1", True),
])
def test_a_peer_dialled_by_address_is_matched_on_ip_sans(san: str, expected: str, ok: bool) -> None:
    problem = identity_problem(cert(("IP Address", san), ("DNS", DOMAIN)), expected)
    assert (problem is None) is ok
    if not ok:
        assert "no iPAddress SAN" in str(problem)


def test_a_dns_san_spelling_an_ip_does_not_stand_for_an_ip_san() -> None:
    assert identity_problem(cert(("DNS", "127.0.0.20")), "127.0.0.20") is not None


def test_a_certificate_naming_nothing_says_so() -> None:
    assert "no subjectAltName and no commonName" in str(identity_problem({}, DOMAIN))
