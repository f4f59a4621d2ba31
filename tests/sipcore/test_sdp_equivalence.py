"""SessionDescription.parse and rewrite_for_relay against straightforward reference versions (the
earlier, slower implementations): same lines, same bytes, same errors."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from sipcore.errors import SIPParseError
from sipcore.sdp import (
    Line,
    MediaDescription,
    Origin,
    SessionDescription,
    _connection,
    _fields,
    _media_fields,
    _number,
    _origin,
    address_type,
    rewrite_for_relay,
)


def _error(number: int, raw: str, why: str) -> SIPParseError:
    return SIPParseError(f"SDP line {number} {raw!r}: {why}")


def reference_parse(text: str) -> SessionDescription:
    raw = text.split("\n")
    final_eol = text.endswith("\n")
    if final_eol:
        raw.pop()
    raw = [r[:-1] if r.endswith("\r") else r for r in raw]
    blank_tail = 0
    while raw and raw[-1] == "":
        raw.pop()
        blank_tail += 1
    if not raw:
        raise SIPParseError("SDP body is empty: it must start with v=0")
    session: list[Line] = []
    sections: list[list[Line]] = []
    seen: set[str] = set()
    for number, line in enumerate(raw, 1):
        if len(line) < 2 or line[1] != "=" or not (line[0].isascii() and line[0].isalpha()):
            raise _error(number, line, "not a <type>=<value> line")
        kind, value = line[0], line[2:]
        if number == 1 and kind != "v":
            raise _error(number, line, "an SDP body must start with v= (RFC 4566 §5)")
        try:
            if kind == "v" and value != "0":
                raise ValueError(f"SDP version {value!r} is not 0")
            if kind == "o":
                _origin(value)
            elif kind == "c":
                _connection(value)
            elif kind == "m":
                _media_fields(value)
            elif kind == "t" and not all(_number(p) for p in _fields(value, 2, "t")):
                raise ValueError("t= start and stop times must be numbers")
        except ValueError as exc:
            raise _error(number, line, str(exc)) from None
        if kind == "m":
            sections.append([])
        (sections[-1] if sections else session).append((kind, value))
        if not sections:
            seen.add(kind)
    for required in "os":
        if required not in seen:
            raise SIPParseError(f"SDP has no session-level {required}= line (RFC 4566 §5)")
    return SessionDescription(session, [MediaDescription(s) for s in sections], final_eol=final_eol,
                              blank_tail=blank_tail)


def reference_rewrite(sd: SessionDescription, address: str, ports: Sequence[int]) -> SessionDescription:
    out = sd.copy()
    origin = out.origin
    out.set_origin(Origin(origin.username, origin.sess_id, origin.sess_version + 1, "IN",
                          address_type(address), address))
    has_session_c = out.set_connection(address)
    for media, port in zip(out.media, ports, strict=True):
        if media.port == 0:
            continue
        media.set_port(port)
        if media.connection is not None or not has_session_c:
            media.set_connection(address)
        lines = media.lines
        for i, (kind, value) in enumerate(lines):
            name, colon, attr = value.partition(":")
            if kind == "a" and name == "rtcp" and attr:
                where = f" IN {address_type(address)} {address}" if attr.split()[1:] else ""
                lines[i] = ("a", f"rtcp:{port + 1}{where}")
        media._lines = lines
    return out


def _outcome(parse: object, text: str) -> tuple[str, object]:
    assert callable(parse)
    try:
        sd = parse(text)
    except SIPParseError as exc:
        return "error", str(exc)
    return "ok", (str(sd), sd.session_lines, [m.lines for m in sd.media])


_line = st.sampled_from([
    "v=0", "v=1", "o=- 1 2 IN IP4 192.0.2.1", "o=alice 5 x IN IP4 h", "o=- 1 2 IN IP6 ::1", "s=-", "s=",
    "c=IN IP4 192.0.2.2", "c=IN IP4 224.2.1.1/127/3", "c=IN IP4", "t=0 0", "t=now 0", "m=audio 4000 RTP/AVP 0 8",
    "m=video 0 RTP/AVP 31", "m=audio 4000/2 RTP/AVP 0", "m=audio 70000 RTP/AVP 0", "m=audio", "a=rtcp:4001",
    "a=rtcp:4001 IN IP4 192.0.2.2", "a=rtcp:", "a=rtcpx:1", "a=sendonly", "i=info", "b=AS:64", "x", "",
    "=0", "1=0", "é=0", "a=caf\udcff",
])
_eol = st.sampled_from(["\r\n", "\n", "\r\r\n", "\r"])


_HEAD = "v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\ns=-\r\n"


@given(st.booleans(), st.lists(st.tuples(_line, _eol), max_size=14), st.sampled_from(["", "\r", "\n", "\r\n"]))
def test_parse_is_the_reference_parse(head: bool, lines: list[tuple[str, str]], tail: str) -> None:
    text = (_HEAD if head else "") + "".join(line + eol for line, eol in lines) + tail
    assert _outcome(SessionDescription.parse, text) == _outcome(reference_parse, text)


_good_line = st.sampled_from([
    "c=IN IP4 192.0.2.2", "c=IN IP4 224.2.1.1/127/3", "c=IN IP6 2001:db8::2", "t=0 0", "m=audio 4000 RTP/AVP 0 8",
    "m=video 0 RTP/AVP 31", "m=audio 4000/2 RTP/AVP 0", "a=rtcp:4001", "a=rtcp:4001 IN IP4 192.0.2.2", "a=rtcp:",
    "a=rtcpx:1", "a=sendonly", "i=info", "b=AS:64"])


@given(st.lists(_good_line, max_size=10), st.sampled_from(["192.0.2.9", "2001:db8::9"]))
def test_rewrite_for_relay_is_the_reference_rewrite(lines: list[str], address: str) -> None:
    sd = SessionDescription.parse(_HEAD + "".join(line + "\r\n" for line in lines))
    ports = [20000 + 2 * i for i in range(len(sd.media))]
    before = str(sd)
    assert str(rewrite_for_relay(sd, address, ports)) == str(reference_rewrite(sd, address, ports))
    assert str(sd) == before  # the original is left alone
