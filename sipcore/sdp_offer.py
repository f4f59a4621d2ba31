"""Building SDP offers and answers (RFC 3264) for a UA with one audio stream. Sans-IO.

:func:`make_offer` writes the offer a typical phone sends (PCMU + telephone-event); :func:`make_answer`
answers any offer the RFC 3264 §6 way. Both return a parsed :class:`~sipcore.sdp.SessionDescription`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .sdes import SAVP, CryptoAttribute, answer_crypto, choose_crypto, crypto_attributes
from .sdp import DIRECTIONS, MediaDescription, SessionDescription, address_type

MIRRORED_DIRECTION = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly",
                      "inactive": "inactive"}

#: What :func:`make_offer` calls its payload types; 101 is the customary telephone-event number.
OFFER_CODECS: dict[int, str] = {0: "PCMU/8000", 8: "PCMA/8000", 9: "G722/8000", 18: "G729/8000",
                                13: "CN/8000", 101: "telephone-event/8000"}
_AUXILIARY = {"telephone-event", "cn"}  # formats that do not carry a call's audio by themselves


def _session_header(address: str, sess_id: int | str, sess_version: int | None, username: str,
                    session_name: str, timing: str) -> list[str]:
    addrtype = address_type(address)
    version = int(sess_id) if sess_version is None else sess_version
    return ["v=0", f"o={username} {sess_id} {version} IN {addrtype} {address}", f"s={session_name}",
            f"c=IN {addrtype} {address}", f"t={timing}"]


def make_offer(address: str, port: int, sess_id: int | str, payload_types: Sequence[int] = (0, 101), *,
               sess_version: int | None = None, username: str = "trunkcheck",
               session_name: str = "trunkcheck", ptime: int = 20, direction: str = "sendrecv",
               crypto: Sequence[CryptoAttribute] = ()) -> SessionDescription:
    """A typical single-audio-stream offer: PCMU + telephone-event with a=rtpmap, a=fmtp:101 0-16,
    a=ptime:20 and a=sendrecv. ``payload_types`` are keys of :data:`OFFER_CODECS`; sess-version defaults
    to sess-id, as Asterisk and FreeSWITCH do. With ``crypto`` (SDES, RFC 4568) the stream is RTP/SAVP
    with those a=crypto lines, in that order of preference."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r} is not one of {DIRECTIONS}")
    unknown = [pt for pt in payload_types if pt not in OFFER_CODECS]
    if unknown or not payload_types:
        raise ValueError(f"make_offer knows payload types {sorted(OFFER_CODECS)}, got {list(payload_types)}")
    lines = _session_header(address, sess_id, sess_version, username, session_name, "0 0")
    proto = SAVP if crypto else "RTP/AVP"
    lines.append(f"m=audio {port} {proto} {' '.join(str(pt) for pt in payload_types)}")
    lines += [f"a={line.line}" for line in crypto]
    lines += [f"a=rtpmap:{pt} {OFFER_CODECS[pt]}" for pt in payload_types]
    lines += [f"a=fmtp:{pt} 0-16" for pt in payload_types if OFFER_CODECS[pt].startswith("telephone-event")]
    lines += [f"a=ptime:{ptime}", f"a={direction}"]
    return SessionDescription.parse("\r\n".join(lines) + "\r\n")


def _supports(encoding: str, supported: Sequence[str]) -> bool:
    enc = encoding.lower()
    return any(enc.startswith(s.lower() + "/") if "/" in s else enc.split("/")[0] == s.lower() for s in supported)


def _clock(encoding: str) -> str:
    return (encoding.split("/") + [""])[1]


def make_answer(offer: SessionDescription, address: str, port: int, sess_id: int | str,
                supported: Sequence[str] = ("PCMU", "telephone-event"), *, sess_version: int | None = None,
                username: str = "trunkcheck", session_name: str = "trunkcheck",
                srtp_key: Callable[[int], bytes] | None = None) -> SessionDescription:
    """Answer ``offer`` the RFC 3264 §6 way, with one audio stream at ``address``:``port``.

    The answer has the offer's m= lines in the same order. The first audio stream over RTP/AVP (or, when
    ``srtp_key`` is given, over RTP/SAVP with an a=crypto line :func:`~sipcore.sdes.choose_crypto` takes)
    with a supported codec is accepted: the supported formats in the offer's order and payload numbers,
    with telephone-event/CN kept only at a clock rate of an accepted codec, the offer's a=fmtp for them,
    its ptime (default 20) and the mirrored direction (sendonly <-> recvonly); an RTP/SAVP stream gets the
    chosen line's tag and suite with a key of ``srtp_key(length)`` random bytes (``os.urandom`` in
    production; RFC 4568 §5.1.2), and so does an RTP/AVP stream with a=crypto lines (best-effort SRTP, as
    baresip's ``mediaenc=srtp`` offers it). Every other stream is rejected with port 0. ``supported`` holds encoding names ("PCMU") or name/clock ("telephone-event/8000").
    When every stream is rejected the caller should rather answer 488 Not Acceptable Here.
    """
    offer_timing = next((v for k, v in offer.session_lines if k == "t"), "0 0")
    lines = _session_header(address, sess_id, sess_version, username, session_name, offer_timing)
    accepted = False
    for index, media in enumerate(offer.media):
        keep: dict[str, str] = {}
        crypto = _chosen_crypto(media) if srtp_key is not None and media.proto in (SAVP, "RTP/AVP") else None
        if (not accepted and media.kind == "audio" and media.port != 0
                and (media.proto == "RTP/AVP" or crypto is not None)):
            wanted = {pt: enc for pt, enc in media.codecs().items() if _supports(enc, supported)}
            clocks = {_clock(enc) for enc in wanted.values() if enc.split("/")[0].lower() not in _AUXILIARY}
            keep = {pt: enc for pt, enc in wanted.items() if _clock(enc) in clocks}
        if not keep:
            lines.append(f"m={media.kind} 0 {media.proto} {media.formats[0]}")
            continue
        accepted = True
        lines.append(f"m=audio {port} {media.proto} {' '.join(keep)}")
        if crypto is not None and srtp_key is not None:
            suite = crypto.known_suite
            assert suite is not None  # choose_crypto takes known suites only
            lines.append(f"a={answer_crypto(crypto, srtp_key(suite.key_salt_length)).line}")
        fmtp = media.fmtp()
        lines += [f"a=rtpmap:{pt} {enc}" for pt, enc in keep.items()]
        lines += [f"a=fmtp:{pt} {fmtp[pt]}" for pt in keep if pt in fmtp]
        lines.append(f"a=ptime:{media.ptime or 20}")
        lines.append(f"a={MIRRORED_DIRECTION[offer.media_direction(index)]}")
    return SessionDescription.parse("\r\n".join(lines) + "\r\n")


def _chosen_crypto(media: MediaDescription) -> CryptoAttribute | None:
    """The offered a=crypto line to accept (malformed ones ignored); None when none is usable."""
    return choose_crypto(crypto_attributes(media, skip_malformed=True))
