"""Bytes to messages: datagrams (UDP), byte streams (TCP) and the checks every element makes.

``parse_message`` frames one message and splits its header fields; ``validate`` parses the headers
every transaction depends on (Via, From, To, Call-ID, CSeq, Max-Forwards, Contact ...) so malformed
input is refused up front with the status a server should answer (RFC 3261 §8.2, RFC 4475).
A malformed *response* is never answered: its error has ``drop=True``.
"""

from __future__ import annotations

import re

from .errors import SIPParseError
from .headers import TOKEN, header_key
from .message import SIP_VERSION, Headers, Message, Request, Response

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
_FOLD = re.compile(r"\r?\n[ \t]+")
_STATUS = re.compile(r"[1-6][0-9][0-9]\Z")
_SPACE = re.compile(r"\s")
_VERSION = re.compile(r"SIP/[0-9]+\.[0-9]+\Z", re.I)


def _decode(head: bytes) -> str:
    return head.decode("utf-8", "surrogateescape")


def _split_head(data: bytes) -> tuple[bytes, int]:
    """Return (head, offset of the body) or raise when there is no empty line ending the headers."""
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return data[:end], end + 4
    end = data.find(b"\n\n")
    if end >= 0:
        return data[:end], end + 2
    raise SIPParseError("no empty line after the header fields")


def parse_message(data: bytes, *, validate_headers: bool = True, stream: bool = False) -> Request | Response:
    """Parse one SIP message from a UDP datagram (or a framed TCP message).

    Octets beyond Content-Length are ignored (RFC 3261 §18.3); with no Content-Length the body runs to
    the end of the datagram. With ``validate_headers`` the mandatory headers are checked too.
    """
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    if start:
        data = data[start:]
    if not data:
        raise SIPParseError("empty message", drop=True)
    is_response = data.startswith(b"SIP/")
    try:
        message = _parse(data, stream)
        if validate_headers:
            validate(message)
    except SIPParseError as exc:
        if is_response:
            exc.drop = True
        raise
    except (UnicodeError, ValueError) as exc:  # defensive: anything else malformed is still a parse error
        raise SIPParseError(f"malformed message: {exc}", drop=is_response) from exc
    return message


def _parse(data: bytes, stream: bool) -> Request | Response:
    head_bytes, body_at = _split_head(data)
    if len(head_bytes) > MAX_HEAD_BYTES:
        raise SIPParseError(f"header section of {len(head_bytes)} bytes exceeds {MAX_HEAD_BYTES}", 513)
    head = _decode(head_bytes)
    if "\n " in head or "\n\t" in head:
        head = _FOLD.sub(" ", head)
    lines = head.split("\r\n") if "\r\n" in head else head.split("\n")
    entries: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise SIPParseError(f"header line {line[:60]!r} has no colon")
        name = name.rstrip(" \t")
        if not TOKEN.match(name):
            raise SIPParseError(f"invalid header name {name[:60]!r}")
        entries.append((header_key(name), name, value.strip(" \t")))
    headers = Headers()
    headers._entries = entries
    message = _start_line(lines[0], headers)
    rest = data[body_at:]
    lengths = [v for k, _, v in entries if k == "content-length"]
    if not lengths:
        if stream:
            raise SIPParseError("Content-Length is required on a stream transport", header="Content-Length")
        message.body = rest
        return message
    if len(lengths) > 1 and len(set(lengths)) > 1:
        raise SIPParseError(f"{len(lengths)} different Content-Length values", header="Content-Length")
    text = lengths[0]
    if not text.isdigit() or not text.isascii():
        raise SIPParseError(f"Content-Length {text!r} is not a non-negative number", header="Content-Length")
    length = int(text)
    if length > len(rest):
        raise SIPParseError(f"Content-Length {length} exceeds the {len(rest)} bytes received",
                            header="Content-Length")
    message.body = rest[:length]
    return message


