"""Bytes to messages: datagrams (UDP), byte streams (TCP) and the checks every element makes.

``parse_message`` frames one message and splits its header fields; ``validate`` parses the headers
every transaction depends on (Via, From, To, Call-ID, CSeq, Max-Forwards, Contact ...) so malformed
input is refused up front with the status a server should answer (RFC 3261 §8.2, RFC 4475).
A malformed *response* is never answered: its error has ``drop=True``.
"""

from __future__ import annotations

import re

from .errors import ProtocolError, SIPParseError
from .headers import TOKEN, key_of, parse_cseq, parse_name_addr, parse_uint, parse_via, token_key
from .message import SIP_VERSION, Headers, Message, Request, Response
from .params import TOKEN_CHARS
from .uri import SIP_URI_RE, SipURI

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
_FOLD = re.compile(r"\r?\n[ \t]+")
_STATUS = re.compile(r"[1-6][0-9][0-9]\Z")
_VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+\Z", re.I)
# One header line, CRLF-terminated: the name (anything up to the first ':', checked to be a token by
# token_key: an expression class would cost three times as much per character), ':', the value without
# the LWS before it; a value with LWS after it does not match (the general parser strips it). A bare CR
# ends the value, so that line does not match (in the name it fails token_key); a bare LF in a value
# matches with the next line, so that one match fewer than the LFs in the header section shows it (see
# _parse_head_fast).
_HEADER_LINE = re.compile(r"^([^:]++):[ \t]*+([^\r]*+)(?<![ \t])\r\n", re.M)
_REQUEST_LINE = re.compile(rf"([{TOKEN_CHARS}]++) ([^ <][^ ]*+) SIP/2\.0\Z")
# The same with a SIP URI spelled out (groups 3 to 9), so that validation need not match it again.
_SIP_REQUEST_LINE = re.compile(rf"([{TOKEN_CHARS}]++) ({SIP_URI_RE}) SIP/2\.0\Z")
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9][0-9]) (.*)\Z", re.S)
_BLANK_LINE = re.compile(rb"\n\r?\n")


def _decode(head: bytes | bytearray) -> str:
    return head.decode("utf-8", "surrogateescape")


