"""What a capture decodes to: SIP messages and RTP packets, from pyshark's JSON-mode packets.

pyshark's JSON mode (`tshark -T json --no-duplicate-keys`) gives each layer as tshark's JSON object; it is
flattened into {field name: [values in order]} (trees and nested protocols such as SDP included) and read
by field name (`sip.CSeq.seq`, `sdp.media.port`, `rtp.ssrc` ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sipcore.headers import COMPACT_FORMS

Address = tuple[str, int]


@dataclass(frozen=True)
class DecodedMessage:
    frame_no: int
    time: float
    src: Address
    dst: Address
    transport: str  # "udp" / "tcp" / "tls" (SIP decrypted from a TLS record)
    kind: str  # "request" / "response"
    method: str | None
    status: int | None
    reason: str | None  # the status line's reason phrase
    call_id: str | None
    cseq_num: int | None
    cseq_method: str | None
    via_branch: str | None  # top Via
    from_tag: str | None
    to_tag: str | None
    has_authorization: bool
    has_proxy_authorization: bool
    has_sdp: bool
    sdp_connection_address: str | None
    sdp_media_port: int | None
    reason_header: str | None  # RFC 3326 Reason header, e.g. 'Q.850;cause=1;text="Unallocated number"'
    user_agent: str | None
    headers: dict[str, list[str]] = field(default_factory=dict, compare=False)  # full names, wire order
    wireshark_resend: bool = False  # Wireshark's own "Resent Packet" flag (only reliable per file)
    sdp_media_formats: tuple[int, ...] = ()  # payload types of the first m= line, in offer order
    request_uri: str | None = None  # requests: the Request-URI of the request line
    sdp_direction: str | None = None  # the SDP's direction (first stream, else session level; sendrecv if none)
    sdp_rtpmap: tuple[tuple[int, str], ...] = ()  # (payload type, "encoding/clock") of the a=rtpmap lines
    sdp_proto: str | None = None  # the first m= line's proto: RTP/AVP, RTP/SAVP ...
    sdp_crypto: tuple[str, ...] = ()  # a=crypto values (RFC 4568), as Wireshark read them, every m= line

    def header(self, name: str) -> list[str]:
        """All values of a header, by case-insensitive full or compact name."""
        wanted = COMPACT_FORMS.get(name.lower(), name).lower()
        return [v for k, vals in self.headers.items() if k.lower() == wanted for v in vals]


@dataclass(frozen=True)
class DecodedRtp:
    frame_no: int
    time: float
    src: Address
    dst: Address
    ssrc: int
    seq: int
    payload_type: int
    marker: bool = False
    timestamp: int = 0
    event: TelephoneEventFields | None = None  # RFC 4733 telephone-event, as Wireshark's rtpevent decodes it


@dataclass(frozen=True)
class TelephoneEventFields:
    """An RFC 4733 payload as Wireshark's rtpevent dissector reads it."""

    event_id: int
    end: bool
    volume: int
    duration: int


Decoded = DecodedMessage | DecodedRtp


class DecodeFormatError(ValueError):
    """pyshark did not hand over what JSON mode should."""


def _flatten(node: Any, out: dict[str, list[str]]) -> dict[str, list[str]]:
    for key, value in node.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                _flatten(item, out)
            else:
                out.setdefault(key, []).append(str(item))
    return out


def _layer_fields(pkt: Any, name: str) -> list[dict[str, list[str]]]:
    """Flattened fields of every `name` layer (a TCP segment may carry several SIP messages)."""
    out = []
    for layer in pkt.layers:
        if layer.layer_name != name:
            continue
        for one in [layer, *getattr(layer, "duplicate_layers", [])]:
            fields = getattr(one, "_all_fields", None)
            if not isinstance(fields, dict):
                raise DecodeFormatError(
                    f"pyshark layer {name!r} has no JSON fields: needs pyshark 0.6 in JSON mode"
                )
            out.append(_flatten(fields, {}))
    return out


