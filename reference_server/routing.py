"""Which trunk or registrar domain a request is for (routing by domain, as VoIPBin does).

``sip:{domain_name}.trunk.voipbin.net`` selects a trunk by the leading label(s) (domain names may contain
dots); the registrar domain selects the extensions. A Request-URI naming the server's own IP address (as
SIPp sends, ``INVITE sip:service@127.0.0.1:5060``) is resolved by the To domain, then the From domain.

Answers: an unknown trunk under ``.trunk.voipbin.net`` is 404 Not Found (VoIPBin: "no route to
destination", Q.850 cause 3 -> 404). A request for any other domain is also 404 (RFC 3261 §8.2.2.1: a UAS
rejects a Request-URI it does not accept requests for with 404; the server is no open relay, so there is
no forwarding to foreign domains), and a non-SIP Request-URI (tel:, ...) is 416 Unsupported URI Scheme.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sipcore.errors import SIPParseError
from sipcore.message import Request
from sipcore.uri import SipURI, canonical_host, unescape

from .config import TRUNK_DOMAIN_SUFFIX, ServerConfig, Trunk

__all__ = ["Route", "RouteKind", "TrunkRouter"]

RouteKind = Literal["trunk", "registrar", "unknown_trunk", "not_ours"]


@dataclass(frozen=True)
class Route:
    """Where a request goes. ``status`` is the error to answer for unknown_trunk / not_ours (else None);
    ``user`` is the addressed user (the AOR user for the registrar: To for REGISTER, else the
    Request-URI user, falling back to To); ``domain`` the matched host name, lower case."""

    kind: RouteKind
    trunk: Trunk | None = None
    user: str | None = None
    domain: str | None = None
    status: int | None = None
    reason: str = ""


def _normalize_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):
        host = host[1:-1] if host.endswith("]") else host[1:]
    return host


def _is_trunk_domain(domain: str) -> bool:
    """TrunkRouter.is_trunk_domain for a host already normalized."""
    return domain.endswith(TRUNK_DOMAIN_SUFFIX) and len(domain) > len(TRUNK_DOMAIN_SUFFIX)


#: A host for comparison: an IP address canonical (IPv4-mapped IPv6 as IPv4), a name lower case (cached).
_host_key = canonical_host


class TrunkRouter:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._trunks = {t.domain_name.lower(): t for t in config.trunks}
        self._registrar_domain = _normalize_host(config.registrar.domain)

    # --- domains ------------------------------------------------------------------------------------

    def is_trunk_domain(self, host: str) -> bool:
        """Whether ``host`` is some ``{label(s)}.trunk.voipbin.net`` (a trunk of ours or not)."""
        return _is_trunk_domain(_normalize_host(host))

    def match(self, request_uri_host: str) -> Trunk | None:
        """The trunk whose server address host is ``request_uri_host`` (case-insensitive)."""
        return self._match(_normalize_host(request_uri_host))

    def _match(self, domain: str) -> Trunk | None:
        """:meth:`match` for a host already normalized."""
        if not _is_trunk_domain(domain):
            return None
        return self._trunks.get(domain[:-len(TRUNK_DOMAIN_SUFFIX)])

    def is_registrar_domain(self, host: str) -> bool:
        return _normalize_host(host) == self._registrar_domain

    def trunks_for_source_ip(self, ip: str) -> list[Trunk]:
        """Trunks with "ip" among their auth_types whose allowed_ips (CIDR aware) hold ``ip``."""
        return [t for t in self.config.trunks if "ip" in t.auth_types and t.allows_ip(ip)]

    # --- requests -----------------------------------------------------------------------------------

    def route_request(self, request: Request, local_addresses: Iterable[str]) -> Route:
        """Classify a request by its Request-URI host; when that host is one of ``local_addresses``
        (the server's own IPs or names), by the To domain, then the From domain (a trunk or registrar
        match wins over an unknown trunk)."""
        try:
            ruri = request.uri_parsed
        except SIPParseError as exc:
            return Route("not_ours", status=400, reason=f"malformed Request-URI: {exc.message}")
        if not isinstance(ruri, SipURI):
            return Route("not_ours", status=416, reason=f"{ruri.scheme}: Request-URIs are not served")
        ruri_user = None if ruri.user is None else unescape(ruri.user)
        if _host_key(ruri.host) not in {_host_key(a) for a in local_addresses}:
            return self._classify(ruri.host, request, ruri_user, from_header=None)
        routes = []
        for header in ("To", "From"):
            try:
                uri = request.to.uri if header == "To" else request.from_.uri
            except SIPParseError:
                continue
            if isinstance(uri, SipURI):
                routes.append(self._classify(uri.host, request, ruri_user, from_header=header))
        for kinds in (("trunk", "registrar"), ("unknown_trunk",)):
            for route in routes:
                if route.kind in kinds:
                    return route
        return Route("not_ours", status=404,
                     reason=f"Request-URI {ruri.host} is this server, but neither To nor From names a "
                            f"trunk or the registrar domain")

    def _classify(self, host: str, request: Request, ruri_user: str | None,
                  from_header: str | None) -> Route:
        domain = _normalize_host(host)
        # The checks below normalize ``domain`` once more; that changes only a bracketed host ending in a
        # dot inside ("[::1.]"), the one form left that a parsed URI can hold.
        key = _normalize_host(domain) if domain.endswith(".") else domain
        via = f" (by the {from_header} domain)" if from_header else ""
        if _is_trunk_domain(key):
            trunk = self._match(key)
            if trunk is None:
                return Route("unknown_trunk", domain=domain, status=404, user=ruri_user,
                             reason=f"no trunk has the domain name {domain[:-len(TRUNK_DOMAIN_SUFFIX)]!r}{via}")
            return Route("trunk", trunk=trunk, domain=domain, user=ruri_user, reason=f"trunk {trunk.name}{via}")
        if key == self._registrar_domain:
            return Route("registrar", domain=domain, user=self._aor_user(request, ruri_user),
                         reason=f"registrar domain{via}")
        return Route("not_ours", domain=domain, status=404, reason=f"{domain} is not served here{via}")

    @staticmethod
    def _aor_user(request: Request, ruri_user: str | None) -> str | None:
        if request.method != "REGISTER" and ruri_user is not None:
            return ruri_user
        try:
            to_uri = request.to.uri
        except SIPParseError:
            return ruri_user
        if isinstance(to_uri, SipURI) and to_uri.user is not None:
            return unescape(to_uri.user)
        return ruri_user
