"""Who may use a trunk or the registrar: digest challenges per realm, IP auth, and brute-force blocking.

One :class:`~sipcore.digest_server.DigestServer` per trunk (realm = the trunk's realm, by default its host
``{domain_name}.trunk.voipbin.net``) and one for the registrar (realm = the registrar domain). Trunk calls
are challenged as a proxy (407 Proxy-Authenticate / Proxy-Authorization), REGISTER as a registrar
(401 WWW-Authenticate / Authorization), RFC 3261 §22.

The caller must not call any check for ACK or CANCEL: they cannot be challenged (RFC 3261 §22.1; a CANCEL
is accepted when it matches a pending INVITE, an ACK when it matches a transaction or dialog). Doing so
raises ValueError. Each check is to be called once per server transaction (retransmissions are absorbed by
the transaction layer and would otherwise look like nonce replays).

Outcomes of verification:
- OK -> ALLOW (the source's failure history is cleared);
- STALE (right password, expired nonce) -> CHALLENGE with stale=TRUE;
- BAD_CREDENTIALS (wrong password or unknown user: indistinguishable) -> counts as a failure for the
  source IP, then CHALLENGE -- or FORBIDDEN when this failure reached the limit (the block starts now);
- URI_MISMATCH (the digest uri designates neither the Request-URI nor this server, or does not parse)
  -> BAD_REQUEST, 400 (RFC 7616 §3.4.6): a new challenge would only be answered with the same uri. The
  server itself is its domain for the request (the trunk's host, the registrar domain) or an address it
  listens on (:meth:`AuthPolicy.set_listen_addresses`), so SIPp's default ``uri="sip:SERVER_IP:PORT"``
  is accepted; not counted as a failure;
- BAD_NONCE (not our nonce: e.g. issued before a restart), MALFORMED (algorithm not offered, missing
  qop ...) and REPLAY (nc reused) -> CHALLENGE, not counted: they are client bugs or restarts, not
  password guesses.
Every non-stale challenge is built the same way, so an unknown user and a wrong password get header values
that are byte-identical except for the nonce (anti-enumeration). ``reason`` is for logs only.
"""

from __future__ import annotations

import enum
import os
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sipcore.digest import Credentials, TokenSource, header_names_for, parse_credentials
from sipcore.digest_server import DigestServer, VerifyOutcome
from sipcore.digest_uri import ServerNames
from sipcore.errors import SIPParseError
from sipcore.message import Request
from sipcore.uri import SipURI, unescape

from .config import ServerConfig, Trunk, ip_in

__all__ = ["AuthDecision", "AuthPolicy", "Decision", "FailureLimiter"]


class Decision(enum.Enum):
    ALLOW = "allow"
    CHALLENGE = "challenge"
    FORBIDDEN = "forbidden"
    BAD_REQUEST = "bad-request"


@dataclass(frozen=True)
class AuthDecision:
    """``status`` is None for ALLOW, 401 or 407 for CHALLENGE, 403 for FORBIDDEN, 400 for BAD_REQUEST
    (whose ``reason`` is meant for a Warning too: it names the header and the uri, no secret). A CHALLENGE
    carries one header value per offered algorithm in ``challenges``, to send as ``header_name`` fields."""

    decision: Decision
    status: int | None = None
    username: str | None = None  # the digest user, on ALLOW by digest
    by_ip: bool = False  # ALLOW without digest (IP auth or trusted peer)
    header_name: str | None = None
    challenges: tuple[str, ...] = ()
    stale: bool = False
    outcome: VerifyOutcome | None = None
    reason: str = ""

    def __init__(self, decision: Decision, status: int | None = None, username: str | None = None,
                 by_ip: bool = False, header_name: str | None = None, challenges: tuple[str, ...] = (),
                 stale: bool = False, outcome: VerifyOutcome | None = None, reason: str = "") -> None:
        # The fields above, stored in one step: the generated frozen __init__ calls object.__setattr__
        # once per field, which costs more than deciding (two decisions per authenticated call).
        self.__dict__.update(decision=decision, status=status, username=username, by_ip=by_ip,
                             header_name=header_name, challenges=challenges, stale=stale, outcome=outcome,
                             reason=reason)

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    def response_headers(self) -> list[tuple[str, str]]:
        return [(self.header_name, value) for value in self.challenges] if self.header_name else []


