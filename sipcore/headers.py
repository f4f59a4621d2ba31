"""Header fields: names, multi-value splitting and the structured headers SIP routing depends on.

Parsing is lazy: a :class:`~sipcore.message.Message` keeps every header as raw text and the functions
here turn a value into a :class:`NameAddr`, :class:`Via` or :class:`CSeq` when it is first asked for.
Via and CSeq live in :mod:`sipcore.via`, tokens, quoted strings and parameters in :mod:`sipcore.params`;
their names are importable from here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import SIPParseError
from .params import (
    FAST_PARAMS,
    TOKEN,
    TOKEN_CHARS,
    fast_params,
    format_params,
    opt,
    param_get,
    parse_params,
    parse_quoted,
    quote,
)
from .uri import SIP_ADDR_SPEC_RE, SIP_URI_RE, AbsoluteURI, SipURI, new_sip_uri, parse_uri, sip_uri_from_match
from .via import CSeq, Via, parse_cseq, parse_via

__all__ = [
    "CANONICAL_NAMES", "COMPACT_FORMS", "LIST_HEADERS", "TOKEN", "CSeq", "NameAddr", "Via", "canonical_name",
    "format_params", "header_key", "key_of", "parse_cseq", "parse_name_addr", "parse_params", "parse_quoted",
    "parse_uint", "parse_via", "quote", "split_list",
]

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
    "Accept-Contact", "Reject-Contact", "Request-Disposition", "Identity", "Identity-Info",
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

_DISPLAY_TOKENS = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*\Z")


class _KeyCache(dict[str, str]):
    """Header name -> lookup key, remembered for the names seen (bounded: names come from the wire)."""

    def __missing__(self, name: str) -> str:
        key = name.lower()
        if len(key) == 1:
            full = COMPACT_FORMS.get(key)
            if full is not None:
                key = full.lower()
        if len(self) < 4096:
            self[name] = key
        return key


_KEYS = _KeyCache()
#: header_key(name): the lookup key for a header name, lower case with compact forms expanded
#: (``header_key("v") == "via"``). It is the cache's own lookup, so a call costs a dict access and
#: no Python function call: every header added to or looked up in a message goes through it.
header_key = _KEYS.__getitem__
#: The same function, under the name the parser's hot path uses (``map(key_of, names)``).
key_of = header_key


class _TokenKeyCache(dict[str, str]):
    """Header name as received -> lookup key, for names that are tokens (bounded like _KeyCache)."""

    def __missing__(self, name: str) -> str:
        if not TOKEN.match(name):
            raise ValueError(f"header name {name[:60]!r} is not a token")
        key = header_key(name)
        if len(self) < 4096:
            self[name] = key
        return key


#: token_key(name): header_key(name) for a name that is a token; ValueError for any other text. The
#: parser's fast path checks each header name with it while it makes the lookup keys.
token_key = _TokenKeyCache().__getitem__


def canonical_name(name: str) -> str:
    """The conventional spelling of a header name (``call-id`` -> ``Call-ID``, ``v`` -> ``Via``)."""
    key = header_key(name)
    known = CANONICAL_NAMES.get(key)
    return known if known is not None else "-".join(p[:1].upper() + p[1:] for p in key.split("-"))


def split_list(value: str) -> list[str]:
    """Split a list header's value on commas outside quoted strings and <>, stripping LWS."""
    if "," not in value:
        return [value.strip()]
    if '"' not in value and "<" not in value:
        return [part.strip() for part in value.split(",")]
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


@dataclass(slots=True)
class NameAddr:
    """A From, To, Contact, Route or Record-Route value: optional display name, URI, parameters."""

    uri: SipURI | AbsoluteURI
    display_name: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    #: False where the value was a bare addr-spec (no <>); serialization always uses <>.
    angle_brackets: bool = True

    @property
    def tag(self) -> str | None:
        params = self.params  # nearly always spelled "tag": look that up before the case-blind scan
        return params["tag"] if "tag" in params else param_get(params, "tag")

    def param(self, name: str) -> str | None:
        return param_get(self.params, name)

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


_new_object = object.__new__


def new_name_addr(uri: SipURI | AbsoluteURI, display_name: str | None, params: dict[str, str | None],
                  angle_brackets: bool) -> NameAddr:
    """``NameAddr(uri, display_name, params, angle_brackets)``, made without calling the class (see
    :func:`sipcore.uri.new_sip_uri`)."""
    value = _new_object(NameAddr)
    value.uri = uri
    value.display_name = display_name
    value.params = params
    value.angle_brackets = angle_brackets
    return value