def _find_head_end(data: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """(end of the header section, start of the body) at the first empty line, CRLF or bare LF,
    searching from ``start``."""
    m = _BLANK_LINE.search(data, start)
    if m is None:
        return None
    blank = m.start()
    return (blank - 1 if blank and data[blank - 1] == 13 else blank), m.end()


def parse_message(data: bytes, *, validate_headers: bool = True, stream: bool = False) -> Request | Response:
    """Parse one SIP message from a UDP datagram (or a framed TCP message).

    Octets beyond Content-Length are ignored (RFC 3261 §18.3); with no Content-Length the body runs to
    the end of the datagram. With ``validate_headers`` the mandatory headers are checked too.
    """
    if data.startswith(b"\r\n"):
        start = 2
        while data.startswith(b"\r\n", start):
            start += 2
        data = data[start:]
    if not data:
        raise SIPParseError("empty message", drop=True)
    try:
        message = _parse(data, stream)
        if validate_headers:
            validate(message)
    except SIPParseError as exc:
        if data[:4].upper() == b"SIP/":  # a malformed response is dropped, never answered
            exc.drop = True
        raise
    except (UnicodeError, ValueError) as exc:  # defensive: anything else malformed is still a parse error
        raise SIPParseError(f"malformed message: {exc}", drop=data[:4].upper() == b"SIP/") from exc
    return message


def _parse(data: bytes, stream: bool) -> Request | Response:
    end = data.find(b"\r\n\r\n")
    message = None if end < 0 else _parse_head_fast(data, end)
    if message is not None:
        body_at = end + 4
    else:
        found = _find_head_end(data)
        if found is None:
            raise SIPParseError("no empty line after the header fields")
        head_end, body_at = found
        message = _parse_head_slow(data, head_end)
    headers = message.headers
    first = headers._first  # set by _parse_head_fast when no name repeats
    text = None if first is None else first.get("content-length")
    if text is not None and len(text) < 10 and text.isdigit() and text.isascii():
        length: int | None = int(text)  # the common case of _body_length
    else:
        length = _body_length(headers, stream)
    if length is None:
        message.body = data[body_at:]
    elif body_at + length > len(data):
        raise SIPParseError(f"Content-Length {length} exceeds the {len(data) - body_at} bytes received",
                            header="Content-Length")
    else:
        message.body = data[body_at:body_at + length]
    return message


def _parse_head_fast(data: bytes | bytearray, end: int) -> Request | Response | None:
    """The header section ``data[:end]`` when every line ends in CRLF, none is folded and no value has
    trailing white space (nearly every message); None when it needs the general parser, _parse_head_slow."""
    if end > MAX_HEAD_BYTES:
        raise SIPParseError(f"header section of {end} bytes exceeds {MAX_HEAD_BYTES}", 513)
    head = data[:end + 2].decode("utf-8", "surrogateescape")  # up to the CRLF ending the last field
    eol = head.find("\r\n")
    found = _HEADER_LINE.findall(head, eol + 2)
    # One match per LF after the start line: every line matched (so none is folded) and ends in CRLF.
    if len(found) != head.count("\n") - 1:
        return None
    line = head[:eol]
    if "\r" in line:
        return None
    try:
        first = {token_key(name): value for name, value in found}
    except ValueError:  # a name that is not a token: white space before the colon, a folded line ...
        return None
    headers = Headers._from_wire(found, first if len(first) == len(found) else None)
    if line.startswith("SIP/2.0 "):  # a status line: no request-line expression can match it
        m = _STATUS_LINE.match(line)
        if m is not None:
            return Response._new(int(m.group(1)), m.group(2), headers)
        return _start_line(line, headers)
    m = _SIP_REQUEST_LINE.match(line)
    if m is not None:
        method, uri = m.group(1, 2)
        return Request._parsed(method, uri, headers, m)
    return _start_line(line, headers)


def _parse_head_slow(data: bytes | bytearray, head_end: int) -> Request | Response:
    """Any line ends (CRLF or bare LF), folded lines, and the errors the fast path does not name."""
    if head_end > MAX_HEAD_BYTES:
        raise SIPParseError(f"header section of {head_end} bytes exceeds {MAX_HEAD_BYTES}", 513)
    head = _decode(data[:head_end])
    if "\n " in head or "\n\t" in head:
        head = _FOLD.sub(" ", head)
    lines = head.split("\n")
    entries: list[tuple[str, str, str]] = []
    for number, raw in enumerate(lines):
        line = raw[:-1] if raw.endswith("\r") else raw
        if "\r" in line:
            raise SIPParseError(f"bare CR in line {line[:60]!r}")
        if number == 0:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise SIPParseError(f"header line {line[:60]!r} has no colon")
        name = name.rstrip(" \t")
        if not TOKEN.match(name):
            raise SIPParseError(f"invalid header name {name[:60]!r}")
        entries.append((key_of(name), name, value.strip(" \t")))
    first = lines[0]
    return _start_line(first[:-1] if first.endswith("\r") else first, Headers._from_entries(entries))


def _body_length(headers: Headers, stream: bool) -> int | None:
    """The Content-Length (None when absent on a datagram)."""
    first = headers._first if headers._first is not None else headers._index()
    text = first.get("content-length")
    if text is None:
        if stream:
            raise SIPParseError("Content-Length is required on a stream transport", header="Content-Length")
        return None
    if headers._counts is not None and headers._counts["content-length"] > 1:
        lengths = headers.get_all("Content-Length")
        if len(set(lengths)) > 1:
            raise SIPParseError(f"{len(lengths)} different Content-Length values", header="Content-Length")
    if len(text) < 10 and text.isdigit() and text.isascii():
        return int(text)
    if not text.isdigit() or not text.isascii():
        raise SIPParseError(f"Content-Length {text[:40]!r} is not a non-negative number",
                            header="Content-Length")
    significant = text.lstrip("0") or "0"
    if len(significant) > 10:
        raise SIPParseError(f"Content-Length {text[:40]} is too large", 513, header="Content-Length")
    return int(significant)


def _start_line(line: str, headers: Headers) -> Request | Response:
    m = _REQUEST_LINE.match(line)
    if m is not None:
        return Request(m.group(1), m.group(2), headers)
    m = _STATUS_LINE.match(line)
    if m is not None:
        return Response(int(m.group(1)), m.group(2), headers)
    if line[:4].upper() == "SIP/":
        parts = line.split(" ", 2)
        if len(parts) < 2:
            raise SIPParseError(f"malformed status line {line[:80]!r}")
        version, code = parts[0], parts[1]
        if version.upper() != SIP_VERSION:
            raise SIPParseError(f"unsupported version {version[:20]!r} in status line", 505)
        if not _STATUS.match(code):
            raise SIPParseError(f"status code {code[:20]!r} is not three digits from 100 to 699")
        return Response(int(code), parts[2] if len(parts) == 3 else "", headers)
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SIPParseError(f"request line {line[:80]!r} is not 'Method SP Request-URI SP SIP-Version'")
    method, uri, version = parts
    if not TOKEN.match(method):
        raise SIPParseError(f"method {method[:40]!r} is not a token")
    if not _VERSION.match(version):
        raise SIPParseError(f"malformed SIP-Version {version[:20]!r}")
    if version.upper() != SIP_VERSION:
        raise SIPParseError(f"SIP version {version[:20]!r} is not supported", 505)
    if uri.startswith("<"):
        raise SIPParseError(f"Request-URI {uri[:60]!r} must not be enclosed in <>", header="Request-URI")
    return Request(method, uri, headers, version=SIP_VERSION)


_REQUIRED = (("to", "To"), ("from", "From"), ("call-id", "Call-ID"), ("cseq", "CSeq"), ("via", "Via"))
_SINGLE = (("to", "To"), ("from", "From"), ("call-id", "Call-ID"), ("cseq", "CSeq"))
# Every Max-Forwards value of at most 3 digits that is at most 255 ("70", "070", "0"): the common case,
# one set lookup. Anything else goes to parse_uint, which names the problem or accepts it ("0070").
_MAX_FORWARDS_OK = frozenset(f"{n:0{width}d}" for width in (1, 2, 3) for n in range(min(256, 10**width)))


def _check_presence(first: dict[str, str], counts: dict[str, int] | None) -> None:
    """Raise for a missing mandatory header, or a single one that appears more than once."""
    for key, name in _REQUIRED:
        if key not in first:
            raise SIPParseError(f"{name} is missing", header=name)
    if counts is not None:  # some header name appears more than once
        for key, name in _SINGLE:
            if counts[key] != 1:
                raise SIPParseError(f"{name} appears {counts[key]} times", header=name)
        if counts.get("max-forwards", 0) > 1:
            raise SIPParseError("Max-Forwards appears more than once", header="Max-Forwards")


def validate(message: Message) -> None:
    """Parse the headers that transactions, dialogs and proxies rely on; raise SIPParseError if any is
    malformed, missing, or repeated where only one is allowed. The structured views are cached."""
    h = message.headers
    first = h._first if h._first is not None else h._index()
    counts = h._counts
    if (counts is not None or "to" not in first or "from" not in first or "call-id" not in first
            or "cseq" not in first or "via" not in first):
        _check_presence(first, counts)
    call_id = first["call-id"]
    if call_id.split() != [call_id]:  # empty, or white space inside
        raise SIPParseError(f"malformed Call-ID {call_id[:80]!r}", header="Call-ID")
    # From here on each single header has exactly one value, first[key]. Parse into the cache that the
    # Message properties read.
    cache = h._cache
    if "via" not in cache:
        via = first["via"]
        if counts is None and "," not in via:
            cache["via"] = [parse_via(via)]
        else:
            cache["via"] = [parse_via(v) for v in message._list_values("via")]
    if "from" not in cache:
        cache["from"] = parse_name_addr(first["from"], header="From")
    if "to" not in cache:
        cache["to"] = parse_name_addr(first["to"], header="To")
    cseq = cache.get("cseq")
    if cseq is None:
        cseq = cache["cseq"] = parse_cseq(first["cseq"])
    max_forwards = first.get("max-forwards")
    if max_forwards is not None and max_forwards not in _MAX_FORWARDS_OK:
        parse_uint(max_forwards, "Max-Forwards", 255)  # raises, naming the problem (or allows 0070)
    if "expires" in first:
        parse_uint(first["expires"], "Expires", 2**32 - 1)
    contact = first.get("contact")
    if contact is not None and "contact" not in cache:
        if counts is None and "," not in contact and contact != "*":
            cache["contact"] = [parse_name_addr(contact, header="Contact")]
        else:
            message.contacts  # noqa: B018 - parse for validation
    if "route" in first:
        message.route  # noqa: B018
    if "record-route" in first:
        message.record_route  # noqa: B018
    if isinstance(message, Request):
        uri = message.uri_parsed
        if isinstance(uri, SipURI) and uri.headers:
            raise SIPParseError(f"Request-URI {message.uri[:80]!r} carries URI headers", header="Request-URI")
        if cseq.method != message.method:
            raise SIPParseError(f"CSeq method {cseq.method} does not match the request method "
                                f"{message.method}", header="CSeq")
    elif "retry-after" in first:
        retry = first["retry-after"]
        seconds = retry.split(";", 1)[0].split("(", 1)[0].strip()
        if not seconds.isdigit() or not seconds.isascii() or len(seconds) > 10 or int(seconds) >= 2**32:
            raise SIPParseError(f"malformed Retry-After {retry[:80]!r}", header="Retry-After")


class StreamFramer:
    """Frames messages out of a byte stream (TCP): feed bytes, take complete messages.

    CRLFs between messages are skipped; a CRLFCRLF ping (RFC 5626 §3.5.1) is counted in ``keepalives``.
    Content-Length is required. A framing error (no end of headers within MAX_HEAD_BYTES, a body over
    MAX_BODY_BYTES, a malformed header section or Content-Length) raises SIPParseError and sets
    ``broken``: the stream cannot be resynchronised, close the connection. A framed message that fails
    validation raises SIPParseError too, but the stream stays usable. Either way the messages framed
    before the bad one in the same call are kept: ``drain()`` takes them, and the next ``feed`` returns
    them first (``feed(b"")`` collects them and any complete messages behind the bad one). ``rejected``
    holds the bytes the last error was about (enough of them to address a 400), ``unfinished`` how many
    bytes of a message not yet complete are held (a peer closing then leaves that much unanswered).
    """

    def __init__(self, *, validate_headers: bool = True) -> None:
        self._buffer = bytearray()
        self._validate = validate_headers
        self._scan_from = 0  # no end of headers before this offset of the buffer
        self._pending: tuple[Request | Response, int] | None = None  # head parsed, body length awaited
        self._pending_head = 0  # bytes of that head
        self._ready: list[Request | Response] = []
        self.keepalives = 0
        self.broken = False
        self.rejected = b""

    @property
    def unfinished(self) -> int:
        """Bytes held of a message not yet complete (0 between messages; CRLFs between them do not
        count)."""
        held = len(self._buffer)
        if self._pending is not None:
            return self._pending_head + held
        return 0 if not self._buffer.strip(b"\r\n") else held

    def feed(self, data: bytes) -> list[Request | Response]:
        if self.broken:
            raise ProtocolError("StreamFramer.feed in state broken: a framing error made the stream "
                                "unusable")
        self._buffer += data
        messages, self._ready = self._ready, []
        while True:
            try:
                message = self._next()
            except SIPParseError:
                self._ready = messages
                raise
            if message is None:
                return messages
            messages.append(message)

    def drain(self) -> list[Request | Response]:
        """The messages framed before an error that ``feed`` raised (and not returned since)."""
        messages, self._ready = self._ready, []
        return messages

    def _next(self) -> Request | Response | None:
        buf = self._buffer
        if self._pending is None:
            while buf.startswith(b"\r\n"):
                if buf.startswith(b"\r\n\r\n"):
                    self.keepalives += 1
                    del buf[:4]
                elif len(buf) >= 4 or (len(buf) == 3 and buf[2] != 13):
                    del buf[:2]
                else:
                    return None  # perhaps the first half of a CRLFCRLF ping
            if not buf:
                return None
            found = _find_head_end(buf, self._scan_from)
            if found is None:
                if len(buf) > MAX_HEAD_BYTES:
                    self.broken = True
                    self.rejected = bytes(buf)
                    raise SIPParseError(f"no end of headers within {MAX_HEAD_BYTES} bytes", 513)
                self._scan_from = max(0, len(buf) - 3)
                return None
            head_end, body_at = found
            self._scan_from = 0
            try:
                message = None
                if body_at == head_end + 4:
                    message = _parse_head_fast(buf, head_end)
                if message is None:
                    message = _parse_head_slow(buf, head_end)
                length = _body_length(message.headers, True)
                assert length is not None
                if length > MAX_BODY_BYTES:
                    raise SIPParseError(f"Content-Length {length} exceeds {MAX_BODY_BYTES}", 513,
                                        header="Content-Length")
            except (SIPParseError, UnicodeError, ValueError) as exc:
                self.broken = True
                self.rejected = bytes(buf[:body_at])
                drop = buf[:4].upper() == b"SIP/"
                if isinstance(exc, SIPParseError):
                    exc.drop = exc.drop or drop
                    raise
                raise SIPParseError(f"malformed message: {exc}", drop=drop) from exc
            del buf[:body_at]
            self._pending, self._pending_head = (message, length), body_at
        message, length = self._pending
        if len(buf) < length:
            return None
        self._pending = None
        message.body = bytes(buf[:length])
        del buf[:length]
        if self._validate:
            try:
                validate(message)
            except SIPParseError as exc:
                self.rejected = message.to_bytes()
                exc.drop = exc.drop or isinstance(message, Response)
                raise
            except (UnicodeError, ValueError) as exc:
                self.rejected = message.to_bytes()
                raise SIPParseError(f"malformed message: {exc}", drop=isinstance(message, Response)) from exc
        return message
