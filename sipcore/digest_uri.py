"""Whether the ``uri`` of digest credentials designates the resource the request is for.

RFC 2617 §3.2.2.5 and RFC 7616 §3.4.6: the server checks that the digest ``uri`` designates the same
resource as the request's target, and answers a mismatch with 400 Bad Request -- never with a new
challenge, which a client would answer with the same uri. The response is verified over the uri as the
client wrote it (``H(method:uri)``, :mod:`sipcore.digest_server`); this module only decides whether that
uri is acceptable for the request. Accepted:

- the Request-URI itself, compared as SIP URIs (RFC 3261 §19.1.4): what RFC 3261 §22.4 clients send;
- a SIP URI of the Request-URI's scheme that names the server the request is for: no user part, or the
  Request-URI's user; no password, URI headers or ``maddr`` (which would point somewhere else); its host
  one of the server's domains for this request (a trunk's host name, the registrar domain) with no port
  or a port the server listens on, or an address the server listens on (IP addresses compared as
  addresses; no port means 5060, 5061 for sips: RFC 3261 §19.1.2). Other URI parameters do not matter.
  SIPp's ``[authentication]`` sends this form, ``uri="sip:REMOTE_IP:REMOTE_PORT"``, unless it is given
  ``-auth_uri``; Kamailio accepts it. Over IPv6 SIPp writes the address without brackets
  (``sip:::1:5060``, not a valid SIP URI): that one malformed form is read as ``sip:[::1]:5060`` for
  this test only, since it can only name an address; any other malformed uri is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import SIPParseError
from .uri import URI, SipURI, canonical_host, default_port, parse_uri, unescape

__all__ = ["ServerNames", "digest_uri_problem"]

_MAX_SHOWN = 100  # characters of a client's URI quoted in a reason
_MAX_NAMES_SHOWN = 4


@dataclass(frozen=True)
class ServerNames:
    """What designates a server for one kind of request: ``domains`` (host names, from
    :func:`~sipcore.uri.canonical_host`) and ``addresses`` ((canonical IP, port) pairs it listens on).
    Build it with :meth:`of`."""

    domains: frozenset[str]
    addresses: frozenset[tuple[str, int]]
    ports: frozenset[int]

    @classmethod
    def of(cls, domains: Iterable[str] = (), addresses: Iterable[tuple[str, int]] = ()) -> ServerNames:
        pairs = frozenset((canonical_host(host), port) for host, port in addresses)
        return cls(frozenset(canonical_host(d) for d in domains), pairs, frozenset(p for _, p in pairs))

    def designates(self, uri: SipURI) -> bool:
        """Whether ``uri``'s host and port are this server (user and parameters not considered)."""
        host = canonical_host(uri.host)
        if host in self.domains:
            return uri.port is None or uri.port in self.ports
        port = default_port(uri.scheme) if uri.port is None else uri.port
        return (host, port) in self.addresses

    def describe(self) -> str:
        """The names, for a reason: ``example.trunk.voipbin.net, 127.0.0.1:5060``."""
        names = sorted(self.domains) + [f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in sorted(self.addresses)]
        more = len(names) - _MAX_NAMES_SHOWN
        return ", ".join(names[:_MAX_NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _shown(text: str) -> str:
    return repr(text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "...")


def _unbracketed_ipv6(text: str) -> SipURI | None:
    """``sip:IPV6:PORT`` or ``sip:IPV6`` (an IPv6 address without its brackets, as SIPp writes it) as the
    SIP URI it means; None for anything else."""
    scheme, _, rest = text.partition(":")
    if scheme.lower() not in ("sip", "sips") or rest.count(":") < 2 or any(c in rest for c in "[]@;?"):
        return None
    host, _, port = rest.rpartition(":")
    for address, port_text in ((host, port), (rest, "")):  # with a port first: SIPp always writes one
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            continue
        if port_text == "" or (port_text.isdigit() and 0 < int(port_text) <= 65535):
            return SipURI(f"[{address}]", port=int(port_text) if port_text else None, scheme=scheme)
    return None


def digest_uri_problem(digest_uri: str, request_uri: URI | str, names: ServerNames | None = None) -> str | None:
    """None when ``digest_uri`` designates the request's target or, with ``names``, the server itself (see
    the module docstring); otherwise why not, naming the uri (for a 400's Warning and a log line)."""
    if isinstance(request_uri, str):
        if digest_uri == request_uri:
            return None
        try:
            request_uri = parse_uri(request_uri)
        except SIPParseError as exc:
            return f"the Request-URI is malformed ({exc.message}), so digest uri {_shown(digest_uri)} cannot match it"
    try:
        uri: URI = parse_uri(digest_uri)
    except SIPParseError as exc:
        bare_ipv6 = _unbracketed_ipv6(digest_uri) if names is not None else None
        if bare_ipv6 is None:
            why = exc.message if len(exc.message) <= 2 * _MAX_SHOWN else exc.message[:2 * _MAX_SHOWN] + "..."
            return f"malformed digest uri: {why}"
        uri = bare_ipv6
    if uri == request_uri:
        return None
    shown = _shown(digest_uri)
    if not isinstance(uri, SipURI) or not isinstance(request_uri, SipURI) or names is None:
        return f"digest uri {shown} is not the Request-URI {_shown(str(request_uri))}"
    if uri.scheme.lower() != request_uri.scheme.lower():
        return f"digest uri {shown} is a {uri.scheme.lower()} URI, the Request-URI a {request_uri.scheme.lower()} one"
    if uri.user is not None:
        user, wanted = unescape(uri.user), None if request_uri.user is None else unescape(request_uri.user)
        if user != wanted:
            whose = "has no user part" if wanted is None else f"is for user {_shown(wanted)}"
            return f"digest uri {shown} names user {_shown(user)}, but the Request-URI {whose}"
    if uri.password is not None or uri.headers or uri.has_param("maddr"):
        return f"digest uri {shown} carries a password, URI headers or maddr: it does not designate this server"
    if not names.designates(uri):
        return f"digest uri {shown} designates neither the Request-URI nor this server ({names.describe()})"
    return None
