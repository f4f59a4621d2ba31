"""SRTP on the wire (RFC 3711 keyed by SDES, RFC 4568): every media packet between two roles
authenticates with a key the sender put in its SDP, as the capture shows it.

The keys come from the SDP Wireshark decoded in the capture (each side's a=crypto line keys what that side
sends); the packets are the capture's own bytes, every UDP datagram to or from an RTP port (or the RTCP
port next to it) that an SDP of the two roles announced, whether or not a dissector took it for RTP. Each
is authenticated with libsrtp (pylibsrtp, through :class:`sipcore.srtp.SrtpContext`). Nothing here trusts
the harness's own agents: a trunk that relays cleartext, re-encrypts with a key it never announced, or
forwards a forged packet fails with the frame that shows it.

RTP packets must all authenticate. RTCP packets that are not authentic SRTCP are reported in the summary
rather than failing the check (what the check asks is that the media is SRTP): baresip 1.0, for one, sends
an RTCP APP packet before its SRTP starts and its RTCP BYE (with its SDES CNAME) after it stops, in clear.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from harness.capture.datagrams import Datagram, udp_datagrams
from harness.capture.decode import DecodedMessage
from harness.capture.observation import Observation
from sipcore.errors import SIPParseError
from sipcore.rtp import RtpPacket, RtpParseError
from sipcore.sdes import CryptoAttribute
from sipcore.srtp import SrtpContext, SrtpError

__all__ = ["check_keys_inside_tls", "check_srtp"]

Address = tuple[str, int]
_G711 = (0, 8)
_G711_FRAMES = (80, 160, 240, 320)  # 10 to 40 ms at 8 kHz: what cleartext G.711 carries, with no tag after


@dataclass(frozen=True)
class _Key:
    line: CryptoAttribute
    message: DecodedMessage


def _label(msg: DecodedMessage) -> str:
    return msg.method or f"{msg.status} {msg.reason or ''}".strip()


def _keys_of(obs: Observation, msg: DecodedMessage, leg: str) -> list[_Key]:
    """The usable a=crypto lines of one SDP; AssertionError when it has none."""
    where = f"the {_label(msg)} ({obs.where(msg)})"
    if not msg.sdp_crypto:
        raise AssertionError(f"{where} offers {msg.sdp_proto or 'media'} with no a=crypto key: the media between "
                             f"{leg} is not SRTP (RFC 4568 SDES puts the sender's key in its SDP)")
    keys, why = [], []
    for value in msg.sdp_crypto:
        try:
            line = CryptoAttribute.parse(value)
        except SIPParseError as exc:
            raise AssertionError(f"{where}: {exc}") from None
        problem = line.usable()
        if problem is None:
            keys.append(_Key(line, msg))
        else:
            why.append(f"tag {line.tag}: {problem}")
    if not keys:
        raise AssertionError(f"{where}: no a=crypto line the check can key SRTP with ({'; '.join(why)})")
    return keys


def _cleartext_rtcp(data: bytes) -> str | None:
    """Why ``data`` is evidently cleartext RTCP (a compound packet whose lengths add up exactly, with no
    room for the SRTCP index and tag), else None."""
    offset, types = 0, []
    while offset + 4 <= len(data) and data[offset] >> 6 == 2 and 192 <= data[offset + 1] <= 223:
        types.append(str(data[offset + 1]))
        offset += 4 * (int.from_bytes(data[offset + 2:offset + 4], "big") + 1)
    if types and offset == len(data):
        return f"cleartext RTCP (PT {'+'.join(types)}, no SRTCP index or authentication tag)"
    return None


def _cleartext(data: bytes) -> str | None:
    """Why ``data`` is evidently cleartext RTP (a G.711 frame with no room for an auth tag), else None."""
    try:
        packet = RtpPacket.parse(data)
    except RtpParseError:
        return None
    if packet.payload_type in _G711 and len(packet.payload) in _G711_FRAMES:
        return (f"cleartext RTP: PT {packet.payload_type} with a {len(packet.payload)}-byte G.711 payload and no "
                "room for an authentication tag")
    return None


class _Verifier:
    """One libsrtp receiver per (sender address, key, RTP or RTCP), fed the sender's packets in order."""

    def __init__(self) -> None:
        self._contexts: dict[tuple[Address, str, bool], SrtpContext] = {}

    def authenticate(self, d: Datagram, keys: Iterable[_Key], rtcp: bool) -> tuple[_Key | None, str]:
        errors = []
        for key in keys:
            ctx = self._contexts.setdefault((d.src, str(key.line), rtcp), SrtpContext(key.line, outbound=False))
            try:
                ctx.unprotect_rtcp(d.payload) if rtcp else ctx.unprotect(d.payload)
            except SrtpError as exc:
                errors.append(str(exc).rpartition("): ")[2])
                continue
            return key, ""
        return None, "; ".join(dict.fromkeys(errors))