def _start_line(line: str, headers: Headers) -> Request | Response:
    if line.startswith("SIP/"):
        parts = line.split(" ", 2)
        if len(parts) < 2:
            raise SIPParseError(f"malformed status line {line[:80]!r}")
        version, code = parts[0], parts[1]
        if version != SIP_VERSION:
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
        raise SIPParseError(f"SIP version {version!r} is not supported", 505)
    if uri.startswith("<"):
        raise SIPParseError(f"Request-URI {uri[:60]!r} must not be enclosed in <>", header="Request-URI")
    return Request(method, uri, headers, version=SIP_VERSION)


def validate(message: Message) -> None:
    """Parse the headers that transactions, dialogs and proxies rely on; raise SIPParseError if any is
    malformed, missing, or repeated where only one is allowed."""
    h = message.headers
    for name in ("To", "From", "Call-ID", "CSeq"):
        count = h.count(name)
        if count != 1:
            what = "is missing" if count == 0 else f"appears {count} times"
            raise SIPParseError(f"{name} {what}", header=name)
    if not h.get_all("Via"):
        raise SIPParseError("Via is missing", header="Via")
    if h.count("Max-Forwards") > 1:
        raise SIPParseError("Max-Forwards appears more than once", header="Max-Forwards")
    if not message.call_id or _SPACE.search(message.call_id):
        raise SIPParseError(f"malformed Call-ID {message.call_id!r}", header="Call-ID")
    message.via  # noqa: B018 - parse for validation
    message.from_  # noqa: B018
    message.to  # noqa: B018
    cseq = message.cseq
    message.max_forwards  # noqa: B018
    message.expires  # noqa: B018
    message.contacts  # noqa: B018
    message.route  # noqa: B018
    message.record_route  # noqa: B018
    if isinstance(message, Request):
        uri = message.uri_parsed
        if getattr(uri, "headers", None):
            raise SIPParseError(f"Request-URI {message.uri!r} carries URI headers", header="Request-URI")
        if cseq.method != message.method:
            raise SIPParseError(f"CSeq method {cseq.method} does not match the request method "
                                f"{message.method}", header="CSeq")
    else:
        retry = h.get("Retry-After")
        if retry is not None:
            seconds = retry.split(";", 1)[0].split("(", 1)[0].strip()
            if not seconds.isdigit() or int(seconds) >= 2**32:
                raise SIPParseError(f"malformed Retry-After {retry!r}", header="Retry-After")


class StreamFramer:
    """Frames messages out of a byte stream (TCP): feed bytes, take complete messages.

    Leading CRLFs (keep-alives, RFC 5626 §3.5.1) are skipped. A message whose header section or body
    exceeds the limits raises SIPParseError; the stream is then unusable (close the connection).
    """

    def __init__(self, *, validate_headers: bool = True) -> None:
        self._buffer = bytearray()
        self._validate = validate_headers
        self.keepalives = 0

    def feed(self, data: bytes) -> list[Request | Response]:
        self._buffer += data
        messages: list[Request | Response] = []
        while True:
            message = self._next()
            if message is None:
                return messages
            messages.append(message)

    def _next(self) -> Request | Response | None:
        buf = self._buffer
        while buf.startswith(b"\r\n"):
            if buf.startswith(b"\r\n\r\n"):
                self.keepalives += 1
                del buf[:4]
            elif len(buf) >= 3 or buf == b"\r\n":
                del buf[:2]
            else:
                break
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise SIPParseError(f"no end of headers within {MAX_HEAD_BYTES} bytes", 513)
            return None
        head = bytes(buf[:end])
        length = _content_length(head)
        if length > MAX_BODY_BYTES:
            raise SIPParseError(f"Content-Length {length} exceeds {MAX_BODY_BYTES}", 513,
                                header="Content-Length")
        total = end + 4 + length
        if len(buf) < total:
            return None
        frame = bytes(buf[:total])
        del buf[:total]
        return parse_message(frame, validate_headers=self._validate, stream=True)


def _content_length(head: bytes) -> int:
    for line in _decode(head).split("\r\n")[1:]:
        name, colon, value = line.partition(":")
        if colon and header_key(name.strip()) == "content-length":
            value = value.strip()
            if not value.isdigit():
                raise SIPParseError(f"Content-Length {value!r} is not a non-negative number",
                                    header="Content-Length")
            return int(value)
    raise SIPParseError("Content-Length is required on a stream transport", header="Content-Length")