def _first(fields: Mapping[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[0] if values else None


def _int(value: str | None) -> int | None:
    try:
        return int(value, 0) if value is not None else None
    except ValueError:
        return None


def convert_packet(pkt: Any, frame_offset: int = 0) -> list[Decoded]:
    frame_no = int(pkt.number) - frame_offset
    ts = float(pkt.sniff_timestamp)
    net = (_layer_fields(pkt, "ip") or _layer_fields(pkt, "ipv6") or [{}])[0]
    transport = str(pkt.transport_layer or "").lower()
    ports = (_layer_fields(pkt, transport) or [{}])[0]
    prefix = "ip" if "ip.src" in net else "ipv6"
    src = (_first(net, f"{prefix}.src") or "?", _int(_first(ports, f"{transport}.srcport")) or 0)
    dst = (_first(net, f"{prefix}.dst") or "?", _int(_first(ports, f"{transport}.dstport")) or 0)
    if transport == "tcp" and any(layer.layer_name == "tls" for layer in pkt.layers):
        transport = "tls"  # the SIP below was decrypted with the key log
    out: list[Decoded] = [_sip(f, frame_no, ts, src, dst, transport) for f in _layer_fields(pkt, "sip")]
    if not out:
        for rtp in _layer_fields(pkt, "rtp")[:1]:
            out.append(
                DecodedRtp(
                    frame_no,
                    ts,
                    src,
                    dst,
                    ssrc=_int(_first(rtp, "rtp.ssrc")) or 0,
                    seq=_int(_first(rtp, "rtp.seq")) or 0,
                    payload_type=_int(_first(rtp, "rtp.p_type")) or 0,
                    marker=_first(rtp, "rtp.marker") in ("1", "True"),
                    timestamp=_int(_first(rtp, "rtp.timestamp")) or 0,
                    event=_event((_layer_fields(pkt, "rtpevent") or [{}])[0]),
                )
            )
    return out


def _event(f: Mapping[str, list[str]]) -> TelephoneEventFields | None:
    event_id = _int(_first(f, "rtpevent.event_id"))
    if event_id is None:
        return None
    return TelephoneEventFields(event_id=event_id, end=_first(f, "rtpevent.end_of_event") in ("1", "True"),
                                volume=_int(_first(f, "rtpevent.volume")) or 0,
                                duration=_int(_first(f, "rtpevent.duration")) or 0)


def parse_headers(raw: str) -> dict[str, list[str]]:
    """Header block -> {full name: [values]}: stops at the blank line, unfolds continuation lines, expands
    compact names (`i:` -> Call-ID)."""
    headers: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            break  # end of the header block (tshark's JSON value may run on into the body)
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip()
        name = COMPACT_FORMS.get(name.lower(), name) if len(name) == 1 else name
        headers.setdefault(name, []).append(value.strip())
    return headers


def _sip(
    f: Mapping[str, list[str]], frame_no: int, ts: float, src: Address, dst: Address, transport: str
) -> DecodedMessage:
    headers = parse_headers(_first(f, "sip.msg_hdr") or "")
    names = {k.lower() for k in headers}
    status = _int(_first(f, "sip.Status-Code"))
    reason = None
    if (status_line := _first(f, "sip.Status-Line")) is not None:
        parts = status_line.split(" ", 2)
        reason = parts[2] if len(parts) == 3 else ""
    return DecodedMessage(
        frame_no=frame_no,
        time=ts,
        src=src,
        dst=dst,
        transport=transport,
        kind="response" if status is not None else "request",
        method=_first(f, "sip.Method"),
        status=status,
        reason=reason,
        call_id=_first(f, "sip.Call-ID"),
        cseq_num=_int(_first(f, "sip.CSeq.seq")),
        cseq_method=_first(f, "sip.CSeq.method"),
        via_branch=_first(f, "sip.Via.branch"),
        from_tag=_first(f, "sip.from.tag"),
        to_tag=_first(f, "sip.to.tag"),
        has_authorization="authorization" in names or "sip.Authorization" in f,
        has_proxy_authorization="proxy-authorization" in names or "sip.Proxy-Authorization" in f,
        has_sdp="sdp.version" in f,
        sdp_connection_address=_first(f, "sdp.connection_info.address"),
        sdp_media_port=_int(_first(f, "sdp.media.port")),
        reason_header=_first(f, "sip.Reason"),
        user_agent=_first(f, "sip.User-Agent"),
        headers=headers,
        wireshark_resend=_first(f, "sip.resend") in ("1", "True"),
        sdp_media_formats=_media_formats(_first(f, "sdp.media")),
        request_uri=_request_uri(_first(f, "sip.Request-Line")),
        sdp_direction=_direction(f) if "sdp.version" in f else None,
        sdp_rtpmap=_rtpmap(f.get("sdp.media_attr", [])),
        sdp_proto=_first(f, "sdp.media.proto"),
        sdp_crypto=tuple(a[7:] for a in f.get("sdp.media_attr", ()) if a.startswith("crypto:")),
    )


_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


def _direction(f: Mapping[str, list[str]]) -> str:
    """The direction of the (first) stream: its a= line, else the session's, else sendrecv (RFC 3264 §5.1)."""
    for name in ("sdp.media_attr", "sdp.session_attr"):
        found = [v.strip() for v in f.get(name, []) if v.strip() in _DIRECTIONS]
        if found:
            return found[-1]
    return "sendrecv"


def _rtpmap(attributes: list[str]) -> tuple[tuple[int, str], ...]:
    """`rtpmap:101 telephone-event/8000` -> (101, "telephone-event/8000") for each a=rtpmap line."""
    out = []
    for value in attributes:
        if value.startswith("rtpmap:"):
            pt, _, encoding = value[len("rtpmap:"):].partition(" ")
            if pt.strip().isdigit():
                out.append((int(pt), encoding.strip()))
    return tuple(out)


def _request_uri(line: str | None) -> str | None:
    parts = (line or "").split(" ")
    return parts[1] if len(parts) == 3 else None


def _media_formats(media: str | None) -> tuple[int, ...]:
    """`audio 20000 RTP/AVP 0 101` -> (0, 101); non-numeric formats (not RTP) are left out."""
    if not media:
        return ()
    return tuple(int(f) for f in media.split()[3:] if f.isdigit())
