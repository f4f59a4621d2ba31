"""Header fields: names, multi-value splitting and the structured headers SIP routing depends on.

Parsing is lazy: a :class:`~sipcore.message.Message` keeps every header as raw text and the functions
here turn a value into a :class:`NameAddr`, :class:`Via` or :class:`CSeq` when it is first asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import SIPParseError
from .uri import AbsoluteURI, SipURI, parse_uri, split_hostport

# RFC 3261 §7.3.3 and the IANA registry: compact form -> canonical name.
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact", "b": "Referred-By", "c": "Content-Type", "d": "Request-Disposition",
    "e": "Content-Encoding", "f": "From", "i": "Call-ID", "j": "Reject-Contact", "k": "Supported",
    "l": "Content-Length", "m": "Contact", "n": "Identity-Info", "o": "Event", "r": "Refer-To",
    "s": "Subject", "t": "To", "u": "Allow-Events", "v": "Via", "x": "Session-Expires", "y": "Identity",
}
_CANONICAL = [
    "Accept", "Accept-Encoding", "Accept-Language", "Alert-Info", "Allow", "Authentication-Info",
    "Authorization", "Call-ID", "Call-Info", "Contact", "Content-Disposition", "Content-Encoding",
    "Content-Language", "Content-Length", "Content-Type", "CSeq", "Date", "Error-Info", "Expires", "From",
    "In-Reply-To", "Max-Forwards", "Min-Expires", "MIME-Version", "Organization", "Priority",
    "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "Reason", "Record-Route", "Reply-To",
    "Require", "Retry-After", "Route", "Server", "Subject", "Supported", "Timestamp", "To", "Unsupported",
    "User-Agent", "Via", "Warning", "WWW-Authenticate", "RSeq", "RAck", "Event", "Allow-Events", "Path",
    "Service-Route", "P-Asserted-Identity", "Session-Expires", "Min-SE", "Refer-To", "Referred-By",
]
CANONICAL_NAMES: dict[str, str] = {name.lower(): name for name in _CANONICAL}
CANONICAL_NAMES.update({k: v for k, v in COMPACT_FORMS.items()})

# Headers whose values are comma-separated lists (RFC 3261 §7.3.1).
LIST_HEADERS = frozenset(name.lower() for name in (
    "Via", "Route", "Record-Route", "Contact", "Allow", "Supported", "Require", "Proxy-Require",
    "Unsupported", "Accept", "Accept-Encoding", "Accept-Language", "Allow-Events", "Content-Encoding",
    "Content-Language", "In-Reply-To", "Path", "Service-Route", "Reason", "Warning", "Alert-Info",
    "Call-Info", "Error-Info", "P-Asserted-Identity",
))

TOKEN = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+\Z")
_DISPLAY_TOKENS = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*\Z")


_KEYS: dict[str, str] = {}


def header_key(name: str) -> str:
    """The lookup key for a header name: lower case, compact forms expanded."""
    key = _KEYS.get(name)
    if key is not None:
        return key
    key = _header_key(name)
    if len(_KEYS) < 4096:  # bounded: header names come from the wire
        _KEYS[name] = key
    return key


def _header_key(name: str) -> str:
    key = name.lower()
    if len(key) == 1:
        full = COMPACT_FORMS.get(key)
        if full is not None:
            return full.lower()
    return key


def canonical_name(name: str) -> str:
    """The conventional spelling of a header name (``call-id`` -> ``Call-ID``, ``v`` -> ``Via``)."""
    key = header_key(name)
    known = CANONICAL_NAMES.get(key)
    return known if known is not None else "-".join(p[:1].upper() + p[1:] for p in name.split("-"))


def split_list(value: str) -> list[str]:
    """Split a list header's value on commas outside quoted strings and <>, stripping LWS."""
    if "," not in value:
        return [value.strip()]
    parts: list[str] = []
    start = 0
    in_quotes = in_angle = False
    i = 0
    n = len(value)
    while i < n:
        ch = value[i]
        if in_quotes:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_quotes = False
        elif ch == '"':
            in_quotes = True
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch == "," and not in_angle:
            parts.append(value[start:i].strip())
            start = i + 1
        i += 1
    parts.append(value[start:].strip())
    return parts


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)


