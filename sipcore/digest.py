"""SIP digest authentication: header codec and response computation.

RFC 3261 §22 on top of RFC 2617, RFC 7616 (SHA-256, SHA-512-256, the -sess variants) and RFC 8760 (one
challenge per algorithm). Sans-IO. The client side (choosing a challenge, nc and cnonce) is
:mod:`sipcore.digest_client`, the server side (nonces, verification, replay state) :mod:`sipcore.digest_server`;
both take their randomness from an injectable ``TokenSource`` (``os.urandom`` by default).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .errors import SIPError, SIPParseError
from .ids import TokenSource

__all__ = [
    "ALGORITHMS", "Challenge", "Credentials", "DigestAlgorithm", "DigestError", "TokenSource",
    "UnsupportedAlgorithmError", "compute_ha1", "compute_response", "get_algorithm", "header_names_for",
    "parse_challenge", "parse_challenges", "parse_credentials", "response_from_ha1",
]

class DigestError(SIPError, ValueError):
    """Digest authentication cannot proceed locally (unsupported algorithm or qop, missing cnonce ...)."""


class UnsupportedAlgorithmError(DigestError):
    """The algorithm named in a challenge or in credentials is not one this module implements."""


# --- algorithms ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigestAlgorithm:
    """One RFC 7616 §6.1 algorithm: ``name`` as registered, the hashlib name, and whether it is -sess."""

    name: str
    hash_name: str
    session: bool
    strength: int  # higher is stronger; the -sess variant ranks with its base

    @property
    def base_name(self) -> str:
        return self.name.removesuffix("-sess")

    @functools.cached_property  # asked for every verification; the hash object is not free to make
    def hex_length(self) -> int:
        return hashlib.new(self.hash_name).digest_size * 2

    def h(self, data: str | bytes) -> str:
        """H(data) as lowercase hex (RFC 7616 §3.4); strings are hashed as UTF-8."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return hashlib.new(self.hash_name, raw).hexdigest()


ALGORITHMS: dict[str, DigestAlgorithm] = {
    a.name.upper(): a for a in (
        DigestAlgorithm("MD5", "md5", False, 1),
        DigestAlgorithm("MD5-sess", "md5", True, 1),
        DigestAlgorithm("SHA-256", "sha256", False, 2),
        DigestAlgorithm("SHA-256-sess", "sha256", True, 2),
        DigestAlgorithm("SHA-512-256", "sha512_256", False, 3),
        DigestAlgorithm("SHA-512-256-sess", "sha512_256", True, 3),
    )
}


def get_algorithm(name: str | None) -> DigestAlgorithm:
    """The algorithm called ``name`` (case-insensitive); ``None`` (parameter absent) means MD5."""
    if name is None:
        return ALGORITHMS["MD5"]
    try:
        return ALGORITHMS[name.upper()]
    except KeyError:
        known = ", ".join(a.name for a in ALGORITHMS.values())
        raise UnsupportedAlgorithmError(
            f"unsupported digest algorithm {name!r}; supported: {known}") from None


# --- response computation (RFC 2617 §3.2.2, RFC 7616 §3.4) ---------------------------------------------

def compute_ha1(algorithm: str | None, username: str, realm: str, password: str, nonce: str,
                cnonce: str | None) -> str:
    """H(A1): H(username:realm:password), and for -sess H(that:nonce:cnonce)."""
    alg = get_algorithm(algorithm)
    return _session_ha1(alg, alg.h(f"{username}:{realm}:{password}"), nonce, cnonce)


def _session_ha1(alg: DigestAlgorithm, base_ha1: str, nonce: str, cnonce: str | None) -> str:
    if not alg.session:
        return base_ha1
    if cnonce is None:
        raise DigestError(f"{alg.name} needs a cnonce (and therefore a qop)")
    return alg.h(f"{base_ha1}:{nonce}:{cnonce}")


