"""Seeded fuzz input for the reference server: the RFC 4475 torture messages, mutated.

:func:`datagrams` yields ``(kind, bytes)`` pairs, the same ones for the same seed: a torture message
with one to three mutations (byte flips, truncation, repeated or oversized header fields, bad numbers,
odd URI schemes, a changed method, line surgery), or random bytes. Half the messages get new branch
and Call-ID values first (the others may well match an earlier datagram's transaction, as a
retransmission would), and a quarter are well-formed torture requests (INVITEs mostly) retargeted to the
``iponly`` trunk (:data:`TRUNK_HOST`), so that, sent from an address the trunk allows, they get past routing and authentication into the B2BUA. Every datagram fits in one UDP datagram. None
names a Via ``maddr`` (the server would answer to that address, off loopback).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator

from sipcore.errors import SIPParseError
from sipcore.message import Request
from sipcore.parser import parse_message

from ..sipcore.torture import manifest

MAX_DATAGRAM = 65507  # the largest UDP payload over IPv4
TORTURE: tuple[bytes, ...] = tuple(m.data for m in manifest())
METHODS = (b"INVITE", b"OPTIONS", b"REGISTER", b"BYE", b"CANCEL", b"ACK", b"INFO", b"UPDATE", b"PRACK",
           b"SUBSCRIBE", b"NOTIFY", b"MESSAGE", b"REFER", b"PUBLISH", b"invite", b"INV ITE", b"")
SCHEMES = (b"tel:", b"sips:", b"urn:", b"mailto:", b"SIP:", b"Sip:", b"im:", b"pres:", b"http:", b"sip:sip:",
           b"x-$%&:", b":", b"", b"sip", b"tel:+1-555-0100;phone-context=example.com", b"\xff\xfe:",
           b"urn:service:sos", b"sip:[::1", b"sip:@", b"sip:user@", b"sips:user@example.com;transport=tcp:")
NUMBERS = (b"-1", b"0", b"00000000000000000000001", b"4294967295", b"4294967296", b"2147483648",
           b"18446744073709551616", b"9" * 40, b"1e3", b"0x10", b"1.5", b"", b" ", b"+5", b"12abc",
           b"\xd9\xa3", b"\xef\xbc\x91", b"1_000", b"NaN", b"inf", b"65536", b"70000", b"256", b"99999999")
HEADER_NAMES = (b"Via", b"v", b"From", b"f", b"To", b"t", b"Call-ID", b"i", b"CSeq", b"Contact", b"m",
                b"Max-Forwards", b"Content-Length", b"l", b"Content-Type", b"c", b"Expires", b"Require",
                b"Proxy-Require", b"Supported", b"Route", b"Record-Route", b"Accept", b"Authorization",
                b"Proxy-Authorization", b"Content-Encoding", b"Reason", b"Timestamp", b"Allow", b"X-Fuzz")
_NUMBER = re.compile(rb"\d+")
_URI_SCHEME = re.compile(rb"(?<=[ <:])(sips?|tel|urn|mailto):", re.I)
_SIP_URI = re.compile(rb"(sips?:)(?:([^@]*)@)?([^;?]*)(.*)", re.I | re.S)
TRUNK_HOST = b"iponly.trunk.voipbin.net"
_VIA_LINE = re.compile(rb"^[ \t]*(via|v)[ \t]*:.*$", re.I | re.M)

Mutator = Callable[[random.Random, bytes], bytes]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\r\n")


def _head_lines(data: bytes) -> tuple[list[bytes], bytes]:
    """The header section's lines (start line first) and the rest (the empty line and body), if any."""
    head, sep, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), sep + body


def flip_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[:rng.randrange(len(data) + 1)]