def check_srtp(obs: Observation, *, between: tuple[str, str], datagrams: Iterable[Datagram] | None = None) -> str:
    """The media between the two roles of ``between`` is SRTP: every SDP they exchanged carries an a=crypto
    key, and every datagram on the RTP (and RTCP) ports those SDPs name, in each direction, authenticates
    with a key its sender announced; at least one packet flows each way. Returns a one-line summary;
    AssertionError naming the frame otherwise. ``datagrams``: the capture's UDP datagrams (read from
    ``obs.pcap`` when not given)."""
    a, b = between
    leg = f"{a} and {b}"
    sdps = [m for m in obs.messages if m.has_sdp and {obs.role(m.src), obs.role(m.dst)} == {a, b}]
    if not sdps:
        raise AssertionError(f"no SDP was exchanged between {leg}: no media to check for SRTP")
    keys: dict[str, list[_Key]] = {a: [], b: []}
    rtp_ports: set[Address] = set()
    for msg in sdps:
        keys[obs.role(msg.src)] += _keys_of(obs, msg, leg)
        if msg.sdp_connection_address and msg.sdp_media_port:
            rtp_ports.add((msg.sdp_connection_address, msg.sdp_media_port))
    rtcp_ports = {(host, port + 1) for host, port in rtp_ports}
    verifier, seen = _Verifier(), set()
    counts = {a: 0, b: 0}
    used: dict[int, None] = {}
    failures: list[str] = []
    rtcp_failures: list[str] = []
    for d in udp_datagrams(obs.pcap) if datagrams is None else datagrams:
        ports = {d.src, d.dst}
        if not ports & (rtp_ports | rtcp_ports):
            continue
        sender, receiver = obs.role(d.src), obs.role(d.dst)
        if {sender, receiver} != {a, b} or (d.src, d.dst, d.payload) in seen:
            continue
        seen.add((d.src, d.dst, d.payload))  # a loopback capture may hold a datagram twice
        rtcp = bool(ports & rtcp_ports)
        key, error = verifier.authenticate(d, keys[sender], rtcp)
        if key is not None:
            counts[sender] += 1
            used[key.message.frame_no] = None
            continue
        kind = "RTCP" if rtcp else "RTP"
        lines = ", ".join(f"tag {k.line.tag} {k.line.suite} (frame {k.message.frame_no})" for k in keys[sender])
        why = _cleartext_rtcp(d.payload) if rtcp else _cleartext(d.payload)
        (rtcp_failures if rtcp else failures).append(f"frame {d.frame_no} ({sender} {d.src[0]}:{d.src[1]} -> {receiver} {d.dst[0]}:{d.dst[1]}, "
                        f"{kind}, {len(d.payload)} bytes) is {why or 'not authentic'}: it does not authenticate "
                        f"with the key(s) the {sender} announced, {lines} (libsrtp: {error})")
    if failures:
        more = f" ({len(failures)} such packets; the first shown)" if len(failures) > 1 else ""
        raise AssertionError(f"media between {leg} is not all SRTP{more}: {failures[0]}")
    for sender in (a, b):
        if not counts[sender]:
            raise AssertionError(f"no RTP from the {sender} on the ports the SDP between {leg} announced "
                                 f"({', '.join(f'{h}:{p}' for h, p in sorted(rtp_ports))}): nothing to authenticate")
    suites = sorted({k.line.suite for ks in keys.values() for k in ks})
    rtcp_note = (f"; but {len(rtcp_failures)} RTCP packet(s) were not authentic SRTCP, the first: {rtcp_failures[0]}"
                 if rtcp_failures else "")
    return (f"{leg}: {counts[a] + counts[b]} SRTP/SRTCP packets ({counts[a]} from the {a}, {counts[b]} from the "
            f"{b}) authenticated with {', '.join(suites)} keys of the SDP in frames "
            f"{', '.join(map(str, sorted(used)))}{rtcp_note}")


def check_keys_inside_tls(obs: Observation, *, between: tuple[str, str]) -> str:
    """Every SDP exchanged between the two roles that carries an a=crypto key travelled inside TLS (the
    decode read it from a TLS record with the scenario's key log): an SDES key sent over UDP or cleartext
    TCP is readable by anyone on the path, which makes the SRTP it keys worthless (RFC 4568 §8.3).
    Returns a one-line summary; AssertionError naming the first exposed key's frame."""
    a, b = between
    keyed = [m for m in obs.messages if m.sdp_crypto and {obs.role(m.src), obs.role(m.dst)} == {a, b}]
    if not keyed:
        raise AssertionError(f"no SDP with an a=crypto key was exchanged between {a} and {b}")
    exposed = [m for m in keyed if m.transport != "tls"]
    if exposed:
        m = exposed[0]
        raise AssertionError(f"the {_label(m)} ({obs.where(m)}) carried its SRTP key over {m.transport.upper()} in "
                             f"clear: SDES keys must travel only inside TLS ({len(exposed)} of {len(keyed)} keyed "
                             "SDPs exposed)")
    return (f"{a} and {b}: the SRTP keys of {len(keyed)} SDP(s) (frames {', '.join(str(m.frame_no) for m in keyed)}) "
            "travelled only inside TLS, read with the scenario's key log")
