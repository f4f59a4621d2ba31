"""Whose certificate is it: the SIP domain identities of a TLS peer's certificate (RFC 5922 §7), sans-IO.

A certificate is taken as the dictionary :meth:`ssl.SSLSocket.getpeercert` gives (``subjectAltName``:
``(("DNS", "example.net"), ("URI", "sip:example.net"), ("IP Address", "127.0.0.1"))``, ``subject``:
``((("commonName", "example.net"),), ...)``), so this module needs neither ssl nor a socket.

RFC 5922 §7.1, the identities of a certificate:

- every ``sip:`` URI in subjectAltName names the domain after its ``@`` (or its host): scheme, user part
  and parameters do not count (§7.2);
- every dNSName in subjectAltName is a domain;
- only when the certificate has **no** subjectAltName at all, the most specific commonName of the subject;
  a certificate with SANs whose CN alone names the domain does not match.

§7.2, the comparison: the domain is compared with each identity as a whole, case-insensitively, a final dot
ignored; no wildcard matches anything (``*.example.net`` is not an identity of ``sip.example.net``).

A peer reached by IP address (a lab trunk, a destination configured by IP) has no SIP domain; the address
is then checked against the certificate's iPAddress SANs, as a TLS client checks an address (RFC 6125 §1.7.2
leaves it to the application; trunkcheck does it so an IP-addressed peer is still authenticated).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CertificateIdentity", "certificate_identity", "identity_problem"]


@dataclass(frozen=True)
class CertificateIdentity:
    """What a certificate names: the SIP domains of RFC 5922 §7.1 (from sip: URI and dNSName SANs, else
    the CN) and its iPAddress SANs; ``from_common_name`` says the domains came from the CN."""

    domains: tuple[str, ...]
    addresses: tuple[str, ...]
    from_common_name: bool = False
    common_name: str | None = None

    def describe(self) -> str:
        """``DNS:sip.example.net, IP:127.0.0.1`` or ``CN=sip.example.net (no subjectAltName)``."""
        if self.from_common_name:
            return f"CN={self.common_name} (no subjectAltName)"
        names = [f"DNS:{d}" for d in self.domains] + [f"IP:{a}" for a in self.addresses]
        if names:
            return ", ".join(names)
        return "no subjectAltName and no commonName"


def _normal(name: str) -> str:
    return name.strip().rstrip(".").lower()


def _uri_domain(uri: str) -> str | None:
    """The domain a ``sip:`` URI SAN names (RFC 5922 §7.1); None for another scheme (sips:, http: ...)."""
    scheme, colon, rest = uri.partition(":")
    if not colon or scheme.lower() != "sip":
        return None
    rest = rest.partition("@")[2] or rest
    host = rest.split(";", 1)[0].split("?", 1)[0]
    if host.startswith("["):
        return None
    return _normal(host.rsplit(":", 1)[0] if host.count(":") == 1 else host) or None


def _common_name(subject: Iterable[Iterable[tuple[str, str]]]) -> str | None:
    names = [value for rdn in subject for key, value in rdn if key == "commonName"]
    return names[-1] if names else None  # the most specific: the last in the sequence


def certificate_identity(cert: Mapping[str, Any]) -> CertificateIdentity:
    """The identities of a certificate given as ``getpeercert()`` gives it (see the module docstring)."""
    sans: tuple[tuple[str, str], ...] = tuple(cert.get("subjectAltName", ()))
    common_name = _common_name(cert.get("subject", ()))
    domains: list[str] = []
    addresses: list[str] = []
    for kind, value in sans:
        if kind == "URI":
            domain = _uri_domain(value)
            if domain is not None:
                domains.append(domain)
        elif kind == "DNS":
            domains.append(_normal(value))
        elif kind == "IP Address":
            try:
                addresses.append(str(ipaddress.ip_address(value.strip())))
            except ValueError:
                continue
    if not sans and common_name:
        return CertificateIdentity((_normal(common_name),), (), True, common_name)
    return CertificateIdentity(tuple(dict.fromkeys(domains)), tuple(dict.fromkeys(addresses)), False, common_name)


def identity_problem(cert: Mapping[str, Any], expected: str) -> str | None:
    """None when the certificate names ``expected`` (a SIP domain, or an IP address) as RFC 5922 §7.2
    says; otherwise what is wrong, for an error message: ``certificate names DNS:other.example (not
    sip.example.net)``."""
    identity = certificate_identity(cert)
    try:
        wanted_ip: str | None = str(ipaddress.ip_address(expected.strip("[]")))
    except ValueError:
        wanted_ip = None
    if wanted_ip is not None:
        if wanted_ip in identity.addresses:
            return None
        return f"certificate names {identity.describe()}, not the IP address {wanted_ip} (no iPAddress SAN for it)"
    wanted = _normal(expected)
    if wanted in identity.domains and "*" not in wanted:
        return None
    why = ""
    if any("*" in d for d in identity.domains):
        why = "; wildcards do not match a SIP domain (RFC 5922 §7.2)"
    elif identity.common_name is not None and _normal(identity.common_name) == wanted and not identity.from_common_name:
        why = "; its CN names it, but a certificate with subjectAltName is matched on those only (RFC 5922 §7.1)"
    return f"certificate names {identity.describe()}, not {wanted}{why}"
