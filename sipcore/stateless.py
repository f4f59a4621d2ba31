"""Answering malformed requests: a best-effort error response built from the raw header lines.

RFC 3261 §8.2 asks a server to answer a malformed request with 400 (505, 416 ...) where it can address
a response, and RFC 4475 §3.1.2 shows how broken such requests get. This builds the response from the
Via, From, To, Call-ID and CSeq lines exactly as received, and says what was wrong in a Warning header
(code 399, RFC 3261 §20.43), the way a SIP engineer reads it in Wireshark.
"""

from __future__ import annotations

import re

from .errors import SIPParseError
from .headers import header_key, quote
from .message import reason_phrase

_COPIED = ("via", "from", "to", "call-id", "cseq")
#: A first line that reads as a request line, however malformed inside: a method token, white space, a
#: Request-URI of sorts, white space, a SIP version (RFC 4475 §3.1.2 answers such lines with 400 or 505).
_REQUEST_LIKE = re.compile(rb"[A-Za-z0-9.!%*_+`'~-]+[ \t]+\S.*[ \t]SIP/[^ \t]*[ \t]*\Z", re.I)
MAX_RESPONSE_BYTES = 65507
"""The largest error response sent: one UDP datagram (and within a stream peer's header-section limit)."""


def error_response_bytes(data: bytes, error: SIPParseError, *, agent: str = "trunkcheck") -> bytes | None:
    """The response to send for a request that failed to parse, or None when none can be sent: a
    response, or anything whose first line is not a request line (garbage, a response mangled beyond
    recognition: answering those would answer what is not a request), no Via to address it to, a Via
    that cannot be copied as it is, or no room for it.

    A header line holding a bare CR or LF is not copied: in the response it would end the line early and
    make a line of the rest (RFC 3261 §7.3.1 allows neither inside a value). Without its Via lines the
    response could not be addressed (or would go to the wrong hop), so such a Via means no response.
    A response over MAX_RESPONSE_BYTES (a request with huge Via, From ... lines) is not sent either."""
    if error.drop:
        return None
    data = data.lstrip(b"\r\n")
    first = data[:data.find(b"\n")] if b"\n" in data else data
    if not _REQUEST_LIKE.match(first.rstrip(b"\r")):
        return None
    end = data.find(b"\r\n\r\n")
    head = (data if end < 0 else data[:end]).decode("utf-8", "surrogateescape")
    lines = head.replace("\r\n ", " ").replace("\r\n\t", " ").split("\r\n")
    copied: list[str] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        key = header_key(name.strip()) if colon else ""
        if key not in _COPIED:
            continue
        if "\r" in line or "\n" in line:
            if key == "via":
                return None
            continue
        copied.append(f"{name.strip()}: {value.strip()}")
    copied.sort(key=lambda line: header_key(line.split(":", 1)[0]) != "via")  # Via first, order kept
    if not copied or header_key(copied[0].split(":", 1)[0]) != "via":
        return None
    status = error.status_hint
    text = str(error).replace("\r", " ").replace("\n", " ")[:200]
    out = [f"SIP/2.0 {status} {reason_phrase(status)}", *copied,
           f"Warning: 399 {agent} {quote(text)}", "Content-Length: 0", "", ""]
    response = "\r\n".join(out).encode("utf-8", "surrogateescape")
    return response if len(response) <= MAX_RESPONSE_BYTES else None