def response_from_ha1(algorithm: str | None, base_ha1: str, method: str, uri: str, nonce: str,
                      nc: str | None, cnonce: str | None, qop: str | None, body: bytes = b"") -> str:
    """The request-digest from a stored H(username:realm:password) (the -sess step is applied here)."""
    alg = get_algorithm(algorithm)
    ha1 = _session_ha1(alg, base_ha1, nonce, cnonce)
    qop_l = None if qop is None else qop.lower()
    if qop_l in (None, "auth"):
        ha2 = alg.h(f"{method}:{uri}")
    elif qop_l == "auth-int":
        ha2 = alg.h(f"{method}:{uri}:{alg.h(body)}")
    else:
        raise DigestError(f"unsupported qop {qop!r}; supported: auth, auth-int")
    if qop is None:  # RFC 2069 compatibility
        return alg.h(f"{ha1}:{nonce}:{ha2}")
    if nc is None or cnonce is None:
        raise DigestError(f"qop={qop} needs both nc and cnonce")
    return alg.h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def compute_response(algorithm: str | None, username: str, realm: str, password: str, method: str,
                     uri: str, nonce: str, nc: str | None, cnonce: str | None, qop: str | None,
                     body: bytes = b"") -> str:
    """The request-digest (the ``response`` parameter) for qop auth, auth-int or absent (RFC 2069)."""
    base = get_algorithm(algorithm).h(f"{username}:{realm}:{password}")
    return response_from_ha1(algorithm, base, method, uri, nonce, nc, cnonce, qop, body)


# --- header codec ---------------------------------------------------------------------------------------

_WS = " \t"
_WS_RE = re.compile(r"[ \t]*")
_TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"  # RFC 3261 token
_TOKEN_RE = re.compile(_TOKEN)
# The quoted-string body as runs of plain characters between quoted-pairs: the same language as
# (?:[^"\\]|\\.)*, several times cheaper for the regex engine (no alternation per character).
_QUOTED_BODY = r'[^"\\]*(?:\\.[^"\\]*)*'
_QUOTED_RE = re.compile(rf'"({_QUOTED_BODY})"', re.DOTALL)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
# Parameters RFC 7616 / RFC 3261 always send as quoted-string, whatever their value looks like.
_ALWAYS_QUOTED = frozenset({"realm", "nonce", "uri", "response", "cnonce", "opaque", "username",
                            "domain"})


def _is_token(value: str) -> bool:
    return _TOKEN_RE.fullmatch(value) is not None


# Characters a digest parameter must not hold: controls other than HTAB, DEL, and lone surrogates
# (undecodable octets that arrived as surrogateescape).
_FORBIDDEN_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")


def _forbidden_char(value: str) -> re.Match[str] | None:
    """Where ``value`` holds a forbidden character; printable ASCII, the usual case, holds none (and
    str.isprintable scans it several times faster than the regex)."""
    return None if value.isascii() and value.isprintable() else _FORBIDDEN_RE.search(value)


def _format_param(name: str, value: str, quote: bool) -> str:
    if _forbidden_char(value) is not None:
        raise ValueError(f"digest parameter {name} contains a control character: {value!r}")
    if not quote and _is_token(value):
        return f"{name}={value}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{name}="{escaped}"'


# The fast path of _parse_auth_params: a whole well-formed ``Digest name=value, ...`` list (no empty list
# elements) is recognised by one regular expression and its parameters picked by a second; anything else
# (including every malformed value) goes through the character-by-character parser, whose errors say
# what is wrong where. The scheme is spelled out letter by letter: re.IGNORECASE would also accept
# non-ASCII look-alikes (U+017F for "s") that str.lower() does not map to "digest".
_AUTH_PARAM_RE = re.compile(rf'({_TOKEN})[ \t]*=[ \t]*(?:"({_QUOTED_BODY})"|({_TOKEN}))', re.DOTALL)
_ANY_PARAM = rf'{_TOKEN}[ \t]*=[ \t]*(?:"{_QUOTED_BODY}"|{_TOKEN})'  # the same without groups
_DIGEST_LIST_RE = re.compile(
    rf"[ \t]*([Dd][Ii][Gg][Ee][Ss][Tt])(?:[ \t]+{_ANY_PARAM}(?:[ \t]*,[ \t]*{_ANY_PARAM})*)?[ \t]*",
    re.DOTALL)


def _parse_auth_params(value: str, header: str) -> dict[str, str]:
    """Split ``Digest name=value, name="quoted"`` into lowercase names -> unescaped values."""
    v = value.replace("\r\n ", " ").replace("\r\n\t", " ") if "\r" in value else value  # unfold LWS
    forbidden = _forbidden_char(v)
    if forbidden is not None:
        raise SIPParseError(f"control character {forbidden.group()!r} in the {header} value", header=header)
    whole = _DIGEST_LIST_RE.fullmatch(v)
    if whole is not None:
        found = _AUTH_PARAM_RE.findall(v, whole.end(1))
        params = {name.lower(): token or (_QUOTED_PAIR_RE.sub(r"\1", quoted) if "\\" in quoted else quoted)
                  for name, quoted, token in found}
        if len(params) == len(found):
            return params
    return _parse_auth_params_slowly(v, header)


