"""The SRTP wire check: what passes, and what a cleartext packet, a forged one or an SDP without a key say."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from harness.capture.datagrams import Datagram
from harness.capture.decode import DecodedMessage
from harness.capture.observation import Observation
from harness.suite.srtp_checks import check_keys_inside_tls, check_srtp
from sipcore.rtp import RtpStream
from sipcore.sdes import CryptoAttribute
from sipcore.srtp import SrtpContext

from .test_checks import ROLES, UA, VB, msg

UA_MEDIA, VB_MEDIA = ("127.0.0.10", 40000), ("127.0.0.20", 30000)
UA_KEY = CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", os.urandom(30))
VB_KEY = CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", os.urandom(30))


def sdp(frame: int, src: tuple[str, int], dst: tuple[str, int], first: str, media: tuple[str, int],
        key: CryptoAttribute | None) -> DecodedMessage:
    message = msg(frame, src, dst, first, sdp=media)
    return replace(message, sdp_proto="RTP/SAVP" if key else "RTP/AVP", sdp_crypto=(str(key),) if key else ())


def stream(src: tuple[str, int], dst: tuple[str, int], key: CryptoAttribute | None, first_frame: int,
           count: int = 3, ssrc: int = 0x1234) -> list[Datagram]:
    sender = SrtpContext(key, outbound=True) if key is not None else None
    rtp = RtpStream(ssrc=ssrc, payload_type=0, sequence_number=65534, timestamp=0)  # wraps: the ROC must follow
    out = []
    for i in range(count):
        packet = rtp.next_packet(b"\xff" * 160).serialize()
        out.append(Datagram(first_frame + i, 0.0, src, dst, sender.protect(packet) if sender else packet))
    return out


def call(ua_key: CryptoAttribute | None = UA_KEY, vb_key: CryptoAttribute | None = VB_KEY) -> Observation:
    items = [sdp(1, UA, VB, "INVITE", UA_MEDIA, ua_key), sdp(2, VB, UA, "200", VB_MEDIA, vb_key)]
    return Observation.build(Path("x.pcap"), items, ROLES)


def test_authentic_srtp_both_ways_passes_with_a_summary() -> None:
    datagrams = stream(UA_MEDIA, VB_MEDIA, UA_KEY, 10) + stream(VB_MEDIA, UA_MEDIA, VB_KEY, 20)
    summary = check_srtp(call(), between=("UA", "VoIPBin"), datagrams=datagrams + datagrams[:1])  # a duplicate
    assert "6 SRTP/SRTCP packets (3 from the UA, 3 from the VoIPBin)" in summary
    assert "frames 1, 2" in summary


def test_cleartext_rtp_on_an_srtp_leg_fails_naming_the_frame() -> None:
    datagrams = stream(UA_MEDIA, VB_MEDIA, UA_KEY, 10) + stream(VB_MEDIA, UA_MEDIA, None, 20)
    with pytest.raises(AssertionError, match=r"frame 20 \(VoIPBin .* is cleartext RTP: PT 0 with a 160-byte "
                                             r"G\.711 payload") as info:
        check_srtp(call(), between=("UA", "VoIPBin"), datagrams=datagrams)
    assert "3 such packets" in str(info.value)
    assert "tag 1 AES_CM_128_HMAC_SHA1_80 (frame 2)" in str(info.value)


def test_srtp_under_a_key_nobody_announced_is_not_authentic() -> None:
    stranger = CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", os.urandom(30))
    datagrams = stream(UA_MEDIA, VB_MEDIA, UA_KEY, 10) + stream(VB_MEDIA, UA_MEDIA, stranger, 20, count=1)
    with pytest.raises(AssertionError, match=r"frame 20 .* is not authentic: .*libsrtp: authentication failure"):
        check_srtp(call(), between=("UA", "VoIPBin"), datagrams=datagrams)


def test_the_receivers_key_does_not_authenticate_the_senders_packets() -> None:
    """Each side's SDP keys what that side sends: a relay echoing the UA's key back fails."""
    datagrams = stream(UA_MEDIA, VB_MEDIA, UA_KEY, 10) + stream(VB_MEDIA, UA_MEDIA, UA_KEY, 20, count=1, ssrc=9)
    with pytest.raises(AssertionError, match="frame 20"):
        check_srtp(call(), between=("UA", "VoIPBin"), datagrams=datagrams)


def test_an_sdp_without_a_crypto_key_fails_before_any_packet() -> None:
    with pytest.raises(AssertionError, match=r"the 200 Whatever \(frame 2, VoIPBin -> UA\) offers RTP/AVP with "
                                             "no a=crypto key"):
        check_srtp(call(vb_key=None), between=("UA", "VoIPBin"), datagrams=[])


def test_silence_in_one_direction_is_reported() -> None:
    with pytest.raises(AssertionError, match="no RTP from the VoIPBin"):
        check_srtp(call(), between=("UA", "VoIPBin"), datagrams=stream(UA_MEDIA, VB_MEDIA, UA_KEY, 10))


def test_rtcp_in_clear_is_reported_in_the_summary_not_failed() -> None:
    bye = bytes.fromhex("81cb000100001234")  # an RTCP BYE, in clear
    rtcp_port = (VB_MEDIA[0], VB_MEDIA[1] + 1)
    datagrams = (stream(UA_MEDIA, VB_MEDIA, UA_KEY, 10) + stream(VB_MEDIA, UA_MEDIA, VB_KEY, 20)
                 + [Datagram(30, 0.0, (UA_MEDIA[0], UA_MEDIA[1] + 1), rtcp_port, bye)])
    summary = check_srtp(call(), between=("UA", "VoIPBin"), datagrams=datagrams)
    assert "1 RTCP packet(s) were not authentic SRTCP, the first: frame 30" in summary
    assert "cleartext RTCP (PT 203, no SRTCP index or authentication tag)" in summary
    srtcp = SrtpContext(UA_KEY, outbound=True).protect_rtcp(bye)
    summary = check_srtp(call(), between=("UA", "VoIPBin"), datagrams=[*datagrams[:-1], replace(datagrams[-1], payload=srtcp)])
    assert "7 SRTP/SRTCP packets" in summary and "not authentic" not in summary


def test_keys_read_from_tls_records_pass_and_a_key_sent_in_clear_fails_naming_its_frame() -> None:
    over_tls = call()
    tls_items = [replace(m, transport="tls") for m in over_tls.messages]
    summary = check_keys_inside_tls(Observation.build(Path("x.pcap"), tls_items, ROLES), between=("UA", "VoIPBin"))
    assert summary.startswith("UA and VoIPBin: the SRTP keys of 2 SDP(s) (frames 1, 2) travelled only inside TLS")
    leaked = [tls_items[0], replace(tls_items[1], transport="udp")]
    with pytest.raises(AssertionError, match=r"the 200 Whatever \(frame 2, VoIPBin -> UA\) carried its SRTP key over UDP in "
                                             r"clear: .* \(1 of 2 keyed SDPs exposed\)"):
        check_keys_inside_tls(Observation.build(Path("x.pcap"), leaked, ROLES), between=("UA", "VoIPBin"))
    with pytest.raises(AssertionError, match="no SDP with an a=crypto key was exchanged between UA and VoIPBin"):
        check_keys_inside_tls(call(ua_key=None, vb_key=None), between=("UA", "VoIPBin"))
