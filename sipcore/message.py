"""SIP requests and responses (RFC 3261 §7): raw headers kept in order, structured views parsed lazily."""

from __future__ import annotations

import re
from collections.abc import Iterable
from operator import itemgetter

from .errors import SIPParseError
from .header_fields import Headers
from .headers import (
    CSeq,
    NameAddr,
    Via,
    canonical_name,
    key_of,
    parse_cseq,
    parse_name_addr,
    parse_uint,
    parse_via,
    split_list,
)
from .uri import AbsoluteURI, SipURI, parse_uri, sip_uri_from_match

__all__ = ["REASON_PHRASES", "SIP_VERSION", "Headers", "Message", "Request", "Response", "make_response",
           "reason_phrase"]

_KEY = itemgetter(0)  # a header entry's lower-case name

SIP_VERSION = "SIP/2.0"

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    199: "Early Dialog Terminated", 200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    413: "Request Entity Too Large", 414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 421: "Extension Required", 422: "Session Interval Too Small",
    423: "Interval Too Brief", 480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 491: "Request Pending",
    493: "Undecipherable", 500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}


def reason_phrase(status: int) -> str:
    return REASON_PHRASES.get(status, {1: "Trying", 2: "OK", 3: "Redirect", 4: "Client Error",
                                       5: "Server Error", 6: "Global Failure"}.get(status // 100, ""))


class Message:
    """What requests and responses share: headers, body and the structured header views."""

    __slots__ = ("headers", "body", "version")

    def __init__(self, headers: Headers | Iterable[tuple[str, str]] | None = None, body: bytes = b"",
                 version: str = SIP_VERSION) -> None:
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.body = body
        self.version = version

    # -- structured views (parsed on first use and cached; SIPParseError if malformed) ---------------
    # Each view is first looked up in the header cache with one dict subscript (these properties are
    # read many times per message); a miss is parsed after the except clause, so that a SIPParseError
    # does not carry the KeyError as its context.
    @property
    def via(self) -> list[Via]:
        try:
            return self.headers._cache["via"]  # type: ignore[no-any-return]
        except KeyError:
            pass
        vias = self.headers._cache["via"] = [parse_via(v) for v in self._list_values("via")]
        return vias

    @property
    def top_via(self) -> Via:
        try:
            return self.headers._cache["via"][0]  # type: ignore[no-any-return]
        except (KeyError, IndexError):
            pass
        vias = self.via
        if not vias:
            raise SIPParseError("message has no Via", header="Via")
        return vias[0]

    @property
    def from_(self) -> NameAddr:
        try:
            return self.headers._cache["from"]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = self.headers._cache["from"] = parse_name_addr(self._single_value("from", "From"),
                                                              header="From")
        return value

    @property
    def to(self) -> NameAddr:
        try:
            return self.headers._cache["to"]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = self.headers._cache["to"] = parse_name_addr(self._single_value("to", "To"), header="To")
        return value

    @property
    def call_id(self) -> str:
        try:
            return self.headers._cache["call-id"]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = self.headers._cache["call-id"] = self._single_value("call-id", "Call-ID").strip()
        return value

    @property
    def cseq(self) -> CSeq:
        try:
            return self.headers._cache["cseq"]  # type: ignore[no-any-return]
        except KeyError:
            pass
        value = self.headers._cache["cseq"] = parse_cseq(self._single_value("cseq", "CSeq"))
        return value

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact values; ``Contact: *`` is returned as an empty list (see :attr:`contact_star`)."""
        try:
            return self.headers._cache["contact"]  # type: ignore[no-any-return]
        except KeyError:
            pass
        return self._name_addrs("contact", "Contact")

    @property
    def contact_star(self) -> bool:
        return "*" in self._list_values("contact")

    @property
    def route(self) -> list[NameAddr]:
        return self._name_addrs("route", "Route")

    @property
    def record_route(self) -> list[NameAddr]:
        try:
            return self.headers._cache["record-route"]  # type: ignore[no-any-return]
        except KeyError:
            pass
        return self._name_addrs("record-route", "Record-Route")

    def _name_addrs(self, key: str, name: str) -> list[NameAddr]:
        cache = self.headers._cache
        values: list[NameAddr] | None = cache.get(key)
        if values is None:
            values = cache[key] = [parse_name_addr(v, header=name)
                                   for v in self._list_values(key) if v != "*"]
        return values

    @property
    def max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        return None if value is None else parse_uint(value, "Max-Forwards", 255)

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        return None if value is None else parse_uint(value, "Expires", 2**32 - 1)

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return None if value is None else value.split(";", 1)[0].strip().lower()

    def _single(self, name: str) -> str:
        return self._single_value(key_of(name), canonical_name(name))

    def _single_value(self, key: str, name: str) -> str:
        """The value of a header that must appear exactly once (``key`` is its lookup key)."""
        h = self.headers
        first = h._first if h._first is not None else h._index()
        value = first.get(key)
        counts = h._counts
        if value is not None and (counts is None or counts[key] == 1):
            return value
        what = "is missing" if value is None else f"appears {counts[key] if counts else 1} times"
        raise SIPParseError(f"{name} {what}", header=name)

    def _list_values(self, key: str) -> list[str]:
        """The elements of a list header, all its fields together (``key`` is its lookup key)."""
        h = self.headers
        first = h._first if h._first is not None else h._index()
        value = first.get(key)
        if value is None:
            return []
        if h._counts is None or h._counts[key] == 1:
            return [value] if "," not in value else split_list(value)
        out: list[str] = []
        for k, _, field_value in h._entries:
            if k == key:
                out.extend(split_list(field_value))
        return out

    # -- body and serialization ---------------------------------------------------------------------
    def set_body(self, body: bytes, content_type: str | None = None) -> None:
        self.body = body
        if content_type is not None:
            self.headers.set("Content-Type", content_type)
        elif not body:
            self.headers.remove("Content-Type")
        self.headers.set("Content-Length", str(len(body)))

    def start_line(self) -> str:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """Serialize. A missing Content-Length is added (it is mandatory over TCP)."""
        headers = self.headers
        entries = headers._entries
        lines = [self.start_line()]
        lines += [f"{name}: {value}" for _, name, value in entries]
        # A message built here usually has no index yet: scanning the keys is cheaper than building it.
        first = headers._first
        if "content-length" not in (first if first is not None else map(_KEY, entries)):
            lines.append(f"Content-Length: {len(self.body)}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + self.body

    __bytes__ = to_bytes


class Request(Message):
    """A SIP request. ``uri`` is the Request-URI as text; :attr:`uri_parsed` its structured form."""

    __slots__ = ("method", "uri", "_uri_parsed", "_uri_source", "_uri_match")

    def __init__(self, method: str, uri: str | SipURI | AbsoluteURI,
                 headers: Headers | Iterable[tuple[str, str]] | None = None, body: bytes = b"",
                 version: str = SIP_VERSION) -> None:
        super().__init__(headers, body, version)
        self.method = method
        self.uri = uri if isinstance(uri, str) else str(uri)
        self._uri_parsed: SipURI | AbsoluteURI | None = None if isinstance(uri, str) else uri
        self._uri_source = self.uri  # the text _uri_parsed stands for; ``uri`` may be reassigned
        self._uri_match: re.Match[str] | None = None

    @property
    def uri_parsed(self) -> SipURI | AbsoluteURI:
        """The Request-URI parsed (and re-parsed after ``uri`` is assigned new text)."""
        parsed = self._uri_parsed
        uri = self.uri
        if parsed is None or self._uri_source != uri:
            parsed = None
            m = self._uri_match  # the parser's match of the request line, when it spelled out a SIP URI
            if m is not None and self._uri_source == uri:
                scheme, user, password, host, port, params, headers = m.group(3, 4, 5, 6, 7, 8, 9)
                parsed = sip_uri_from_match(scheme, user, password, host, port, params, headers, uri)
            self._uri_match = None
            if parsed is None:
                parsed = parse_uri(uri, header="Request-URI")
            self._uri_parsed = parsed
            self._uri_source = uri
        return parsed

    @classmethod
    def _parsed(cls, method: str, uri: str, headers: Headers, uri_match: re.Match[str] | None = None) -> Request:
        """A request as the parser makes it (the body is set after). ``uri_match`` is a match of the request
        line whose groups 3 to 9 are those of SIP_URI_RE, kept to build uri_parsed without a second match."""
        request = cls.__new__(cls)
        request._uri_match = uri_match
        request.headers = headers
        request.body = b""
        request.version = SIP_VERSION
        request.method = method
        request.uri = uri
        request._uri_parsed = None
        request._uri_source = uri
        return request

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"

    def unparsed_copy(self) -> Request:
        """An equal request (same request line, header fields and body) holding none of the parsed views
        this one has cached: they are parsed again if asked for. What a transaction keeps while it lingers
        (Timers D, I, J, K, L, M), so a finished call's parsed headers are freed with the TU's message."""
        copy = Request._parsed(self.method, self.uri, self.headers.copy())
        copy.body, copy.version = self.body, self.version
        return copy

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri}>"


class Response(Message):
    """A SIP response."""

    __slots__ = ("status", "reason")

    def __init__(self, status: int, reason: str | None = None,
                 headers: Headers | Iterable[tuple[str, str]] | None = None, body: bytes = b"",
                 version: str = SIP_VERSION) -> None:
        super().__init__(headers, body, version)
        self.status = status
        self.reason = reason_phrase(status) if reason is None else reason

    @classmethod
    def _new(cls, status: int, reason: str, headers: Headers, body: bytes = b"") -> Response:
        """A response from its parts, the headers adopted as they are (make_response, unparsed_copy)."""
        response = cls.__new__(cls)
        response.headers = headers
        response.body = body
        response.version = SIP_VERSION
        response.status = status
        response.reason = reason
        return response

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    @property
    def is_final(self) -> bool:
        return self.status >= 200

    def start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    def unparsed_copy(self) -> Response:
        """An equal response holding none of this one's parsed views (see :meth:`Request.unparsed_copy`)."""
        copy = Response._new(self.status, self.reason, self.headers.copy(), self.body)
        copy.version = self.version
        return copy

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


#: The header fields a response copies as they are (RFC 3261 §8.2.6.2), as (lookup key, name), without and
#: with Record-Route (copied into a response that creates a dialog, §12.1.1).
_ROUTING_COPIED = ((("via", "Via"),), (("via", "Via"), ("record-route", "Record-Route")))


def make_response(request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None,
                  copy_record_route: bool = False, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """Build a response per RFC 3261 §8.2.6.2: Via, From, To, Call-ID and CSeq copied; the To tag added
    when given and the request's To has none (100 Trying never gets one); then ``headers``, in order.

    The header fields are collected in one list and the response made from it (no header is added one by
    one), and the request's parsed Via and CSeq are handed on: the response has the same fields."""
    source = request.headers
    first = source._first if source._first is not None else source._index()
    counts = source._counts
    entries: list[tuple[str, str, str]] = []
    for key, name in _ROUTING_COPIED[copy_record_route]:
        value = first.get(key)
        if value is None:
            continue
        if counts is None or counts[key] == 1:
            entries.append((key, name, value))
        else:
            entries += [(key, name, v) for k, _, v in source._entries if k == key]
    to_value = first.get("to") or ""
    if to_tag and status != 100 and request.to.tag is None:
        to_value = f"{to_value};tag={to_tag}"
    entries += [("from", "From", first.get("from") or ""), ("to", "To", to_value),
                ("call-id", "Call-ID", first.get("call-id") or ""), ("cseq", "CSeq", first.get("cseq") or "")]
    if status == 100:  # §8.2.6.1: a 100 Trying echoes the Timestamp
        timestamp = first.get("timestamp")
        if timestamp is not None:
            entries.append(("timestamp", "Timestamp", timestamp))
    entries += [(key_of(name), name, value) for name, value in headers]
    response_headers = Headers._from_entries(entries)
    cache, response_cache = source._cache, response_headers._cache
    vias = cache.get("via")
    if vias is not None:  # the same Via fields, already parsed (Via values are never changed in place)
        response_cache["via"] = list(vias)
    cseq = cache.get("cseq")
    if cseq is not None:  # the same CSeq field; CSeq is immutable
        response_cache["cseq"] = cseq
    return Response._new(status, reason_phrase(status) if reason is None else reason, response_headers)