def _parse_auth_params_slowly(v: str, header: str) -> dict[str, str]:
    """The general parser of an unfolded auth-param list, with precise errors."""
    i, scheme = _token(v, _skip_ws(v, 0))
    if scheme.lower() != "digest":
        raise SIPParseError(f"expected the Digest scheme, got {scheme or v[:20]!r}", header=header)
    if i < len(v) and v[i] not in _WS:
        raise SIPParseError(f"expected whitespace after the Digest scheme at offset {i}", header=header)
    params: dict[str, str] = {}
    while True:
        i = _skip_ws(v, i)
        if i >= len(v):
            return params
        if v[i] == ",":  # empty list element, tolerated (RFC 7230 §7)
            i += 1
            continue
        i, name = _token(v, i)
        name = name.lower()
        if not name:
            raise SIPParseError(f"expected a parameter name at offset {i}, found {v[i]!r}", header=header)
        i = _skip_ws(v, i)
        if i >= len(v) or v[i] != "=":
            raise SIPParseError(f"expected '=' after parameter {name!r}", header=header)
        i = _skip_ws(v, i + 1)
        if i < len(v) and v[i] == '"':
            m = _QUOTED_RE.match(v, i)
            if m is None:
                raise SIPParseError(f"unterminated quoted-string in parameter {name!r}", header=header)
            i, val = m.end(), _QUOTED_PAIR_RE.sub(r"\1", m.group(1))
        else:
            i, val = _token(v, i)
            if not val:
                raise SIPParseError(f"parameter {name!r} has no value", header=header)
        if name in params:
            raise SIPParseError(f"parameter {name!r} appears twice", header=header)
        params[name] = val
        i = _skip_ws(v, i)
        if i < len(v) and v[i] != ",":
            raise SIPParseError(f"expected ',' after parameter {name!r}, found {v[i]!r}", header=header)


def _skip_ws(v: str, i: int) -> int:
    m = _WS_RE.match(v, i)
    return m.end() if m else i


def _token(v: str, i: int) -> tuple[int, str]:
    m = _TOKEN_RE.match(v, i)
    return (m.end(), m.group()) if m else (i, "")


def _require(params: Mapping[str, str], names: Sequence[str], header: str) -> None:
    missing = [p for p in names if p not in params]
    if missing:
        raise SIPParseError(f"missing required digest parameter(s): {', '.join(missing)}", header=header)


@dataclass(frozen=True)
class Challenge:
    """A Digest challenge (WWW-Authenticate / Proxy-Authenticate). ``algorithm`` None means absent (MD5);
    ``qop`` empty means absent (RFC 2069 compatibility); ``other`` keeps unknown parameters."""

    realm: str
    nonce: str
    algorithm: str | None = None
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False
    other: Mapping[str, str] = field(default_factory=dict)

    def __init__(self, realm: str, nonce: str, algorithm: str | None = None, qop: tuple[str, ...] = (),
                 opaque: str | None = None, stale: bool = False, other: Mapping[str, str] | None = None,
                 ) -> None:
        # The fields above, stored in one step: the generated frozen __init__ calls object.__setattr__
        # once per field, which costs more than the rest of making a challenge (one per INVITE).
        self.__dict__.update(realm=realm, nonce=nonce, algorithm=algorithm, qop=qop, opaque=opaque,
                             stale=stale, other={} if other is None else other)

    def to_header(self) -> str:
        parts = [_format_param("realm", self.realm, True), _format_param("nonce", self.nonce, True)]
        if self.opaque is not None:
            parts.append(_format_param("opaque", self.opaque, True))
        if self.stale:
            parts.append("stale=TRUE")
        if self.algorithm is not None:
            parts.append(_format_param("algorithm", self.algorithm, False))
        if self.qop:
            parts.append(_format_param("qop", ",".join(self.qop), True))
        parts += [_format_param(k, val, k in _ALWAYS_QUOTED) for k, val in self.other.items()]
        return "Digest " + ", ".join(parts)


