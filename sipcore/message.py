"""SIP requests and responses (RFC 3261 §7): raw headers kept in order, structured views parsed lazily."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from .headers import (
    CSeq,
    NameAddr,
    Via,
    canonical_name,
    header_key,
    parse_cseq,
    parse_name_addr,
    parse_uint,
    parse_via,
    split_list,
)
from .uri import AbsoluteURI, SipURI, parse_uri

T = TypeVar("T")

SIP_VERSION = "SIP/2.0"

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    199: "Early Dialog Terminated", 200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized", 402: "Payment Required",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    413: "Request Entity Too Large", 414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 420: "Bad Extension", 421: "Extension Required",
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


class Headers:
    """Header fields in wire order. Names are looked up case-insensitively, compact forms included.

    ``get`` and ``get_all`` return whole field values; ``values`` splits list headers (Via, Route,
    Contact, Allow ...) into their comma-separated elements. Structured views are cached per header and
    forgotten when that header changes.
    """

    __slots__ = ("_entries", "_cache")

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self._entries: list[tuple[str, str, str]] = [(header_key(n), n, v) for n, v in entries]
        self._cache: dict[str, object] = {}

    def get(self, name: str, default: str | None = None) -> str | None:
        key = header_key(name)
        for k, _, value in self._entries:
            if k == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        key = header_key(name)
        return [value for k, _, value in self._entries if k == key]

    def values(self, name: str) -> list[str]:
        out: list[str] = []
        for value in self.get_all(name):
            out.extend(split_list(value))
        return out

    def count(self, name: str) -> int:
        key = header_key(name)
        return sum(1 for k, _, _ in self._entries if k == key)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = header_key(name)
        return any(k == key for k, _, _ in self._entries)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((name, value) for _, name, value in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, name: str, value: str, *, first: bool = False) -> None:
        """Append a field (or insert it before the first field of that name, as a proxy adds Via)."""
        key = header_key(name)
        self._cache.pop(key, None)
        entry = (key, name, value)
        if first:
            for i, (k, _, _) in enumerate(self._entries):
                if k == key:
                    self._entries.insert(i, entry)
                    return
        self._entries.append(entry)

    def set(self, name: str, value: str) -> None:
        """Replace every field of that name by one, kept where the first one stood."""
        key = header_key(name)
        self._cache.pop(key, None)
        for i, (k, _, _) in enumerate(self._entries):
            if k == key:
                self._entries[i] = (key, name, value)
                self._entries[i + 1:] = [e for e in self._entries[i + 1:] if e[0] != key]
                return
        self._entries.append((key, name, value))

    def remove(self, name: str) -> None:
        key = header_key(name)
        self._cache.pop(key, None)
        self._entries = [e for e in self._entries if e[0] != key]

    def pop_first_value(self, name: str) -> str | None:
        """Remove the first element of a list header (the top Via, the first Route) and return it."""
        key = header_key(name)
        for i, (k, n, value) in enumerate(self._entries):
            if k == key:
                self._cache.pop(key, None)
                first, *rest = split_list(value)
                if rest:
                    self._entries[i] = (k, n, ", ".join(rest))
                else:
                    del self._entries[i]
                return first
        return None

    def copy(self) -> Headers:
        new = Headers()
        new._entries = list(self._entries)
        return new

    def parsed(self, name: str, parse: Callable[[], T]) -> T:
        """Cache the structured view of a header (used by Message's properties)."""
        key = header_key(name)
        try:
            return self._cache[key]  # type: ignore[return-value]
        except KeyError:
            value = self._cache[key] = parse()
            return value

    def items_raw(self) -> list[tuple[str, str]]:
        return [(name, value) for _, name, value in self._entries]


class Message:
    """What requests and responses share: headers, body and the structured header views."""

    __slots__ = ("headers", "body", "version")

    def __init__(self, headers: Headers | Iterable[tuple[str, str]] | None = None, body: bytes = b"",
                 version: str = SIP_VERSION) -> None:
        self.headers = headers if isinstance(headers, Headers) else Headers(headers or ())
        self.body = body
        self.version = version

    # -- structured views (parsed on first use; SIPParseError if malformed) --------------------------
    @property
    def via(self) -> list[Via]:
        return self.headers.parsed("Via", lambda: [parse_via(v) for v in self.headers.values("Via")])

    @property
    def top_via(self) -> Via:
        vias = self.via
        if not vias:
            from .errors import SIPParseError
            raise SIPParseError("message has no Via", header="Via")
        return vias[0]

    @property
    def from_(self) -> NameAddr:
        return self.headers.parsed("From", lambda: parse_name_addr(self._single("From"), header="From"))

    @property
    def to(self) -> NameAddr:
        return self.headers.parsed("To", lambda: parse_name_addr(self._single("To"), header="To"))

    @property
    def call_id(self) -> str:
        return self._single("Call-ID").strip()

    @property
    def cseq(self) -> CSeq:
        return self.headers.parsed("CSeq", lambda: parse_cseq(self._single("CSeq")))

    @property
    def contacts(self) -> list[NameAddr]:
        """Contact values; ``Contact: *`` is returned as an empty list (see :attr:`contact_star`)."""
        return self.headers.parsed("Contact", lambda: [
            parse_name_addr(v, header="Contact") for v in self.headers.values("Contact") if v != "*"])

    @property
    def contact_star(self) -> bool:
        return any(v == "*" for v in self.headers.values("Contact"))

    @property
    def route(self) -> list[NameAddr]:
        return self.headers.parsed("Route", lambda: [
            parse_name_addr(v, header="Route") for v in self.headers.values("Route")])

    @property
    def record_route(self) -> list[NameAddr]:
        return self.headers.parsed("Record-Route", lambda: [
            parse_name_addr(v, header="Record-Route") for v in self.headers.values("Record-Route")])

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
        values = self.headers.get_all(name)
        if len(values) != 1:
            from .errors import SIPParseError
            what = "is missing" if not values else f"appears {len(values)} times"
            raise SIPParseError(f"{canonical_name(name)} {what}", header=canonical_name(name))
        return values[0]

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
        lines = [self.start_line()]
        has_length = False
        for key, name, value in self.headers._entries:
            lines.append(f"{name}: {value}")
            has_length = has_length or key == "content-length"
        if not has_length:
            lines.append(f"Content-Length: {len(self.body)}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode("utf-8", "surrogateescape") + self.body

    __bytes__ = to_bytes


class Request(Message):
    """A SIP request. ``uri`` is the Request-URI as text; :attr:`uri_parsed` its structured form."""

    __slots__ = ("method", "uri", "_uri_parsed")

    def __init__(self, method: str, uri: str | SipURI | AbsoluteURI,
                 headers: Headers | Iterable[tuple[str, str]] | None = None, body: bytes = b"",
                 version: str = SIP_VERSION) -> None:
        super().__init__(headers, body, version)
        self.method = method
        self.uri = str(uri)
        self._uri_parsed: SipURI | AbsoluteURI | None = None if isinstance(uri, str) else uri

    @property
    def uri_parsed(self) -> SipURI | AbsoluteURI:
        if self._uri_parsed is None or str(self._uri_parsed) != self.uri:
            self._uri_parsed = parse_uri(self.uri, header="Request-URI")
        return self._uri_parsed

    def start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"

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

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    @property
    def is_final(self) -> bool:
        return self.status >= 200

    def start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


def make_response(request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None,
                  copy_record_route: bool = False) -> Response:
    """Build a response per RFC 3261 §8.2.6.2: Via, From, To, Call-ID and CSeq copied; the To tag added
    when given and the request's To has none (100 Trying never gets one)."""
    response = Response(status, reason)
    h = response.headers
    for name in ("Via",) + (("Record-Route",) if copy_record_route else ()):
        for value in request.headers.get_all(name):
            h.add(canonical_name(name), value)
    h.add("From", request.headers.get("From") or "")
    to_value = request.headers.get("To") or ""
    if to_tag and status != 100 and request.to.tag is None:
        to_value = f"{to_value};tag={to_tag}"
    h.add("To", to_value)
    h.add("Call-ID", request.headers.get("Call-ID") or "")
    h.add("CSeq", request.headers.get("CSeq") or "")
    return response
