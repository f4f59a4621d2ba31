"""SDES a=crypto lines (RFC 4568), read and written, and the SRTP offer/answer built on them."""

from __future__ import annotations

import base64
import random

import pytest

from sipcore.errors import SIPParseError
from sipcore.sdes import (
    CryptoAttribute,
    KeyParam,
    answer_crypto,
    choose_crypto,
    crypto_attributes,
    negotiated_crypto,
)
from sipcore.sdp import SessionDescription
from sipcore.sdp_offer import make_answer, make_offer

# RFC 4568 §3 (the offer of its overview) and §8.1 (an offer with two lines, one with two keys).
RFC_OVERVIEW = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32"
RFC_8_1_A = ("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 "
             "FEC_ORDER=FEC_SRTP")
RFC_8_1_B = ("2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;"
             "inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP")


def rng_bytes(seed: int = 1) -> random.Random:
    return random.Random(seed)


def test_rfc_4568_overview_line_is_read_field_by_field() -> None:
    line = CryptoAttribute.parse(RFC_OVERVIEW)
    assert (line.tag, line.suite) == (1, "AES_CM_128_HMAC_SHA1_80")
    assert line.key == KeyParam(base64.b64decode("PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"), 1 << 20, (1, 32))
    assert len(line.key.key_salt) == 30  # 16 bytes of master key, 14 of master salt
    assert str(line) == RFC_OVERVIEW


@pytest.mark.parametrize("text", [RFC_8_1_A, RFC_8_1_B])
def test_rfc_4568_section_8_1_lines_round_trip(text: str) -> None:
    assert str(CryptoAttribute.parse(text)) == text


def test_two_keys_and_session_parameters_are_kept_but_not_chosen() -> None:
    second = CryptoAttribute.parse(RFC_8_1_B)
    assert [k.mki for k in second.keys] == [(1, 4), (2, 4)]
    assert second.session_params == ("FEC_ORDER=FEC_SRTP",)
    first = CryptoAttribute.parse(RFC_8_1_A)
    assert "MKI" in (first.usable() or "")
    assert "not one of" in (second.usable() or "")
    assert choose_crypto([first, second]) is None  # nothing libsrtp can key here: the answer is 488


def test_a_decimal_lifetime_is_the_same_number_as_a_power_of_two() -> None:
    line = CryptoAttribute.parse("1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1048576")
    assert line.key.lifetime == 1 << 20
    assert line.usable() is None


@pytest.mark.parametrize(("text", "why"), [
    ("1 AES_CM_128_HMAC_SHA1_80", "needs <tag>"),
    ("x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "tag 'x'"),
    ("1 AES_CM_128_HMAC_SHA1_80 key:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "inline:"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVe!CFCanVmcjkpPywjNWhcYD0mXXtxaVBR", "not base64"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:QUJD", "needs 30 bytes of key and salt, the key has 3"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^x", "lifetime '2^x'"),
    ("1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|1:0", "MKI '1:0'"),
])
def test_malformed_lines_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(SIPParseError, match="RFC 4568") as info:
        CryptoAttribute.parse(text)
    assert why in str(info.value)


def test_the_answer_keeps_tag_and_suite_with_a_key_of_its_own() -> None:
    offered = [CryptoAttribute.parse("3 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"),
               CryptoAttribute.parse("4 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")]
    chosen = choose_crypto(offered)
    assert chosen is offered[0]  # the offerer's order of preference
    ours = answer_crypto(chosen, bytes(range(30)))
    assert (ours.tag, ours.suite, ours.key.key_salt) == (3, "AES_CM_128_HMAC_SHA1_32", bytes(range(30)))
    assert negotiated_crypto(offered, [ours]) == (offered[0], ours)
    stranger = CryptoAttribute.new(9, "AES_CM_128_HMAC_SHA1_32", bytes(30))
    assert negotiated_crypto(offered, [stranger]) is None


def test_new_rejects_a_key_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="needs 30 bytes"):
        CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", bytes(16))


def test_make_offer_with_crypto_is_rtp_savp_and_make_answer_keys_it() -> None:
    rng = rng_bytes()
    line = CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", rng.randbytes(30))
    offer = make_offer("192.0.2.1", 4000, 7, crypto=[line])
    assert offer.media[0].proto == "RTP/SAVP"
    assert crypto_attributes(offer.media[0]) == [line]
    reparsed = SessionDescription.parse(offer.to_bytes())
    answer = make_answer(reparsed, "192.0.2.2", 5000, 8, srtp_key=rng.randbytes)
    media = answer.media[0]
    assert (media.port, media.proto) == (5000, "RTP/SAVP")
    [ours] = crypto_attributes(media)
    assert (ours.tag, ours.suite) == (1, "AES_CM_128_HMAC_SHA1_80") and ours.key != line.key


def test_an_answerer_without_srtp_rejects_rtp_savp() -> None:
    offer = make_offer("192.0.2.1", 4000, 7,
                       crypto=[CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", bytes(30))])
    assert make_answer(offer, "192.0.2.2", 5000, 8).media[0].port == 0


def test_an_answerer_with_srtp_skips_malformed_and_unusable_lines() -> None:
    offer = SessionDescription.parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
        "m=audio 4000 RTP/SAVP 0\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:broken\r\n"
        f"a=crypto:{RFC_OVERVIEW.replace('1 ', '2 ', 1)}\r\n"
        "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\r\n")
    with pytest.raises(SIPParseError):
        crypto_attributes(offer.media[0])
    answer = make_answer(offer, "192.0.2.2", 5000, 8, srtp_key=rng_bytes().randbytes)
    assert [c.tag for c in crypto_attributes(answer.media[0])] == [3]  # tag 2 has an MKI


def test_plain_rtp_offers_are_still_answered_with_rtp_avp_when_srtp_is_possible() -> None:
    answer = make_answer(make_offer("192.0.2.1", 4000, 7), "192.0.2.2", 5000, 8, srtp_key=bytes)
    assert answer.media[0].proto == "RTP/AVP"
    assert crypto_attributes(answer.media[0]) == []


def test_a_best_effort_offer_rtp_avp_with_crypto_is_answered_with_a_key_when_srtp_is_possible() -> None:
    line = CryptoAttribute.new(5, "AES_CM_128_HMAC_SHA1_80", bytes(30))
    offer = SessionDescription.parse(make_offer("192.0.2.1", 4000, 7, crypto=[line]).to_bytes()
                                     .replace(b"RTP/SAVP", b"RTP/AVP"))
    keyed = make_answer(offer, "192.0.2.2", 5000, 8, srtp_key=rng_bytes().randbytes).media[0]
    assert keyed.proto == "RTP/AVP" and [c.tag for c in crypto_attributes(keyed)] == [5]
    clear = make_answer(offer, "192.0.2.2", 5000, 8).media[0]  # no SRTP here: accepted in clear
    assert clear.port == 5000 and crypto_attributes(clear) == []