def parse_quoted(text: str, start: int, *, header: str | None = None) -> tuple[str, int]:
    """Read a quoted-string starting at ``text[start] == '"'``; return (unescaped content, end index)."""
    m = _QUOTED.match(text, start)
    if m is None:
        raise SIPParseError(f"unterminated quoted string in {text!r}", header=header)
    content = m.group(1)
    if "\\" in content:
        content = _QUOTED_PAIR.sub(r"\1", content)
    return content, m.end()


def quote(text: str) -> str:
    """Make a quoted-string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str, *, header: str | None = None) -> dict[str, str | None]:
    """Parse ``;name=value;flag`` header parameters. Names keep their case; values are raw text
    (a quoted value keeps its quotes). An empty parameter (``;;``) is an error."""
    params: dict[str, str | None] = {}
    text = text.strip()
    if not text:
        return params
    if text[0] != ";":
        raise SIPParseError(f"expected ';' before parameters in {text!r}", header=header)
    if '"' in text:
        items = _split_outside_quotes(text[1:], ";", header=header)
    else:
        items = text[1:].split(";")
    for item in items:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not TOKEN.match(name):
            raise SIPParseError(f"malformed parameter {item.strip()!r}", header=header)
        if eq:
            value = value.strip()
            if not value:
                raise SIPParseError(f"parameter {name!r} has an empty value", header=header)
            if value[0] == '"':
                _, end = parse_quoted(value, 0, header=header)
                if end != len(value):
                    raise SIPParseError(f"junk after quoted value of {name!r}", header=header)
            elif any(c.isspace() for c in value):
                raise SIPParseError(f"parameter {name!r} has white space in its value", header=header)
            params[name] = value
        else:
            params[name] = None
    return params


def _split_outside_quotes(text: str, sep: str, *, header: str | None) -> list[str]:
    parts: list[str] = []
    start = 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            _, i = parse_quoted(text, i, header=header)
            continue
        if ch == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def format_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


def _param_get(params: dict[str, str | None], name: str) -> str | None:
    if name in params:
        return params[name]
    lname = name.lower()
    for key, value in params.items():
        if key.lower() == lname:
            return value
    return None


@dataclass
class NameAddr:
    """A From, To, Contact, Route or Record-Route value: optional display name, URI, parameters."""

    uri: SipURI | AbsoluteURI
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    #: False where the value was a bare addr-spec (no <>); serialization always uses <>.
    angle_brackets: bool = True

    @property
    def tag(self) -> str | None:
        return _param_get(self.params, "tag")

    def param(self, name: str) -> str | None:
        return _param_get(self.params, name)

    def __str__(self) -> str:
        display = ""
        if self.display_name is not None:
            display = (self.display_name if _DISPLAY_TOKENS.match(self.display_name)
                       else quote(self.display_name)) + " "
        return f"{display}<{self.uri}>{format_params(self.params)}"

    def with_tag(self, tag: str) -> NameAddr:
        params = {k: v for k, v in self.params.items() if k.lower() != "tag"}
        params["tag"] = tag
        return NameAddr(self.uri, self.display_name, params)


def parse_name_addr(value: str, *, header: str | None = None) -> NameAddr:
    """Parse ``name-addr`` or ``addr-spec`` followed by header parameters (RFC 3261 §20.10, §25.1)."""
    text = value.strip()
    display: str | None = None
    if text.startswith('"'):
        display, end = parse_quoted(text, 0, header=header)
        text = text[end:].lstrip()
        if not text.startswith("<"):
            raise SIPParseError(f"expected '<' after the display name in {value!r}", header=header)
    lt = text.find("<")
    if lt >= 0:
        before = text[:lt].strip()
        if before:
            if display is not None or not _DISPLAY_TOKENS.match(before):
                raise SIPParseError(f"display name {before!r} must be tokens or a quoted string",
                                    header=header)
            display = before
        gt = text.find(">", lt)
        if gt < 0:
            raise SIPParseError(f"unterminated '<' in {value!r}", header=header)
        uri_text = text[lt + 1:gt]
        if uri_text != uri_text.strip():
            raise SIPParseError(f"white space inside <> in {value!r}", header=header)
        uri = parse_uri(uri_text, header=header)
        return NameAddr(uri, display, parse_params(text[gt + 1:], header=header))
    # addr-spec: parameters after the URI belong to the header, so the URI cannot carry ';', '?', ','.
    semi = text.find(";")
    uri_text, rest = (text, "") if semi < 0 else (text[:semi], text[semi:])
    uri_text = uri_text.strip()
    if not uri_text or any(c in uri_text for c in '?, \t"'):
        raise SIPParseError(f"a URI with '?', ',' or ';' must be enclosed in <>: {value!r}", header=header)
    return NameAddr(parse_uri(uri_text, header=header), None, parse_params(rest, header=header),
                    angle_brackets=False)


_VIA = re.compile(
    r"\s*([^\s/]+)\s*/\s*([^\s/]+)\s*/\s*([^\s/;]+)\s+(\[[^\]]*\]|[^\s;:]+)(?:\s*:\s*([^\s;]*))?\s*(.*)\Z",
    re.S,
)


@dataclass
class Via:
    """One Via value (RFC 3261 §20.42, RFC 3581 rport)."""

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return _param_get(self.params, "branch")

    @property
    def received(self) -> str | None:
        return _param_get(self.params, "received")

    @property
    def rport(self) -> int | None:
        value = _param_get(self.params, "rport")
        return int(value) if value and value.isdigit() else None

    @property
    def has_rport(self) -> bool:
        return any(k.lower() == "rport" for k in self.params)

    @property
    def rfc3261_branch(self) -> bool:
        """True when the branch carries the RFC 3261 magic cookie."""
        branch = self.branch
        return branch is not None and branch.startswith("z9hG4bK")

    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by()}{format_params(self.params)}"


def parse_via(value: str, *, header: str = "Via") -> Via:
    m = _VIA.match(value)
    if not m:
        raise SIPParseError(f"malformed Via {value.strip()!r}", header=header)
    name, version, transport, host, port_text, rest = m.groups()
    if name.upper() != "SIP" or version != "2.0":
        raise SIPParseError(f"Via names protocol {name}/{version}, not SIP/2.0",
                            505 if name.upper() == "SIP" else 400, header=header)
    if not TOKEN.match(transport):
        raise SIPParseError(f"malformed Via transport {transport!r}", header=header)
    hostport = host if port_text is None else f"{host}:{port_text}"
    host, port = split_hostport(hostport, what="Via sent-by", header=header)
    params = parse_params(rest, header=header)
    for key, val in params.items():
        if key.lower() == "branch" and not val:
            raise SIPParseError("Via branch has no value", header=header)
    return Via(transport.upper(), host, port, params, f"{name.upper()}/{version}")


@dataclass(frozen=True)
class CSeq:
    seq: int
    method: str

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


_CSEQ = re.compile(r"\s*([0-9]+)\s+(\S+)\s*\Z")


def parse_cseq(value: str) -> CSeq:
    m = _CSEQ.match(value)
    if not m or not TOKEN.match(m.group(2)):
        raise SIPParseError(f"malformed CSeq {value.strip()!r}", header="CSeq")
    seq = int(m.group(1))
    if seq >= 2**31:
        raise SIPParseError(f"CSeq number {m.group(1)} is not below 2**31", header="CSeq")
    return CSeq(seq, m.group(2))


def parse_uint(value: str, name: str, maximum: int) -> int:
    """A 1*DIGIT header value bounded by ``maximum`` (Max-Forwards 255, Expires 2**32-1 ...)."""
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise SIPParseError(f"{name} {text!r} is not a number", header=name)
    number = int(text)
    if number > maximum:
        raise SIPParseError(f"{name} {text} exceeds {maximum}", header=name)
    return number
