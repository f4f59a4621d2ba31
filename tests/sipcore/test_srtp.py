"""SRTP contexts keyed by a=crypto lines: libsrtp's reference packet, authentication, RTCP."""

from __future__ import annotations

import pytest

from sipcore.rtp import RtpPacket, RtpStream
from sipcore.sdes import CryptoAttribute
from sipcore.srtp import SrtpContext, SrtpError

# libsrtp's own known-answer vector (test/srtp_driver.c): this key||salt, this RTP packet, this SRTP packet.
KEY_SALT = bytes.fromhex("e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6")
PLAIN = bytes.fromhex("800f1234decafbadcafebabe" + "ab" * 16)
PROTECTED = bytes.fromhex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb")


def line(suite: str = "AES_CM_128_HMAC_SHA1_80", key: bytes = KEY_SALT, tag: int = 1) -> CryptoAttribute:
    return CryptoAttribute.new(tag, suite, key)


def test_the_key_of_an_a_crypto_line_gives_libsrtps_reference_packet() -> None:
    parsed = CryptoAttribute.parse(str(line()))  # through the SDP text: base64 key || salt, in that order
    assert SrtpContext(parsed, outbound=True).protect(PLAIN) == PROTECTED
    assert SrtpContext(parsed, outbound=False).unprotect(PROTECTED) == PLAIN


def test_a_flipped_bit_or_another_key_fails_authentication() -> None:
    tampered = bytearray(PROTECTED)
    tampered[20] ^= 1
    with pytest.raises(SrtpError, match="auth"):
        SrtpContext(line(), outbound=False).unprotect(bytes(tampered))
    with pytest.raises(SrtpError, match="auth"):
        SrtpContext(line(key=bytes(30)), outbound=False).unprotect(PROTECTED)


def test_cleartext_rtp_does_not_pass_as_srtp() -> None:
    with pytest.raises(SrtpError, match="tag 1 AES_CM_128_HMAC_SHA1_80"):
        SrtpContext(line(), outbound=False).unprotect(PLAIN)


def test_a_replayed_packet_is_refused_but_a_sender_may_protect_a_sequence_number_again() -> None:
    sender, receiver = SrtpContext(line(), outbound=True), SrtpContext(line(), outbound=False)
    first = sender.protect(PLAIN)
    assert sender.protect(PLAIN) == first  # a relay forwarding a retransmission
    receiver.unprotect(first)
    with pytest.raises(SrtpError, match="replay"):
        receiver.unprotect(first)


def test_the_32_bit_tag_suite_is_four_bytes_longer_than_rtp_and_rtcp_round_trips() -> None:
    key = bytes(range(30))
    sender = SrtpContext(line("AES_CM_128_HMAC_SHA1_32", key), outbound=True)
    receiver = SrtpContext(line("AES_CM_128_HMAC_SHA1_32", key), outbound=False)
    stream = RtpStream(ssrc=0x1234, payload_type=0, sequence_number=65534, timestamp=0)
    for _ in range(4):  # across a sequence number wrap: the rollover counter follows
        packet = stream.next_packet(b"\xff" * 160).serialize()
        wire = sender.protect(packet)
        assert len(wire) == len(packet) + 4
        assert receiver.unprotect(wire) == packet
    rtcp = bytes.fromhex("80c8000600001234") + bytes(20)  # a sender report
    assert receiver.unprotect_rtcp(sender.protect_rtcp(rtcp)) == rtcp


def test_a_line_libsrtp_cannot_key_is_refused_up_front() -> None:
    mki = CryptoAttribute.parse("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4")
    with pytest.raises(ValueError, match="MKI"):
        SrtpContext(mki, outbound=False)


def test_garbage_is_an_srtp_error_not_a_crash() -> None:
    receiver = SrtpContext(line(), outbound=False)
    for data in (b"", b"\x80" * 5, b"\x80" * 3000):
        with pytest.raises(SrtpError):
            receiver.unprotect(data)
    assert RtpPacket.parse(PLAIN).ssrc == 0xCAFEBABE