class FailureLimiter:
    """Counts failed authentications per source IP: ``max_failures`` within ``window`` seconds block the
    source for ``block_duration`` seconds. Memory is bounded: stale histories and ended blocks are pruned,
    and at most ``max_sources`` sources are tracked in each table (the least recent dropped first)."""

    def __init__(self, max_failures: int, window: float, block_duration: float, *,
                 max_sources: int = 10_000) -> None:
        if max_failures < 1 or window <= 0 or block_duration <= 0 or max_sources < 1:
            raise ValueError("max_failures, window, block_duration and max_sources must be positive")
        self.max_failures, self.window, self.block_duration = max_failures, window, block_duration
        self.max_sources = max_sources
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()  # by last failure, oldest first
        self._blocked: OrderedDict[str, float] = OrderedDict()  # ip -> blocked until, soonest first

    @property
    def tracked_sources(self) -> int:
        return len(self._failures) + len(self._blocked)

    def blocked_until(self, source_ip: str, now: float) -> float | None:
        until = self._blocked.get(source_ip)
        if until is not None and now >= until:
            del self._blocked[source_ip]
            return None
        return until

    def is_blocked(self, source_ip: str, now: float) -> bool:
        return self.blocked_until(source_ip, now) is not None

    def record_failure(self, source_ip: str, now: float) -> bool:
        """Count a failure; True when the source is (now) blocked."""
        self.prune(now)
        if self.is_blocked(source_ip, now):
            return True
        times = self._failures.pop(source_ip, None) or deque(maxlen=self.max_failures)
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.max_failures:
            self._blocked[source_ip] = now + self.block_duration
            while len(self._blocked) > self.max_sources:
                self._blocked.popitem(last=False)
            return True
        self._failures[source_ip] = times
        while len(self._failures) > self.max_sources:
            self._failures.popitem(last=False)
        return False

    def has_failures(self, source_ip: str) -> bool:
        """Whether failures of the source are being counted (a success would clear them)."""
        return source_ip in self._failures

    def record_success(self, source_ip: str) -> None:
        """Forget the source's failures (a user who mistyped once is not one step nearer a block)."""
        self._failures.pop(source_ip, None)

    def prune(self, now: float) -> None:
        while self._failures:
            ip, times = next(iter(self._failures.items()))
            if times and times[-1] > now - self.window:
                break
            del self._failures[ip]
        while self._blocked:
            ip, until = next(iter(self._blocked.items()))
            if until > now:
                break
            del self._blocked[ip]


