"""The server side of SIP digest authentication: stateless signed nonces, verification, replay state.

A nonce is ``base64url(timestamp_ms (8 bytes) + random (8 bytes) + HMAC-SHA256(key, realm, ts, random)[:16])``
so any nonce this server issued can be checked without storing it; only the highest nc seen per nonce is
kept (RFC 7616 §5.12 replay protection), bounded and pruned of expired nonces.

Call :meth:`DigestServer.verify` once per server transaction (the transaction layer absorbs
retransmissions, which carry the same nc); ACK and CANCEL are not challenged (RFC 3261 §22.1).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import os
import re
import struct
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .digest import (
    Challenge,
    Credentials,
    DigestAlgorithm,
    TokenSource,
    UnsupportedAlgorithmError,
    get_algorithm,
    response_from_ha1,
)
from .digest_uri import ServerNames, digest_uri_problem

__all__ = ["DigestServer", "VerifyOutcome", "VerifyResult"]

_NONCE_RE = re.compile(r"[A-Za-z0-9_-]{43}")
_NC_RE = re.compile(r"[0-9a-fA-F]{8}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_FUTURE_TOLERANCE = 1.0  # seconds a nonce's timestamp may be ahead of ``now``


class VerifyOutcome(enum.Enum):
    OK = "ok"
    STALE = "stale"  # right digest, signed nonce, but expired: re-challenge with stale=TRUE
    BAD_CREDENTIALS = "bad-credentials"  # wrong password or unknown user (indistinguishable)
    BAD_NONCE = "bad-nonce"  # not a nonce of ours (forged, tampered, other realm/key): stale=FALSE
    REPLAY = "replay"  # nc not above the highest already accepted for this nonce
    MALFORMED = "malformed"  # realm/qop/algorithm/opaque not what was offered, nc or response malformed
    URI_MISMATCH = "uri-mismatch"  # answer 400 (RFC 7616 §3.4.6): the digest uri is not the request's target


@dataclass(frozen=True)
class VerifyResult:
    outcome: VerifyOutcome
    reason: str
    username: str | None = None  # the authenticated user, set only when outcome is OK

    def __init__(self, outcome: VerifyOutcome, reason: str, username: str | None = None) -> None:
        # The fields above, stored in one step: the generated frozen __init__ calls object.__setattr__
        # once per field, which costs more than the rest of making a result (one per verification).
        self.__dict__.update(outcome=outcome, reason=reason, username=username)

    @property
    def ok(self) -> bool:
        return self.outcome is VerifyOutcome.OK

    @property
    def stale(self) -> bool:
        """Whether the next challenge must carry stale=TRUE (only for STALE, RFC 7616 §3.3)."""
        return self.outcome is VerifyOutcome.STALE


class DigestServer:
    """Issues challenges and verifies credentials for one realm.

    ``algorithms`` are offered one challenge each (RFC 8760 §2.4), strongest first. ``qop`` is what the
    challenges offer; empty means RFC 2069 mode (no qop, each nonce usable once). ``opaque``, when given,
    is sent in every challenge and must be echoed.
    """

    def __init__(self, secret_key: bytes, realm: str, nonce_lifetime: float = 300.0,
                 algorithms: Sequence[str] = ("MD5",), token_source: TokenSource = os.urandom, *,
                 qop: Sequence[str] = ("auth",), opaque: str | None = None,
                 max_tracked_nonces: int = 100_000) -> None:
        if len(secret_key) < 16:
            raise ValueError("the digest nonce secret key must be at least 16 bytes")
        if not algorithms:
            raise ValueError("a DigestServer must offer at least one algorithm")
        if any(q.lower() not in ("auth", "auth-int") for q in qop):
            raise ValueError(f"unsupported qop in {list(qop)}; supported: auth, auth-int")
        algs = [get_algorithm(a) for a in algorithms]  # UnsupportedAlgorithmError if unknown
        self.algorithms: tuple[DigestAlgorithm, ...] = tuple(sorted(
            dict.fromkeys(algs), key=lambda a: -a.strength))  # stable: configured order within a strength
        self.realm = realm
        self.nonce_lifetime = nonce_lifetime
        self.qop = tuple(qop)
        self.opaque = opaque
        self.max_tracked_nonces = max_tracked_nonces
        self._key = secret_key
        # The nonce MAC with the key and the realm already fed in: copied per nonce, cheaper than a new one.
        self._nonce_mac = hmac.new(secret_key, b"trunkcheck-digest-nonce\0" + realm.encode("utf-8") + b"\0",
                                   "sha256")
        self._token_source = token_source
        self._dummy_password = hashlib.sha256(b"dummy-password\0" + secret_key).hexdigest()
        # nonce -> (highest nc accepted, issued at); ordered by first acceptance.
        self._seen: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._evicted_upto = float("-inf")  # newest issue time of an unexpired nonce evicted for space
        # stale -> (text before, text after) the nonce parameter of each challenge's header value.
        self._header_parts: dict[bool, list[tuple[str, str]]] = {}

    @property
    def tracked_nonces(self) -> int:
        """How many nonces have a replay record (bounded by ``max_tracked_nonces``)."""
        return len(self._seen)

    # --- nonces -------------------------------------------------------------------------------------

    def _sign(self, ts_rand: bytes) -> bytes:
        mac = self._nonce_mac.copy()  # HMAC(key, "trunkcheck-digest-nonce\0" realm "\0" ts_rand)
        mac.update(ts_rand)
        return mac.digest()[:16]

    def make_nonce(self, now: float) -> str:
        if now < 0:
            raise ValueError(f"now={now} is negative; nonces carry an unsigned timestamp")
        rand = self._token_source(8)
        if len(rand) != 8:
            raise ValueError(f"token_source(8) returned {len(rand)} bytes")
        ts_rand = struct.pack(">Q", int(now * 1000)) + rand
        return base64.urlsafe_b64encode(ts_rand + self._sign(ts_rand)).decode("ascii").rstrip("=")

    def nonce_issued_at(self, nonce: str) -> float | None:
        """When a nonce of ours was issued (seconds), None if it is not one (bad signature or shape)."""
        if not _NONCE_RE.fullmatch(nonce):
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce + "=")
        except (binascii.Error, ValueError):
            return None
        ts_rand, mac = raw[:16], raw[16:]
        canonical = base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") == nonce
        if len(raw) != 32 or not canonical or not hmac.compare_digest(mac, self._sign(ts_rand)):
            return None
        return float(struct.unpack(">Q", ts_rand[:8])[0]) / 1000.0

    def challenge(self, now: float, stale: bool = False) -> list[Challenge]:
        """One challenge per offered algorithm, strongest first, sharing one fresh nonce."""
        nonce = self.make_nonce(now)
        return [Challenge(self.realm, nonce, a.name, self.qop, self.opaque, stale) for a in self.algorithms]

    def challenge_headers(self, now: float, stale: bool = False) -> list[str]:
        """``[c.to_header() for c in self.challenge(now, stale)]``, cheaper: only the nonce differs from
        one challenge to the next, so the rest of each value is formatted once (on first use, so that
        a realm to_header refuses fails here as it would there)."""
        parts = self._header_parts.get(stale)
        if parts is None:
            parts = self._header_parts[stale] = [_split_at_nonce(
                Challenge(self.realm, "", a.name, self.qop, self.opaque, stale).to_header())
                for a in self.algorithms]
        nonce = self.make_nonce(now)  # base64url: quoted as it is
        return [f'{before}nonce="{nonce}"{after}' for before, after in parts]

    # --- verification -------------------------------------------------------------------------------

    def verify(self, credentials: Credentials, method: str, uri_in_request_line: str, now: float,
               lookup_password: Callable[[str], str | None] | None = None, body: bytes = b"", *,
               lookup_ha1: Callable[[str, str], str | None] | None = None,
               server_names: ServerNames | None = None) -> VerifyResult:
        """Check credentials against a request. Exactly one of ``lookup_password(username)`` or
        ``lookup_ha1(username, base_algorithm_name)`` (returning hex H(username:realm:password) with that
        algorithm's hash) must be given; either returns None for an unknown user.

        The digest uri must designate the request's target: equal the Request-URI as a SIP URI or, with
        ``server_names``, name the server itself (:mod:`sipcore.digest_uri`); else URI_MISMATCH. The
        response is checked over the uri as the client sent it."""
        if (lookup_password is None) == (lookup_ha1 is None):
            raise ValueError("give exactly one of lookup_password and lookup_ha1")
        c = credentials
        if c.realm != self.realm:
            return VerifyResult(VerifyOutcome.MALFORMED, f"realm {c.realm!r} is not {self.realm!r}")
        if c.uri != uri_in_request_line:
            problem = digest_uri_problem(c.uri, uri_in_request_line, server_names)
            if problem is not None:
                return VerifyResult(VerifyOutcome.URI_MISMATCH, problem)
        alg_or_reason = self._check_shape(c)
        if isinstance(alg_or_reason, str):
            return VerifyResult(VerifyOutcome.MALFORMED, alg_or_reason)
        alg = alg_or_reason

        issued_at = self.nonce_issued_at(c.nonce)
        if issued_at is None:
            return VerifyResult(VerifyOutcome.BAD_NONCE, "the nonce was not issued by this server")
        if issued_at > now + _FUTURE_TOLERANCE:
            return VerifyResult(VerifyOutcome.BAD_NONCE, "the nonce is dated in the future")

        if not self._digest_matches(c, alg, method, body, lookup_password, lookup_ha1):
            # Same outcome and reason for an unknown user and a wrong password (anti-enumeration).
            return VerifyResult(VerifyOutcome.BAD_CREDENTIALS, "the digest response does not match")

        self._prune(now)
        if now - issued_at > self.nonce_lifetime:
            return VerifyResult(VerifyOutcome.STALE, f"the nonce expired {now - issued_at:.0f} s after issue")
        nc = int(c.nc, 16) if c.nc is not None else 0
        seen = self._seen.get(c.nonce)
        if seen is None and issued_at <= self._evicted_upto:
            # Its replay record may have been evicted for space: make the client fetch a fresh nonce.
            return VerifyResult(VerifyOutcome.STALE, "the nonce's replay record was evicted")
        if seen is not None and nc <= seen[0]:
            return VerifyResult(VerifyOutcome.REPLAY,
                                f"nc {nc:08x} is not above {seen[0]:08x}, already used with this nonce")
        self._seen[c.nonce] = (nc, issued_at)
        while len(self._seen) > self.max_tracked_nonces:
            _, (_, evicted_issued) = self._seen.popitem(last=False)
            self._evicted_upto = max(self._evicted_upto, evicted_issued)
        return VerifyResult(VerifyOutcome.OK, "authenticated", c.username)

    def _check_shape(self, c: Credentials) -> DigestAlgorithm | str:
        """The algorithm to verify with, or why the credentials are malformed for this server."""
        try:
            alg = get_algorithm(c.algorithm)
        except UnsupportedAlgorithmError as exc:
            return str(exc)
        if alg not in self.algorithms:
            return f"algorithm {alg.name} was not offered ({', '.join(a.name for a in self.algorithms)})"
        if self.opaque is not None and c.opaque != self.opaque:
            return "opaque missing or not echoed unchanged"
        if c.qop is None:
            if self.qop:
                return f"qop missing; the challenge required one of {','.join(self.qop)}"
            if c.nc is not None or c.cnonce is not None:
                return "nc/cnonce without qop"
            if alg.session:
                return f"{alg.name} without qop has no cnonce"
        else:
            if c.qop.lower() not in {q.lower() for q in self.qop}:
                return f"qop {c.qop!r} was not offered"
            if c.nc is None or c.cnonce is None:
                return f"qop={c.qop} without nc and cnonce"
            if not _NC_RE.fullmatch(c.nc) or int(c.nc, 16) == 0:
                return f"nc {c.nc!r} is not 8 hex digits from 00000001"
        if len(c.response) != alg.hex_length or not _HEX_RE.fullmatch(c.response):
            return f"response is not {alg.hex_length} hex digits for {alg.name}"
        return alg

    def _digest_matches(self, c: Credentials, alg: DigestAlgorithm, method: str, body: bytes,
                        lookup_password: Callable[[str], str | None] | None,
                        lookup_ha1: Callable[[str, str], str | None] | None) -> bool:
        base_ha1: str | None
        if lookup_ha1 is not None:
            base_ha1 = lookup_ha1(c.username, alg.base_name)
        else:
            assert lookup_password is not None
            password = lookup_password(c.username)
            base_ha1 = None if password is None else alg.h(f"{c.username}:{self.realm}:{password}")
        known = base_ha1 is not None
        if base_ha1 is None:  # unknown user: hash anyway so the timing matches a wrong password
            base_ha1 = alg.h(f"{c.username}:{self.realm}:{self._dummy_password}")
        expected = response_from_ha1(alg.name, base_ha1.lower(), method, c.uri, c.nonce, c.nc, c.cnonce,
                                     c.qop, body)
        matches = hmac.compare_digest(expected.encode("ascii"), c.response.lower().encode("ascii"))
        return known and matches

    def _prune(self, now: float) -> None:
        """Drop replay records of expired nonces from the old end (their nonces now answer STALE)."""
        while self._seen:
            nonce, (_, issued_at) = next(iter(self._seen.items()))
            if now - issued_at <= self.nonce_lifetime:
                return
            del self._seen[nonce]


def _split_at_nonce(header: str) -> tuple[str, str]:
    """The text before and after the empty ``nonce=""`` of a challenge's header value. The realm
    before it cannot hold ``="`` (a '"' in it is escaped)."""
    before, found, after = header.partition('nonce=""')
    assert found, header
    return before, after