@dataclass(frozen=True)
class Credentials:
    """Digest credentials (Authorization / Proxy-Authorization); ``other`` keeps unknown parameters."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: str | None = None
    other: Mapping[str, str] = field(default_factory=dict)

    def __init__(self, username: str, realm: str, nonce: str, uri: str, response: str,
                 algorithm: str | None = None, cnonce: str | None = None, opaque: str | None = None,
                 qop: str | None = None, nc: str | None = None, other: Mapping[str, str] | None = None,
                 ) -> None:
        # The fields above, stored in one step (see Challenge.__init__; parsed for every INVITE).
        self.__dict__.update(username=username, realm=realm, nonce=nonce, uri=uri, response=response,
                             algorithm=algorithm, cnonce=cnonce, opaque=opaque, qop=qop, nc=nc,
                             other={} if other is None else other)

    def to_header(self) -> str:
        parts = [_format_param(k, val, True) for k, val in (
            ("username", self.username), ("realm", self.realm), ("nonce", self.nonce),
            ("uri", self.uri), ("response", self.response))]
        for name, val, quote in (("algorithm", self.algorithm, False), ("cnonce", self.cnonce, True),
                                 ("opaque", self.opaque, True), ("qop", self.qop, False),
                                 ("nc", self.nc, False)):
            if val is not None:
                parts.append(_format_param(name, val, quote))
        parts += [_format_param(k, val, k in _ALWAYS_QUOTED) for k, val in self.other.items()]
        return "Digest " + ", ".join(parts)


_CHALLENGE_KNOWN = frozenset({"realm", "nonce", "algorithm", "qop", "opaque", "stale"})
_CREDENTIALS_KNOWN = frozenset({"username", "realm", "nonce", "uri", "response", "algorithm", "cnonce",
                                "opaque", "qop", "nc"})


def _others(params: dict[str, str], known: frozenset[str]) -> dict[str, str]:
    """The parameters not in ``known``, in order; usually there are none, which one set comparison finds."""
    if params.keys() <= known:
        return {}
    return {k: val for k, val in params.items() if k not in known}


def parse_challenge(value: str, *, header: str = "WWW-Authenticate") -> Challenge:
    """Parse one WWW-Authenticate / Proxy-Authenticate value; SIPParseError(header=header) if malformed."""
    p = _parse_auth_params(value, header)
    _require(p, ("realm", "nonce"), header)
    qop = tuple(q.strip() for q in p["qop"].split(",") if q.strip()) if "qop" in p else ()
    return Challenge(  # positional: realm, nonce, algorithm, qop, opaque, stale, other
        p["realm"], p["nonce"], p.get("algorithm"), qop, p.get("opaque"),
        p.get("stale", "").upper() == "TRUE",  # anything else is FALSE (RFC 7616 §3.3)
        _others(p, _CHALLENGE_KNOWN))


def parse_challenges(values: Sequence[str], *, header: str = "WWW-Authenticate") -> list[Challenge]:
    """The Digest challenges among several header values (one per header field); other schemes skipped."""
    out = []
    for value in values:
        words = value.split(None, 1)
        if words and words[0].lower() == "digest":
            out.append(parse_challenge(value, header=header))
    return out


def parse_credentials(value: str, *, header: str = "Authorization") -> Credentials:
    """Parse one Authorization / Proxy-Authorization value; SIPParseError(header=header) if malformed."""
    p = _parse_auth_params(value, header)
    _require(p, ("username", "realm", "nonce", "uri", "response"), header)
    get = p.get
    return Credentials(  # positional (cheaper): username, realm, nonce, uri, response, then the optional
        p["username"], p["realm"], p["nonce"], p["uri"], p["response"],  # algorithm cnonce opaque qop nc
        get("algorithm"), get("cnonce"), get("opaque"), get("qop"), get("nc"), _others(p, _CREDENTIALS_KNOWN))


def header_names_for(status: int) -> tuple[str, str]:
    """(challenge header, credentials header) for a 401 (registrar / UAS) or a 407 (proxy)."""
    if status == 401:
        return ("WWW-Authenticate", "Authorization")
    if status == 407:
        return ("Proxy-Authenticate", "Proxy-Authorization")
    raise ValueError(f"status {status} carries no digest challenge; only 401 and 407 do")
