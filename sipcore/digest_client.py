"""The client side of SIP digest authentication: choose a challenge, answer it, count nc per nonce.

RFC 3261 §22, RFC 7616 and RFC 8760 §2.4 (several challenges, one per algorithm: the client answers the
first it supports in its own order of preference). Sans-IO: cnonces come from an injectable
``token_source``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .digest import (
    Challenge,
    Credentials,
    DigestError,
    TokenSource,
    UnsupportedAlgorithmError,
    compute_response,
    get_algorithm,
)

__all__ = ["DEFAULT_PREFERENCE", "DigestClient", "choose_challenge"]

DEFAULT_PREFERENCE: tuple[str, ...] = ("SHA-512-256", "SHA-256", "MD5")


def _rank(challenge: Challenge, preferred: Sequence[str]) -> tuple[int, int] | None:
    """Sort key of a usable challenge (lower is better), None if unusable."""
    try:
        alg = get_algorithm(challenge.algorithm)
    except UnsupportedAlgorithmError:
        return None
    if challenge.qop and not {q.lower() for q in challenge.qop} & {"auth", "auth-int"}:
        return None
    names = [p.upper() for p in preferred]
    if alg.name.upper() in names:
        return names.index(alg.name.upper()), 0
    if alg.base_name.upper() in names:
        return names.index(alg.base_name.upper()), 1
    return None


def choose_challenge(challenges: Sequence[Challenge],
                     preferred: Sequence[str] = DEFAULT_PREFERENCE) -> Challenge:
    """The challenge to answer among several (RFC 8760 §2.4: the first supported in the client's
    preference). A preference for X also accepts X-sess, ranked after X. Ties keep the server's order."""
    ranked = [(r, i) for i, c in enumerate(challenges) if (r := _rank(c, preferred)) is not None]
    if not ranked:
        offered = "; ".join(f"{c.algorithm or 'MD5 (absent)'} qop={','.join(c.qop) or '(absent)'}"
                            for c in challenges) or "none"
        raise UnsupportedAlgorithmError(f"no usable digest challenge: offered {offered}; acceptable "
                                        f"algorithms {', '.join(preferred)}, qop auth or auth-int")
    return challenges[min(ranked)[1]]


class DigestClient:
    """Answers challenges for one username/password, counting nc per nonce."""

    MAX_NONCES = 256  # nc counters kept (oldest nonce forgotten first)

    def __init__(self, username: str, password: str, token_source: TokenSource = os.urandom) -> None:
        self.username = username
        self._password = password
        self._token_source = token_source
        self._nc: dict[str, int] = {}

    def authorize(self, challenge: Challenge | Sequence[Challenge], method: str, uri: str,
                  body: bytes = b"", preferred_algorithms: Sequence[str] = DEFAULT_PREFERENCE,
                  ) -> Credentials:
        """Credentials for ``method uri`` (uri is the Request-URI, as sent). Given several challenges, the
        best one per :func:`choose_challenge`; given one whose algorithm is not acceptable, raises
        :class:`UnsupportedAlgorithmError` (no silent downgrade)."""
        chosen = choose_challenge([challenge] if isinstance(challenge, Challenge) else challenge,
                                  preferred_algorithms)
        qop = self._choose_qop(chosen)
        cnonce = nc = None
        if qop is not None:
            count = self._nc.pop(chosen.nonce, 0) + 1
            if count > 0xFFFFFFFF:
                raise DigestError(f"nc exhausted for nonce {chosen.nonce!r}; a fresh challenge is needed")
            self._nc[chosen.nonce] = count
            while len(self._nc) > self.MAX_NONCES:
                del self._nc[next(iter(self._nc))]
            nc = f"{count:08x}"
            cnonce = self._token_source(16).hex()
        response = compute_response(chosen.algorithm, self.username, chosen.realm, self._password, method,
                                    uri, chosen.nonce, nc, cnonce, qop, body)
        return Credentials(username=self.username, realm=chosen.realm, nonce=chosen.nonce, uri=uri,
                           response=response, algorithm=chosen.algorithm, cnonce=cnonce,
                           opaque=chosen.opaque, qop=qop, nc=nc)

    @staticmethod
    def _choose_qop(challenge: Challenge) -> str | None:
        """qop=auth when offered, auth-int only when it is the only choice, None when absent."""
        if not challenge.qop:
            if get_algorithm(challenge.algorithm).session:
                raise DigestError(f"{challenge.algorithm} challenge without qop: no cnonce to use")
            return None
        for wanted in ("auth", "auth-int"):
            for q in challenge.qop:
                if q.lower() == wanted:
                    return q
        raise DigestError(f"no supported qop in {','.join(challenge.qop)!r}; supported: auth, auth-int")