class AuthPolicy:
    """The authentication decisions of the reference server (see the module docstring)."""

    def __init__(self, config: ServerConfig, secret_key: bytes, *, token_source: TokenSource = os.urandom,
                 limiter: FailureLimiter | None = None) -> None:
        sec = config.security
        self.limiter = limiter or FailureLimiter(sec.max_failed_attempts, sec.failure_window,
                                                 sec.block_duration)
        self.trusted_peers = config.trusted_peers

        def server(realm: str) -> DigestServer:
            return DigestServer(secret_key, realm, config.nonce_lifetime, config.algorithms, token_source)

        self._trunk_servers = {t.domain_name.lower(): server(t.realm) for t in config.trunks}
        self.registrar_server = server(config.registrar.domain)
        self._extensions = {e.extension: e.password for e in config.extensions}
        self._trunk_hosts = {t.domain_name.lower(): t.host for t in config.trunks}
        self._registrar_domain = config.registrar.domain
        self.set_listen_addresses(())

    def set_listen_addresses(self, addresses: Iterable[tuple[str, int]]) -> None:
        """The (IP, port) pairs the server listens on (a wildcard expanded to the local addresses): a digest
        uri naming one of them designates the server (RFC 7616 §3.4.6), as does its domain for the
        request. Until this is called only the domains do."""
        pairs = tuple(addresses)
        self._trunk_names = {key: ServerNames.of((host,), pairs) for key, host in self._trunk_hosts.items()}
        self._registrar_names = ServerNames.of((self._registrar_domain,), pairs)

    @property
    def tracked_nonces(self) -> int:
        """Nonce replay records kept, over the trunks' and the registrar's digest servers."""
        return sum(s.tracked_nonces for s in (*self._trunk_servers.values(), self.registrar_server))

    def digest_server(self, trunk: Trunk) -> DigestServer:
        return self._trunk_servers[trunk.domain_name.lower()]

    def is_trusted_peer(self, source_ip: str) -> bool:
        return ip_in(source_ip, self.trusted_peers)

    # --- checks -------------------------------------------------------------------------------------

    def check_invite(self, trunk: Trunk, request: Request, source_ip: str, now: float) -> AuthDecision:
        """A request (INVITE, OPTIONS ...) on a trunk: IP auth first, then digest with 407."""
        _refuse_unchallengeable(request)
        if self.limiter.is_blocked(source_ip, now):
            return _forbidden(f"source {source_ip} is blocked after repeated authentication failures")
        if "ip" in trunk.auth_types and trunk.allows_ip(source_ip):
            return AuthDecision(Decision.ALLOW, by_ip=True, reason=f"{source_ip} is in allowed_ips")
        if "basic" not in trunk.auth_types:
            return _forbidden(f"{source_ip} is not in the allowed_ips of trunk {trunk.name}")
        user, password = trunk.username, trunk.password

        def lookup(username: str) -> str | None:
            return password if username == user else None

        names = self._trunk_names[trunk.domain_name.lower()]
        return self._digest(self.digest_server(trunk), 407, request, source_ip, now, lookup, names)

    def check_register(self, request: Request, source_ip: str, now: float) -> AuthDecision:
        """A REGISTER: digest with 401 against the extensions; the digest username must be the AOR user
        (the To URI user), else 403 (RFC 3261 §10.3 step 4: authorized for this AOR)."""
        _refuse_unchallengeable(request)
        if self.limiter.is_blocked(source_ip, now):
            return _forbidden(f"source {source_ip} is blocked after repeated authentication failures")
        decision = self._digest(self.registrar_server, 401, request, source_ip, now, self._extensions.get,
                                self._registrar_names)
        if not decision.allowed:
            return decision
        try:
            to_uri = request.to.uri
        except SIPParseError as exc:
            return _forbidden(f"malformed To: {exc.message}")
        aor_user = unescape(to_uri.user) if isinstance(to_uri, SipURI) and to_uri.user else None
        if aor_user != decision.username:
            return _forbidden(f"user {decision.username!r} may not register AOR user {aor_user!r}")
        return decision

    def check_call_to_extension(self, request: Request, source_ip: str, now: float) -> AuthDecision:
        """An INVITE for a registered extension: a trusted carrier peer is allowed without challenge;
        anyone else must be an extension (digest with 407 in the registrar realm)."""
        _refuse_unchallengeable(request)
        if self.limiter.is_blocked(source_ip, now):
            return _forbidden(f"source {source_ip} is blocked after repeated authentication failures")
        if self.is_trusted_peer(source_ip):
            return AuthDecision(Decision.ALLOW, by_ip=True, reason=f"{source_ip} is a trusted peer")
        return self._digest(self.registrar_server, 407, request, source_ip, now, self._extensions.get,
                            self._registrar_names)

    # --- digest -------------------------------------------------------------------------------------

    def _digest(self, server: DigestServer, status: int, request: Request, source_ip: str, now: float,
                lookup: Callable[[str], str | None], names: ServerNames) -> AuthDecision:
        challenge_header, credentials_header = header_names_for(status)

        def challenge(reason: str, outcome: VerifyOutcome | None = None, stale: bool = False) -> AuthDecision:
            values = tuple(server.challenge_headers(now, stale=stale))
            return AuthDecision(Decision.CHALLENGE, status, header_name=challenge_header, challenges=values,
                                stale=stale, outcome=outcome, reason=reason)

        credentials = _credentials_for(request, credentials_header, server.realm)
        if credentials is None:
            return challenge(f"no {credentials_header} for realm {server.realm!r}")
        result = server.verify(credentials, request.method, request.uri, now, lookup, request.body,
                               server_names=names)
        outcome = result.outcome
        if outcome is VerifyOutcome.OK:
            self.limiter.record_success(source_ip)
            return AuthDecision(Decision.ALLOW, username=result.username, outcome=outcome, reason=result.reason)
        if outcome is VerifyOutcome.URI_MISMATCH:
            return AuthDecision(Decision.BAD_REQUEST, 400, outcome=outcome,
                                reason=f"{credentials_header}: {result.reason}")
        if outcome is VerifyOutcome.STALE:
            return challenge(result.reason, outcome, stale=True)
        if outcome is VerifyOutcome.BAD_CREDENTIALS and self.limiter.record_failure(source_ip, now):
            return _forbidden(f"{result.reason}; source {source_ip} is now blocked", outcome)
        return challenge(result.reason, outcome)


def _credentials_for(request: Request, header: str, realm: str) -> Credentials | None:
    """The Digest credentials for ``realm`` among the request's ``header`` fields (others, for other
    realms or malformed, are ignored: the answer is a fresh challenge)."""
    for value in request.headers.get_all(header):
        try:
            credentials = parse_credentials(value, header=header)
        except SIPParseError:
            continue
        if credentials.realm == realm:
            return credentials
    return None


def _refuse_unchallengeable(request: Request) -> None:
    if request.method in ("ACK", "CANCEL"):
        raise ValueError(f"{request.method} cannot be challenged (RFC 3261 §22.1); do not check it")


def _forbidden(reason: str, outcome: VerifyOutcome | None = None) -> AuthDecision:
    return AuthDecision(Decision.FORBIDDEN, 403, outcome=outcome, reason=reason)