def repeat_header(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _head_lines(data)
    if len(lines) < 2:
        return data
    i = rng.randrange(1, len(lines))
    count = rng.choice((2, 3, 10, 100, 1000))
    repeated = [lines[i]] * count
    joined = b"\r\n".join(lines[:i] + repeated + lines[i + 1:]) + rest
    return joined if len(joined) <= MAX_DATAGRAM else data


def oversized_header(rng: random.Random, data: bytes) -> bytes:
    lines, rest = _head_lines(data)
    name = rng.choice(HEADER_NAMES)
    size = rng.choice((1000, 8000, 40000, MAX_DATAGRAM - len(data) - 64))
    filler = rng.choice((b"a", b"sip:x@y;", b"z9hG4bK", b",", b" ", b"%41", b";p=1"))
    value = (filler * (size // len(filler) + 1))[:max(0, size)]
    lines.insert(rng.randrange(1, len(lines) + 1), name + b": " + value)
    out = b"\r\n".join(lines) + rest
    return out[:MAX_DATAGRAM]


def bad_number(rng: random.Random, data: bytes) -> bytes:
    spans = [m.span() for m in _NUMBER.finditer(data)]
    if not spans:
        return data
    out = data
    for start, end in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 3))), reverse=True):
        out = out[:start] + rng.choice(NUMBERS) + out[end:]
    return out


def odd_scheme(rng: random.Random, data: bytes) -> bytes:
    """Another scheme for the Request-URI (most often) or for any URI of the message."""
    first, sep, rest = data.partition(b"\r\n")
    parts = first.split(b" ")
    scheme = rng.choice(SCHEMES)
    if len(parts) >= 3 and not first.startswith(b"SIP/") and rng.random() < 0.7:
        uri = parts[1]
        _, colon, tail = uri.partition(b":")
        parts[1] = scheme + (tail if colon else uri)
        return b" ".join(parts) + sep + rest
    found = list(_URI_SCHEME.finditer(data))
    if not found:
        return data
    m = rng.choice(found)
    return data[:m.start()] + scheme + data[m.end():]


def other_method(rng: random.Random, data: bytes) -> bytes:
    """Another method on the request line, the CSeq or both (a CANCEL or ACK made of an INVITE ...)."""
    if data.startswith(b"SIP/"):
        return data
    method = rng.choice(METHODS)
    first, sep, rest = data.partition(b"\r\n")
    if rng.random() < 0.8:
        first = method + first[first.find(b" "):] if b" " in first else first
    if rng.random() < 0.6:
        rest = re.sub(rb"(?im)^(CSeq[ \t]*:[ \t]*\d+[ \t]+)\S+", lambda m: m.group(1) + method, rest, count=1)
    return first + sep + rest


def line_surgery(rng: random.Random, data: bytes) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    choice = rng.randrange(6)
    if choice == 0:
        del lines[i]
    elif choice == 1:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif choice == 2:
        return data.replace(b"\r\n", rng.choice((b"\n", b"\r", b"\n\r", b"\r\r\n")))
    elif choice == 3:
        lines.insert(i, rng.choice((b"", b" ", b"\t", b":", b"no colon here", b"\x00", b"Via:", b" folded")))
    elif choice == 4:
        lines[i] = lines[i] + rng.choice((b" ", b"\t", b";", b",", b"\\", b'"', b"<", b"%", b"%0"))
    else:
        lines[i] = b"\r\n".join([lines[i]] + [b" " + rng.randbytes(rng.randint(1, 20))])
    return b"\r\n".join(lines)


def to_trunk(rng: random.Random, data: bytes) -> bytes:
    """The request addressed to a user at TRUNK_HOST (Request-URI and To), whatever its domain was."""
    first, sep, rest = data.partition(b"\r\n")
    parts = first.split(b" ")
    if len(parts) != 3 or first.startswith(b"SIP/"):
        return data
    m = _SIP_URI.match(parts[1])
    user = (m.group(2) if m and m.group(2) else None) or rng.choice((b"15551234", b"+442071234567", b"alice"))
    parts[1] = b"sip:" + user + b"@" + TRUNK_HOST + (m.group(4) if m else b"")
    rest = re.sub(rb"(?im)^((?:To|t)[ \t]*:[^\r\n]*?sips?:[^@>\r\n]*@)[^;>\s]+", lambda t: t.group(1) + TRUNK_HOST,
                  rest, count=1)
    return b" ".join(parts) + sep + rest