# name-addr with no display name, a quoted one without escapes, or tokens; then <URI> and simple
# parameters. The first form spells out a SIP URI (SIP_URI_RE) so one match does the whole value;
# anything else takes the general path in _parse_name_addr.
_DISPLAY_RE = opt(rf'"([^"\\]*+)"[ \t]*+|([{TOKEN_CHARS}]++(?:[ \t]++[{TOKEN_CHARS}]++)*+)[ \t]*+')
# The parameters are either exactly ;tag=token (group "tag") or any simple ones.
_FAST_SIP_NAME_ADDR = re.compile(
    rf"{_DISPLAY_RE}<{SIP_URI_RE}>(?:;tag=([{TOKEN_CHARS}]++)\Z|({FAST_PARAMS})\Z)")
_FAST_SIP_ADDR_SPEC = re.compile(rf"{SIP_ADDR_SPEC_RE}({FAST_PARAMS})\Z")
_FAST_NAME_ADDR = re.compile(rf'{_DISPLAY_RE}<([^<>\s"]++)>({FAST_PARAMS})\Z')
# addr-spec: a URI without ';', '?', ',', white space or quotes, then simple parameters.
_FAST_ADDR_SPEC = re.compile(rf'([^;?,<>\s"]++)({FAST_PARAMS})\Z')


def parse_name_addr(value: str, *, header: str | None = None) -> NameAddr:
    """Parse ``name-addr`` or ``addr-spec`` followed by header parameters (RFC 3261 §20.10, §25.1)."""
    m = _FAST_SIP_NAME_ADDR.match(value)
    if m is not None:
        quoted, tokens, scheme, user, password, host, port, uparams, uheaders, tag, params = m.groups()
        number = None if port is None else int(port)
        if uheaders is None and "%" not in value and (number is None or 0 < number <= 65535):
            uri: SipURI | None = new_sip_uri(host, user, password, number, scheme,
                                             fast_params(uparams) if uparams else {}, {})
        else:
            uri = sip_uri_from_match(scheme, user, password, host, port, uparams, uheaders, value)
        if uri is not None:
            return new_name_addr(uri, tokens if quoted is None else quoted,
                                 {"tag": tag} if tag is not None else _header_params(params, header) if params
                                 else {}, True)
    else:
        m = _FAST_SIP_ADDR_SPEC.match(value)
        if m is not None:
            scheme, user, password, host, port, _, _, params = m.groups()
            uri = sip_uri_from_match(scheme, user, password, host, port, "", None, value)
            if uri is not None:
                return new_name_addr(uri, None, _header_params(params, header), False)
    m = _FAST_NAME_ADDR.match(value)
    if m is not None:
        quoted, tokens, uri_text, params = m.groups()
        return NameAddr(parse_uri(uri_text, header=header), tokens if quoted is None else quoted,
                        _header_params(params, header))
    m = _FAST_ADDR_SPEC.match(value)
    if m is not None:
        return NameAddr(parse_uri(m.group(1), header=header), None, _header_params(m.group(2), header), False)
    return _parse_name_addr(value, header)


def _header_params(text: str, header: str | None) -> dict[str, str | None]:
    """fast_params for a name-addr, where a tag must have a value (RFC 3261 §25.1 tag-param)."""
    if not text:
        return {}
    params = fast_params(text)
    if None in params.values():
        _check_tag(params, header)
    return params


def _check_tag(params: dict[str, str | None], header: str | None) -> None:
    for key, value in params.items():
        if value is None and key.lower() == "tag":
            raise SIPParseError("tag parameter without a value", header=header)


def _parse_name_addr(value: str, header: str | None) -> NameAddr:
    text = value.strip()
    display: str | None = None
    if text.startswith('"'):
        display, end = parse_quoted(text, 0, header=header)
        text = text[end:].lstrip()
        if not text.startswith("<"):
            raise SIPParseError(f"expected '<' after the display name in {value!r}", header=header)
    lt = text.find("<")
    semi = text.find(";")
    if lt >= 0 and (semi < 0 or lt < semi or display is not None):
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
        params = parse_params(text[gt + 1:], header=header)
        _check_tag(params, header)
        return NameAddr(uri, display, params)
    # addr-spec: parameters after the URI belong to the header, so the URI cannot carry ';', '?', ','.
    uri_text, rest = (text, "") if semi < 0 else (text[:semi], text[semi:])
    uri_text = uri_text.strip()
    if not uri_text or any(c in uri_text for c in '?, \t"<>'):
        raise SIPParseError(f"a URI with '?', ',' or ';' must be enclosed in <>: {value!r}", header=header)
    params = parse_params(rest, header=header)
    _check_tag(params, header)
    return NameAddr(parse_uri(uri_text, header=header), None, params, angle_brackets=False)


def parse_uint(value: str, name: str, maximum: int) -> int:
    """A 1*DIGIT header value bounded by ``maximum`` (Max-Forwards 255, Expires 2**32-1 ...)."""
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise SIPParseError(f"{name} {text[:40]!r} is not a number", header=name)
    significant = text.lstrip("0") or "0"
    number = int(significant) if len(significant) <= 20 else maximum + 1
    if number > maximum:
        raise SIPParseError(f"{name} {text[:40]} exceeds {maximum}", header=name)
    return number
