"""SDP session descriptions (RFC 4566), and their rewriting by a media relay. Sans-IO.

A :class:`SessionDescription` keeps every line as received, so ``str(SessionDescription.parse(text))``
gives back ``text`` byte for byte (LF-only input comes back with CRLF, the only line end RFC 4566 allows).
The structured fields (:attr:`SessionDescription.origin`, :attr:`MediaDescription.port` ...) are read from
those lines, and the few setters rewrite single lines, so a relay's changes leave the rest untouched.
Building offers and answers (RFC 3264) is :mod:`sipcore.sdp_offer`.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from sipcore.errors import SIPParseError

Line = tuple[str, str]  # (type letter, value): "a=rtpmap:0 PCMU/8000" -> ("a", "rtpmap:0 PCMU/8000")

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

#: RFC 3551 Tables 4 and 5: static payload types, used when an m= line lists one without a=rtpmap.
STATIC_PAYLOAD_TYPES: dict[str, str] = {
    "0": "PCMU/8000", "3": "GSM/8000", "4": "G723/8000", "5": "DVI4/8000", "6": "DVI4/16000",
    "7": "LPC/8000", "8": "PCMA/8000", "9": "G722/8000", "10": "L16/44100/2", "11": "L16/44100",
    "12": "QCELP/8000", "13": "CN/8000", "14": "MPA/90000", "15": "G728/8000", "16": "DVI4/11025",
    "17": "DVI4/22050", "18": "G729/8000", "25": "CelB/90000", "26": "JPEG/90000", "28": "nv/90000",
    "31": "H261/90000", "32": "MPV/90000", "33": "MP2T/90000", "34": "H263/90000",
}


def _error(number: int, raw: str, why: str) -> SIPParseError:
    return SIPParseError(f"SDP line {number} {raw!r}: {why}")


@dataclass(frozen=True)
class Origin:
    """The o= line (RFC 4566 §5.2)."""

    username: str
    sess_id: str
    sess_version: int
    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return (f"{self.username} {self.sess_id} {self.sess_version} {self.nettype} {self.addrtype} "
                f"{self.address}")


@dataclass(frozen=True)
class Connection:
    """A c= line (RFC 4566 §5.7); ``address`` keeps any /ttl/count suffix."""

    nettype: str
    addrtype: str
    address: str

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


def _fields(value: str, count: int, kind: str) -> list[str]:
    f = value.split()
    if len(f) != count:
        raise ValueError(f"{kind}= needs {count} fields, has {len(f)}")
    return f


def _number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _origin_fields(value: str) -> list[str]:
    f = _fields(value, 6, "o")
    if not _number(f[2]):
        raise ValueError(f"o= sess-version {f[2]!r} is not a number")
    return f


def _origin(value: str) -> Origin:
    f = _origin_fields(value)
    return Origin(f[0], f[1], int(f[2]), f[3], f[4], f[5])


def _connection(value: str) -> Connection:
    return Connection(*_fields(value, 3, "c"))


def _check_version(value: str) -> None:
    if value != "0":
        raise ValueError(f"SDP version {value!r} is not 0")


def _check_timing(value: str) -> None:
    start, stop = _fields(value, 2, "t")
    if not (_number(start) and _number(stop)):
        raise ValueError("t= start and stop times must be numbers")


_MediaFields = tuple[str, int, str, str, list[str]]


def _media_fields(value: str) -> _MediaFields:
    """kind, port, "/count" suffix (or ""), proto, formats of an m= value."""
    f = value.split()
    if len(f) < 4:
        raise ValueError("m= needs <media> <port> <proto> <fmt> ...")
    port_text, slash, count = f[1].partition("/")
    if not _number(port_text) or (slash and not _number(count)):
        raise ValueError(f"m= port {f[1]!r} is not a number")
    port = int(port_text)
    if port > 65535:
        raise ValueError(f"m= port {port} is above 65535")
    return f[0], port, slash + count, f[2], f[3:]


#: What SessionDescription.parse checks in a line of each type (ValueError when it is wrong).
_LINE_CHECKS: dict[str, Callable[[str], object]] = {
    "v": _check_version, "o": _origin_fields, "c": lambda value: _fields(value, 3, "c"), "m": _media_fields,
    "t": _check_timing}
_TYPE_LETTERS = frozenset(string.ascii_letters)


def address_type(address: str) -> str:
    """The SDP addrtype of an address: IP6 or IP4."""
    return "IP6" if ":" in address else "IP4"


def _attribute(value: str) -> tuple[str, str | None]:
    name, colon, rest = value.partition(":")
    return name, (rest if colon else None)


def _direction_of(lines: Sequence[Line]) -> str | None:
    return next((v for k, v in reversed(lines) if k == "a" and v in DIRECTIONS), None)


class MediaDescription:
    """One media section: the m= line and the lines up to the next m= (RFC 4566 §5.14).

    ``kind`` (audio, video ...), ``port``, ``proto`` (RTP/AVP ...) and ``formats`` (payload types as
    strings) are read from the m= line; change them through the setters so the lines stay the truth.
    """

    def __init__(self, lines: Sequence[Line]) -> None:
        if not lines or lines[0][0] != "m":
            raise ValueError("a media description starts with its m= line")
        self._lines = list(lines)
        self.kind, self.port, self._count, self.proto, self.formats = _media_fields(lines[0][1])

    @classmethod
    def _parsed(cls, lines: list[Line], m_fields: object) -> MediaDescription:
        """SessionDescription.parse's media description: ``lines`` (kept, not copied) start with the m=
        line that :func:`_media_fields` turned into ``m_fields``, so it is not split again."""
        media = cls.__new__(cls)
        media._lines = lines
        media.kind, media.port, media._count, media.proto, media.formats = cast(_MediaFields, m_fields)
        return media

    @property
    def lines(self) -> list[Line]:
        return list(self._lines)

    @property
    def connection(self) -> Connection | None:
        """The media-level c= line, if any."""
        for kind, value in self._lines:
            if kind == "c":
                return _connection(value)
        return None

    @property
    def attributes(self) -> list[tuple[str, str | None]]:
        """Every a= line in order: "a=ptime:20" -> ("ptime", "20"), "a=sendrecv" -> ("sendrecv", None)."""
        return [_attribute(value) for kind, value in self._lines if kind == "a"]

    def get_attribute(self, name: str) -> str | None:
        """The value of the first ``a=name:value`` line."""
        return next((v for a, v in self.attributes if a == name and v is not None), None)

    def rtpmap(self) -> dict[str, str]:
        """{payload type: "encoding/clock[/channels]"} from the a=rtpmap lines."""
        return {pt: enc.strip() for pt, _, enc in self._pairs("rtpmap")}

    def fmtp(self) -> dict[str, str]:
        """{payload type: format parameters} from the a=fmtp lines."""
        return {pt: params.strip() for pt, _, params in self._pairs("fmtp")}

    def _pairs(self, name: str) -> list[tuple[str, str, str]]:
        return [(v or "").strip().partition(" ") for a, v in self.attributes if a == name]

    def codecs(self) -> dict[str, str]:
        """{payload type: encoding} for every format of the m= line, in its order, a=rtpmap first and then
        the RFC 3551 static table; a dynamic type without a=rtpmap is left out."""
        rtpmap = self.rtpmap()
        found = {pt: rtpmap.get(pt) or STATIC_PAYLOAD_TYPES.get(pt) for pt in self.formats}
        return {pt: enc for pt, enc in found.items() if enc}

    @property
    def ptime(self) -> int | None:
        """a=ptime in ms, None when absent or not a number."""
        value = self.get_attribute("ptime") or ""
        return round(float(value)) if value.replace(".", "", 1).isdigit() else None

    @property
    def direction(self) -> str:
        """The media-level direction attribute, sendrecv when there is none (RFC 3264 §5.1). See also
        :meth:`SessionDescription.media_direction`, which falls back to the session-level one."""
        return _direction_of(self._lines) or "sendrecv"

    def set_port(self, port: int) -> None:
        """Rewrite the m= port (keeping a "/count" suffix)."""
        self._lines[0] = ("m", " ".join([self.kind, f"{port}{self._count}", self.proto, *self.formats]))
        self.port = port

    def set_proto(self, proto: str) -> None:
        """Rewrite the m= proto (RTP/AVP <-> RTP/SAVP), keeping port and formats."""
        self._lines[0] = ("m", " ".join([self.kind, f"{self.port}{self._count}", proto, *self.formats]))
        self.proto = proto

    def set_attributes(self, name: str, values: Sequence[str]) -> None:
        """Replace every ``a=name`` line by one ``a=name:value`` per value, placed where the first one was
        (after the other attributes when there was none)."""
        kept = [(i, line) for i, line in enumerate(self._lines)
                if not (line[0] == "a" and line[1].partition(":")[0] == name)]
        at = next((n for n, (i, _) in enumerate(kept) if i != n), len(kept))
        self._lines[:] = [line for _, line in kept]
        self._lines[at:at] = [("a", f"{name}:{value}") for value in values]

    def set_connection(self, address: str, *, add: bool = True) -> bool:
        """Set the media-level c= address, adding the line (after m=, i=) when there is none and ``add``
        is true; whether a line was set."""
        line = ("c", f"IN {address_type(address)} {address}")
        for i, (kind, _) in enumerate(self._lines):
            if kind == "c":
                self._lines[i] = line
                return True
        if not add:
            return False
        at = 1 + sum(1 for kind, _ in self._lines[1:2] if kind == "i")
        self._lines.insert(at, line)
        return True

    def set_rtcp(self, port: int, address: str) -> None:
        """Rewrite an a=rtcp line (RFC 3605) to ``port``, and to ``address`` if it named an address."""
        for i, (kind, value) in enumerate(self._lines):
            if kind != "a" or not value.startswith("rtcp:"):
                continue
            attr = value[5:]
            if attr:
                where = f" IN {address_type(address)} {address}" if attr.split()[1:] else ""
                self._lines[i] = ("a", f"rtcp:{port}{where}")

    def __repr__(self) -> str:
        return f"MediaDescription({self._lines[0][1]!r})"

    def copy(self) -> MediaDescription:
        """An independent copy (the lines are immutable tuples: copying the lists is enough)."""
        return MediaDescription._parsed(list(self._lines),
                                        (self.kind, self.port, self._count, self.proto, list(self.formats)))


class SessionDescription:
    """A parsed SDP body; ``str()`` / :meth:`to_bytes` serialize it exactly as parsed."""

    def __init__(self, session_lines: Sequence[Line], media: Sequence[MediaDescription] = (), *,
                 final_eol: bool = True, blank_tail: int = 0) -> None:
        self._lines = list(session_lines)
        self.media = list(media)
        self._final_eol = final_eol
        self._blank_tail = blank_tail

    @classmethod
    def parse(cls, text: str | bytes) -> SessionDescription:
        """Parse an SDP body; raises :class:`SIPParseError` naming the line number and the line."""
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape")
        final_eol = text.endswith("\n")
        raw = text.replace("\r\n", "\n").split("\n")  # each line loses one "\r" before its "\n"
        if final_eol:
            raw.pop()
        elif raw[-1].endswith("\r"):  # and so does a last line without "\n"
            raw[-1] = raw[-1][:-1]
        blank_tail = 0
        while raw and raw[-1] == "":  # blank lines after the last line: tolerated, kept for the round trip
            raw.pop()
            blank_tail += 1
        if not raw:
            raise SIPParseError("SDP body is empty: it must start with v=0")
        session: list[Line] = []
        media: list[MediaDescription] = []
        current = session  # the lines of the session, then those of the latest media description
        for number, line in enumerate(raw, 1):
            kind, equals, value = line.partition("=")
            if not equals or kind not in _TYPE_LETTERS:  # the first "=" is the second character
                raise _error(number, line, "not a <type>=<value> line")
            if number == 1 and kind != "v":
                raise _error(number, line, "an SDP body must start with v= (RFC 4566 §5)")
            check = _LINE_CHECKS.get(kind)
            if check is not None:
                try:
                    checked = check(value)
                except ValueError as exc:
                    raise _error(number, line, str(exc)) from None
                if kind == "m":
                    current = [(kind, value)]
                    media.append(MediaDescription._parsed(current, checked))  # takes the list, not a copy
                    continue
            current.append((kind, value))
        seen = {kind for kind, _ in session}
        for required in "os":
            if required not in seen:
                raise SIPParseError(f"SDP has no session-level {required}= line (RFC 4566 §5)")
        return cls(session, media, final_eol=final_eol, blank_tail=blank_tail)

    def __str__(self) -> str:
        lines = list(map("=".join, self._lines))  # ("a", "sendrecv") -> "a=sendrecv", without a loop in Python
        for media in self.media:
            lines += map("=".join, media._lines)
        lines += [""] * self._blank_tail
        return "\r\n".join(lines) + ("\r\n" if self._final_eol else "")

    def to_bytes(self) -> bytes:
        return str(self).encode("utf-8", "surrogateescape")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SessionDescription) and str(self) == str(other)

    def __repr__(self) -> str:
        return f"SessionDescription({str(self)!r})"

    def copy(self) -> SessionDescription:
        return SessionDescription(self._lines, [media.copy() for media in self.media],
                                  final_eol=self._final_eol, blank_tail=self._blank_tail)

    @property
    def session_lines(self) -> list[Line]:
        return list(self._lines)

    def _first(self, kind: str) -> str | None:
        for k, v in self._lines:
            if k == kind:
                return v
        return None

    @property
    def version(self) -> int:
        return int(self._first("v") or "0")

    @property
    def origin(self) -> Origin:
        return _origin(self._first("o") or "")

    @property
    def session_name(self) -> str:
        return self._first("s") or ""

    @property
    def connection(self) -> Connection | None:
        """The session-level c= line, if any."""
        value = self._first("c")
        return _connection(value) if value is not None else None

    @property
    def timing(self) -> tuple[int, int] | None:
        """Start and stop time of the first t= line ((0, 0) for an unbounded session)."""
        value = self._first("t")
        return None if value is None else (int(value.split()[0]), int(value.split()[1]))

    @property
    def attributes(self) -> list[tuple[str, str | None]]:
        """The session-level a= lines, as :attr:`MediaDescription.attributes`."""
        return [_attribute(v) for k, v in self._lines if k == "a"]

    @property
    def direction(self) -> str | None:
        """The session-level direction attribute, None when there is none."""
        return _direction_of(self._lines)

    def media_direction(self, index: int = 0) -> str:
        """The direction in force for media ``index``: media level, else session level, else sendrecv."""
        return _direction_of(self.media[index].lines) or self.direction or "sendrecv"

    def _replace(self, kind: str, value: str) -> bool:
        for i, (k, _) in enumerate(self._lines):
            if k == kind:
                self._lines[i] = (kind, value)
                return True
        return False

    def set_origin(self, origin: Origin) -> None:
        self._replace("o", str(origin))

    def set_connection(self, address: str) -> bool:
        """Rewrite the session-level c= address; False (and nothing changed) when there is none."""
        return self._replace("c", f"IN {address_type(address)} {address}")


def media_address(sd: SessionDescription, index: int = 0) -> tuple[str, int]:
    """Where media ``index`` wants RTP: (media-level c= address, else session-level, m= port)."""
    if not 0 <= index < len(sd.media):
        raise IndexError(f"SDP has {len(sd.media)} m= lines, no index {index}")
    media = sd.media[index]
    connection = media.connection or sd.connection
    if connection is None:
        raise SIPParseError(f"SDP m= line {index + 1} {media.lines[0][1]!r} has no c= line and the session "
                            "has none (RFC 4566 §5.7)")
    return connection.address.split("/")[0], media.port


def rewrite_for_relay(sd: SessionDescription, address: str, ports: Sequence[int], sess_version_bump: bool = True,
                      *, username: str | None = None, sess_id: str | None = None) -> SessionDescription:
    """A new description with the media relayed through ``address``: every c= line (session and media
    level) set to it, m= line i moved to ``ports[i]``, o= address set and sess-version incremented
    (RFC 3264 §8: a changed description gets a higher version). A stream with port 0 (rejected or
    disabled, RFC 3264 §6/§8.2) keeps port 0. An a=rtcp line (RFC 3605) follows to port + 1 (and the
    address, if it named one). ``username`` / ``sess_id`` replace the o= fields when given.
    """
    if len(ports) != len(sd.media):
        raise ValueError(f"rewrite_for_relay got {len(ports)} ports for {len(sd.media)} m= lines")
    out = sd.copy()
    user, session, version = _origin_fields(out._first("o") or "")[:3]
    # str(Origin(...)) without the Origin objects
    out._replace("o", f"{username if username is not None else user} {sess_id if sess_id is not None else session} "
                      f"{int(version) + (1 if sess_version_bump else 0)} IN {address_type(address)} {address}")
    has_session_c = out.set_connection(address)
    for media, port in zip(out.media, ports, strict=True):
        if media.port == 0:
            continue
        media.set_port(port)
        media.set_connection(address, add=not has_session_c)  # a media-level c= is always rewritten
        media.set_rtcp(port + 1, address)
    return out
