"""SIP and SIPS URIs (RFC 3261 §19.1) and other absolute URIs.

A :class:`SipURI` keeps its parts unescaped-as-received (the text between the delimiters) and
compares by RFC 3261 §19.1.4: user and password case-sensitively after %-unescaping; host, scheme,
parameter names and most parameter values case-insensitively; parameters present in only one URI are
ignored except user, ttl, method, maddr and transport; URI headers must all match.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, field

from .errors import SIPParseError
from .params import opt

_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*\Z")
# hostname / IPv4: alphanumerics, '-', '.'; IPv6 in brackets.
_HOST = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")
# RFC 3261 §25.1: characters allowed (unescaped) in user, password, param and header parts.
_UNRESERVED = r"A-Za-z0-9\-_.!~*'()"
_USER_OK = re.compile(rf"[{_UNRESERVED}%&=+$,;?/]*\Z")
_PASSWORD_OK = re.compile(rf"[{_UNRESERVED}%&=+$,]*\Z")
_PARAM_OK = re.compile(rf"[{_UNRESERVED}%\[\]/:&+$]*\Z")
_HEADER_OK = re.compile(rf"[{_UNRESERVED}%\[\]/?:+$]*\Z")
# Parameters that must match when present in only one URI (§19.1.4).
_SIGNIFICANT_PARAMS = ("user", "ttl", "method", "maddr", "transport")
_SPACE_OR_BRACKET = re.compile(r'[\s<>"]')


def _octet(m: re.Match[str]) -> str:
    return chr(int(m.group(1), 16))


def unescape(text: str) -> str:
    """Decode %HH escapes (as UTF-8 octets where they form UTF-8, else Latin-1)."""
    if "%" not in text:
        return text
    raw = _ESCAPE.sub(_octet, text)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return raw


@functools.lru_cache(maxsize=1024)
def canonical_host(host: str) -> str:
    """A host for "is it the same host" tests: an IP address in its canonical text (IPv6 without brackets,
    an IPv4-mapped IPv6 address as IPv4), a name in lower case without a trailing dot. Not RFC 3261
    §19.1.4 URI equality (which compares the host text as written), but which host it designates.
    Cached: a server sees the same few hosts again and again."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("["):
        host = (host[1:-1] if host.endswith("]") else host[1:]).rstrip(".")
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return str(addr)


def default_port(scheme: str) -> int:
    """The port a URI without one designates (RFC 3261 §19.1.2): 5061 for sips, 5060 otherwise."""
    return 5061 if scheme.lower() == "sips" else 5060


def escape(text: str, safe: str = "") -> str:
    """%-escape every character that is not unreserved (nor in ``safe``)."""
    out = []
    for ch in text:
        if ch.isascii() and (ch.isalnum() or ch in "-_.!~*'()" or ch in safe):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


@dataclass(eq=False, slots=True)
class SipURI:
    """A ``sip:`` or ``sips:`` URI."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    scheme: str = "sip"
    params: dict[str, str | None] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        """A URI parameter's value, the name compared case-insensitively after unescaping
        (``;%6C%72`` is ``;lr``); None when absent or valueless."""
        value = self.params.get(name)
        if value is not None:
            return value
        return _param_value(self.params, name)[1]

    def has_param(self, name: str) -> bool:
        return name in self.params or _param_value(self.params, name)[0]

    @property
    def transport(self) -> str | None:
        value = self.param("transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        return self.has_param("lr")

    @property
    def host_lower(self) -> str:
        return self.host.lower()

    def hostport(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(self.user)
            if self.password is not None:
                parts.extend((":", self.password))
            parts.append("@")
        parts.append(self.hostport())
        for name, value in self.params.items():
            parts.append(f";{name}" if value is None else f";{name}={value}")
        if self.headers:
            parts.append("?" + "&".join(f"{k}={v}" for k, v in self.headers.items()))
        return "".join(parts)

    def __repr__(self) -> str:
        return f"SipURI({str(self)!r})"

    def copy(self, **changes: object) -> SipURI:
        values: dict[str, object] = {
            "host": self.host, "user": self.user, "password": self.password, "port": self.port,
            "scheme": self.scheme, "params": dict(self.params), "headers": dict(self.headers),
        }
        values.update(changes)
        return SipURI(**values)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        """RFC 3261 §19.1.4 comparison."""
        if not isinstance(other, SipURI):
            return NotImplemented
        if self.scheme.lower() != other.scheme.lower():
            return False
        if _opt_unescape(self.user) != _opt_unescape(other.user):
            return False
        if _opt_unescape(self.password) != _opt_unescape(other.password):
            return False
        if unescape(self.host).lower() != unescape(other.host).lower() or self.port != other.port:
            return False
        mine = _norm_params(self.params)
        theirs = _norm_params(other.params)
        for name in mine.keys() & theirs.keys():
            if mine[name] != theirs[name]:
                return False
        for name in _SIGNIFICANT_PARAMS:
            if (name in mine) != (name in theirs):
                return False
        return _norm_headers(self.headers) == _norm_headers(other.headers)

    __hash__ = None  # type: ignore[assignment]


@dataclass(eq=False, slots=True)
class AbsoluteURI:
    """Any other URI (tel:, http:, urn:, isbn: ...), kept as text."""

    scheme: str
    rest: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"

    def __repr__(self) -> str:
        return f"AbsoluteURI({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AbsoluteURI):
            return NotImplemented
        return self.scheme.lower() == other.scheme.lower() and unescape(self.rest) == unescape(other.rest)

    __hash__ = None  # type: ignore[assignment]


URI = SipURI | AbsoluteURI
_new_object = object.__new__


def new_sip_uri(host: str, user: str | None, password: str | None, port: int | None, scheme: str,
                params: dict[str, str | None], headers: dict[str, str]) -> SipURI:
    """``SipURI(host, user, password, port, scheme, params, headers)``, the same object, made for the
    parsers' hot paths without calling the class: the dataclass ``__init__`` costs a type call, a
    second interpreter frame and a default-factory test per dict field."""
    uri = _new_object(SipURI)
    uri.host = host
    uri.user = user
    uri.password = password
    uri.port = port
    uri.scheme = scheme
    uri.params = params
    uri.headers = headers
    return uri


def _param_value(params: dict[str, str | None], name: str) -> tuple[bool, str | None]:
    lname = name.lower()
    for key, value in params.items():
        if key.lower() == lname or ("%" in key and unescape(key).lower() == lname):
            return True, value
    return False, None


def _opt_unescape(value: str | None) -> str | None:
    return None if value is None else unescape(value)


def _norm_params(params: dict[str, str | None]) -> dict[str, str | None]:
    return {unescape(k).lower(): (None if v is None else unescape(v).lower()) for k, v in params.items()}


def _norm_headers(headers: dict[str, str]) -> dict[str, str]:
    return {unescape(k).lower(): unescape(v) for k, v in headers.items()}


# The common forms of a SIP URI in one expression (RFC 3261 §25.1 character classes; possessive
# quantifiers keep it linear). A URI it does not match goes through the general parser below, which
# either accepts it with the same result or says what is wrong. The fragments are shared with the
# name-addr and addr-spec expressions in headers.py; each has 7 groups: scheme, user, password, host,
# port, parameters, headers (the addr-spec one never matches the last two). Optional parts are written
# opt(x), (?:x|), rather than (?:x)? (see params.opt).
_P_CHARS = rf"{_UNRESERVED}%\[\]/:&+$"
_HOST_PORT_RE = r"([A-Za-z0-9\-.]++|\[[0-9A-Fa-f:.]++\])" + opt(r":([0-9]{1,5})")
SIP_URI_RE = (
    r"([Ss][Ii][Pp][Ss]?):"
    + opt(rf"([{_UNRESERVED}%&=+$,;?/]++)" + opt(rf":([{_UNRESERVED}%&=+$,]*+)") + "@")
    + _HOST_PORT_RE
    + rf"((?:;[{_P_CHARS}]++{opt(rf'=[{_P_CHARS}]++')})*+)"
    + opt(rf"\?([{_UNRESERVED}%\[\]/?:+$=&]*+)")
)
#: A SIP URI written as an addr-spec (RFC 3261 §20.10): no ';', '?' or ',' anywhere in it.
SIP_ADDR_SPEC_RE = (
    r"([Ss][Ii][Pp][Ss]?):"
    + opt(rf"([{_UNRESERVED}%&=+$/]++)" + opt(rf":([{_UNRESERVED}%&=+$]*+)") + "@")
    + _HOST_PORT_RE + "()()"
)
_FAST_SIP_URI = re.compile(SIP_URI_RE + r"\Z")


def parse_uri(text: str, *, header: str | None = None) -> SipURI | AbsoluteURI:
    """Parse a URI. sip/sips become :class:`SipURI`; any other scheme an :class:`AbsoluteURI`."""
    m = _FAST_SIP_URI.match(text)
    if m is not None:
        scheme, user, password, host, port, params, headers = m.groups()
        if port is None and not params and headers is None and "%" not in text:
            return new_sip_uri(host, user, password, None, scheme, {}, {})
        uri = sip_uri_from_match(scheme, user, password, host, port, params, headers, text)
        if uri is not None:
            return uri
    colon = text.find(":")
    if colon <= 0 or not _SCHEME.match(text, 0, colon):
        raise SIPParseError(f"URI {text!r} has no scheme", header=header)
    scheme = text[:colon]
    if scheme.lower() not in ("sip", "sips"):
        rest = text[colon + 1:]
        if not rest or _SPACE_OR_BRACKET.search(rest):
            raise SIPParseError(f"malformed {scheme} URI {text!r}", header=header)
        return AbsoluteURI(scheme, rest)
    return _parse_sip_uri(text, header)


def parse_sip_uri(text: str, *, header: str | None = None) -> SipURI:
    """Parse a sip: or sips: URI (RFC 3261 §19.1.1)."""
    m = _FAST_SIP_URI.match(text)
    if m is not None:
        scheme, user, password, host, port, params, headers = m.groups()
        uri = sip_uri_from_match(scheme, user, password, host, port, params, headers, text)
        if uri is not None:
            return uri
    return _parse_sip_uri(text, header)


def sip_uri_from_match(scheme: str, user: str | None, password: str | None, host: str,
                       port_text: str | None, param_text: str, header_text: str | None,
                       text: str) -> SipURI | None:
    """Build a SipURI from the groups of SIP_URI_RE; None when a check the expression cannot make fails
    (a % that is not an escape, a port out of range, a malformed URI header), so that the general parser
    names the problem. ``text`` is the string matched (only searched for bad escapes)."""
    if "%" in text and _BAD_ESCAPE.search(text):
        return None
    port = None
    if port_text is not None:
        port = int(port_text)
        if not 0 < port <= 65535:
            return None
    params: dict[str, str | None] = {}
    if param_text:
        if param_text.find(";", 1) < 0:
            name, eq, value = param_text[1:].partition("=")
            params[name] = value if eq else None
        else:
            for item in param_text[1:].split(";"):
                name, eq, value = item.partition("=")
                params[name] = value if eq else None
    headers: dict[str, str] = {}
    if header_text is not None:
        for item in header_text.split("&"):
            name, eq, value = item.partition("=")
            if not name or not eq or "=" in value:
                return None
            headers[name] = value
    return new_sip_uri(host, user, password, port, scheme, params, headers)


def _parse_sip_uri(text: str, header: str | None) -> SipURI:
    """The general SIP URI parser: accepts every valid form and names what is wrong with the rest."""
    colon = text.find(":")
    scheme = text[:colon] if colon > 0 else ""
    if scheme.lower() not in ("sip", "sips"):
        raise SIPParseError(f"{text!r} is not a sip or sips URI", 416, header=header)
    rest = text[colon + 1:]
    if not rest or _SPACE_OR_BRACKET.search(rest):
        raise SIPParseError(f"malformed SIP URI {text!r}", header=header)
    if _BAD_ESCAPE.search(rest):
        raise SIPParseError(f"SIP URI {text!r} has a % that is not an escape", header=header)
    user = password = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1:]
        if ":" in userinfo:
            user, password = userinfo.split(":", 1)
            if not _PASSWORD_OK.match(password):
                raise SIPParseError(f"SIP URI {text!r} has an invalid password", header=header)
        else:
            user = userinfo
        if not user or not _USER_OK.match(user):
            raise SIPParseError(f"SIP URI {text!r} has an invalid user part", header=header)
    headers: dict[str, str] = {}
    qmark = rest.find("?")
    if qmark >= 0:
        rest, header_text = rest[:qmark], rest[qmark + 1:]
        for item in header_text.split("&"):
            name, eq, value = item.partition("=")
            if not name or not eq or not _HEADER_OK.match(name) or not _HEADER_OK.match(value):
                raise SIPParseError(f"SIP URI {text!r} has a malformed header {item!r}", header=header)
            headers[name] = value
    hostport, *param_items = rest.split(";")
    params: dict[str, str | None] = {}
    for item in param_items:
        name, eq, value = item.partition("=")
        if not name or not _PARAM_OK.match(name) or (eq and (not value or not _PARAM_OK.match(value))):
            raise SIPParseError(f"SIP URI {text!r} has a malformed parameter {item!r}", header=header)
        params[name] = value if eq else None
    host, port = split_hostport(hostport, what=f"SIP URI {text!r}", header=header)
    return SipURI(host=host, user=user, password=password, port=port, scheme=scheme,
                  params=params, headers=headers)


def split_hostport(text: str, *, what: str, header: str | None = None) -> tuple[str, int | None]:
    """Split ``host[:port]`` (IPv6 references in brackets) and check both parts."""
    if text.startswith("["):
        end = text.find("]")
        host, after = text[:end + 1], text[end + 1:]
        if end < 0 or (after and not after.startswith(":")):
            raise SIPParseError(f"{what} has a malformed IPv6 reference", header=header)
        port_text = after[1:] if after else None
    else:
        host, sep, port_text_ = text.partition(":")
        port_text = port_text_ if sep else None
    if not host or not _HOST.match(host):
        raise SIPParseError(f"{what} has an invalid host {host!r}", header=header)
    port = None
    if port_text is not None:
        if not _PORT.match(port_text) or not 0 < int(port_text) <= 65535:
            raise SIPParseError(f"{what} has an invalid port {port_text!r}", header=header)
        port = int(port_text)
    return host, port