def random_bytes(rng: random.Random, data: bytes) -> bytes:
    size = rng.choice((1, 2, 10, 100, 1400, 9000, 60000))
    prefix = rng.choice((b"", b"", b"INVITE ", b"OPTIONS sip:", b"SIP/2.0 ", b"\r\n", b"REGISTER sip:x SIP/2.0\r\n"))
    return (prefix + rng.randbytes(rng.randint(1, size)))[:MAX_DATAGRAM]


MUTATORS: dict[str, Mutator] = {
    "flip": flip_bytes, "truncate": truncate, "repeat": repeat_header, "oversize": oversized_header,
    "number": bad_number, "scheme": odd_scheme, "method": other_method, "lines": line_surgery,
}
_WEIGHTS = {"flip": 4, "truncate": 2, "repeat": 2, "oversize": 1, "number": 3, "scheme": 3, "method": 2,
            "lines": 2}


def fresh_ids(rng: random.Random, data: bytes) -> bytes:
    """New branch and Call-ID values: a new transaction, not a retransmission of an earlier datagram's."""
    token = b"%x" % rng.getrandbits(48)
    data = re.sub(rb"(?i)(branch[ \t]*=\s*)(z9hG4bK)?", lambda m: m.group(1) + (m.group(2) or b"") + token + b"-",
                  data)
    return re.sub(rb"(?im)^((?:Call-ID|i)[ \t]*:[ \t]*)", lambda m: m.group(1) + token + b".", data)


def _well_formed_requests() -> tuple[bytes, ...]:
    """The torture requests that parse and validate: the bases of trunk calls (a malformed one is refused
    400 before routing, so it would never reach the B2BUA)."""
    bases = []
    for data in TORTURE:
        try:
            message = parse_message(data)
        except SIPParseError:
            continue
        if isinstance(message, Request):
            bases.append(data)
    return tuple(bases)


TRUNK_BASES = _well_formed_requests()


def _mutate(rng: random.Random) -> tuple[str, bytes]:
    if rng.random() < 0.05:
        return "random", random_bytes(rng, b"")
    data = rng.choice(TORTURE)
    prefix = ""
    if rng.random() < 0.5:
        data = fresh_ids(rng, data)
    if rng.random() < 0.25:  # a call on the trunk: fewer mutations, so that some get through
        data = rng.choice(TRUNK_BASES)
        if not data.startswith(b"INVITE") and rng.random() < 0.7:
            data = other_method(rng, data)
        data, prefix = to_trunk(rng, fresh_ids(rng, data)), "trunk"
        names = rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()), k=rng.choice((0, 0, 1)))
    else:
        names = rng.choices(list(_WEIGHTS), weights=list(_WEIGHTS.values()), k=rng.choice((1, 1, 2, 3)))
    for name in names:
        if data:
            data = MUTATORS[name](rng, data)
    return "+".join([prefix] * bool(prefix) + names) or "trunk", data[:MAX_DATAGRAM]


def _addresses_off_loopback(data: bytes) -> bool:
    """Whether a Via line names a maddr (responses would go there, wherever it points)."""
    return any(b"maddr" in m.group(0).lower() for m in _VIA_LINE.finditer(data))


def datagrams(seed: int, count: int) -> Iterator[tuple[str, bytes]]:
    """``count`` fuzz datagrams for ``seed``: (what was done, the bytes). Never empty."""
    rng = random.Random(seed)
    made = 0
    while made < count:
        kind, data = _mutate(rng)
        if not data or _addresses_off_loopback(data):
            continue
        made += 1
        yield kind, data
