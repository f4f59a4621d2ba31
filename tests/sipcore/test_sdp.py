"""SDP: exact round trip of real-world bodies, structured access, relay rewrite, offer/answer, errors."""

from __future__ import annotations

import pytest

from sipcore.errors import SIPParseError
from sipcore.sdp import (
    Connection,
    MediaDescription,
    Origin,
    SessionDescription,
    media_address,
    rewrite_for_relay,
)
from sipcore.sdp_offer import make_answer, make_offer


def crlf(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


ASTERISK = crlf(
    "v=0",
    "o=- 1720000000 1720000002 IN IP4 192.0.2.10",
    "s=Asterisk",
    "c=IN IP4 192.0.2.10",
    "t=0 0",
    "m=audio 17540 RTP/AVP 0 8 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=ptime:20",
    "a=maxptime:150",
    "a=sendrecv",
)

FREESWITCH = crlf(
    "v=0",
    "o=FreeSWITCH 1720012345 1720012346 IN IP4 198.51.100.7",
    "s=FreeSWITCH",
    "c=IN IP4 198.51.100.7",
    "t=0 0",
    "m=audio 24602 RTP/AVP 102 0 8 9 103 101",
    "a=rtpmap:102 opus/48000/2",
    "a=fmtp:102 useinbandfec=1; maxaveragebitrate=30000; maxplaybackrate=48000; ptime=20; minptime=10",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:103 telephone-event/48000",
    "a=fmtp:103 0-16",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=ptime:20",
    "a=sendrecv",
    "a=rtcp:24603 IN IP4 198.51.100.7",
)

BARESIP = crlf(
    "v=0",
    "o=- 1152016493 3043718839 IN IP4 10.0.0.23",
    "s=-",
    "c=IN IP4 10.0.0.23",
    "t=0 0",
    "a=tool:baresip 3.10.1",
    "m=audio 10018 RTP/AVP 96 0 8 101",
    "b=AS:64",
    "a=rtpmap:96 opus/48000/2",
    "a=fmtp:96 stereo=1;sprop-stereo=1",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=sendrecv",
    "a=label:1",
    "a=ssrc:3326519813 cname:9b5f2ba5-5d6f-4c26-b9ed-1f8c9a6e2a41",
    "a=rtcp-rsize",
    "a=ptime:20",
)

# A carrier SBC (Sonus/Ribbon-like): o= names the signalling host, c= the media host; G.729 annexb=no.
CARRIER = crlf(
    "v=0",
    "o=Sonus_UAC 20547 3861 IN IP4 203.0.113.45",
    "s=SIP Media Capabilities",
    "c=IN IP4 203.0.113.46",
    "t=0 0",
    "m=audio 21326 RTP/AVP 0 18 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:18 G729/8000",
    "a=fmtp:18 annexb=no",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=sendrecv",
    "a=maxptime:20",
)

# An older carrier re-INVITE putting the call on hold: media-level c=, static types without a=rtpmap.
CARRIER_HOLD = crlf(
    "v=0",
    "o=MxSIP 0 1 IN IP4 203.0.113.80",
    "s=SIP Call",
    "t=0 0",
    "m=audio 16384 RTP/AVP 8 0",
    "c=IN IP4 203.0.113.81",
    "b=AS:80",
    "a=ptime:20",
    "a=sendonly",
)

WEBRTC = crlf(
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS stream1",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0",
    "a=ice-ufrag:Oyef",
    "a=ice-pwd:7Ez6rBymLpUvwVfgSXc1kAYa",
    "a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:98:55:29:2A:14:9C:9F:50:58:F8:4E:8D:1B",
    "a=setup:actpass",
    "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=sendrecv",
    "a=msid:stream1 track1",
    "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2",
    "a=rtcp-fb:111 transport-cc",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2",
    "a=fmtp:63 111/111",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:13 CN/8000",
    "a=rtpmap:110 telephone-event/48000",
    "a=rtpmap:126 telephone-event/8000",
    "a=ssrc:1001 cname:4TOk42mSjXCkVIa6",
)

AUDIO_VIDEO = crlf(
    "v=0",
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.50",
    "s=-",
    "c=IN IP4 192.0.2.50",
    "t=0 0",
    "m=audio 49170 RTP/AVP 0 97",
    "a=rtpmap:97 iLBC/8000",
    "m=video 51372 RTP/AVP 31 32",
    "a=rtpmap:31 H261/90000",
    "a=rtpmap:32 MPV/90000",
)

ALL = {"asterisk": ASTERISK, "freeswitch": FREESWITCH, "baresip": BARESIP, "carrier": CARRIER,
       "carrier_hold": CARRIER_HOLD, "webrtc": WEBRTC, "audio_video": AUDIO_VIDEO}


@pytest.mark.parametrize("name", ALL)
def test_round_trip_is_exact(name: str) -> None:
    text = ALL[name]
    sd = SessionDescription.parse(text)
    assert str(sd) == text
    assert SessionDescription.parse(text.encode()).to_bytes() == text.encode()


@pytest.mark.parametrize("name", ALL)
def test_lf_only_input_comes_back_with_crlf(name: str) -> None:
    text = ALL[name]
    sd = SessionDescription.parse(text.replace("\r\n", "\n"))
    assert str(sd) == text
    assert sd == SessionDescription.parse(text)


def test_odd_but_harmless_bytes_survive_the_round_trip() -> None:
    text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=Caf\xe9 \xff\r\nt=0 0\r\na=x-trailing-space:1 \r\n\r\n"
    raw = text.encode("latin-1")  # not UTF-8: the s= line must still come back byte for byte
    assert SessionDescription.parse(raw).to_bytes() == raw
    no_final_eol = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-"
    assert str(SessionDescription.parse(no_final_eol)) == no_final_eol


def test_asterisk_structured_fields() -> None:
    sd = SessionDescription.parse(ASTERISK)
    assert sd.version == 0
    assert sd.origin == Origin("-", "1720000000", 1720000002, "IN", "IP4", "192.0.2.10")
    assert sd.session_name == "Asterisk"
    assert sd.connection == Connection("IN", "IP4", "192.0.2.10")
    assert sd.timing == (0, 0)
    assert sd.attributes == []
    [audio] = sd.media
    assert (audio.kind, audio.port, audio.proto, audio.formats) == ("audio", 17540, "RTP/AVP", ["0", "8", "101"])
    assert audio.connection is None
    assert audio.rtpmap() == {"0": "PCMU/8000", "8": "PCMA/8000", "101": "telephone-event/8000"}
    assert audio.fmtp() == {"101": "0-16"}
    assert audio.ptime == 20
    assert audio.direction == "sendrecv"
    assert audio.attributes[-2:] == [("maxptime", "150"), ("sendrecv", None)]
    assert media_address(sd) == ("192.0.2.10", 17540)


def test_freeswitch_opus_and_two_telephone_events() -> None:
    sd = SessionDescription.parse(FREESWITCH)
    audio = sd.media[0]
    assert audio.formats == ["102", "0", "8", "9", "103", "101"]
    assert audio.rtpmap()["102"] == "opus/48000/2"
    assert audio.rtpmap()["103"] == "telephone-event/48000"
    assert audio.fmtp()["102"].startswith("useinbandfec=1;")
    assert audio.get_attribute("rtcp") == "24603 IN IP4 198.51.100.7"


def test_baresip_session_attribute_and_bandwidth_line() -> None:
    sd = SessionDescription.parse(BARESIP)
    assert sd.attributes == [("tool", "baresip 3.10.1")]
    assert sd.origin.sess_version == 3043718839
    assert ("b", "AS:64") in sd.media[0].lines
    assert sd.media[0].ptime == 20
    assert sd.media[0].get_attribute("ssrc") == "3326519813 cname:9b5f2ba5-5d6f-4c26-b9ed-1f8c9a6e2a41"


def test_carrier_media_host_differs_from_origin_host() -> None:
    sd = SessionDescription.parse(CARRIER)
    assert sd.origin.address == "203.0.113.45"
    assert media_address(sd) == ("203.0.113.46", 21326)
    assert sd.media[0].fmtp() == {"18": "annexb=no", "101": "0-15"}


def test_hold_offer_media_level_connection_and_static_payload_types() -> None:
    sd = SessionDescription.parse(CARRIER_HOLD)
    audio = sd.media[0]
    assert sd.connection is None
    assert audio.connection == Connection("IN", "IP4", "203.0.113.81")
    assert media_address(sd) == ("203.0.113.81", 16384)
    assert audio.rtpmap() == {}
    assert audio.codecs() == {"8": "PCMA/8000", "0": "PCMU/8000"}  # RFC 3551 static table, m= order
    assert audio.direction == "sendonly"


def test_webrtc_offer() -> None:
    sd = SessionDescription.parse(WEBRTC)
    audio = sd.media[0]
    assert audio.proto == "UDP/TLS/RTP/SAVPF"
    assert media_address(sd) == ("0.0.0.0", 9)
    assert ("msid-semantic", " WMS stream1") in sd.attributes
    assert ("rtcp-mux", None) in audio.attributes
    assert audio.codecs()["126"] == "telephone-event/8000"


def test_direction_falls_back_to_session_level() -> None:
    sd = SessionDescription.parse(crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1",
                                       "t=0 0", "a=recvonly", "m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 0",
                                       "a=inactive"))
    assert sd.direction == "recvonly"
    assert sd.media[0].direction == "sendrecv"  # media level only
    assert sd.media_direction(0) == "recvonly"
    assert sd.media_direction(1) == "inactive"


def test_media_address_without_any_connection_line_is_an_error() -> None:
    sd = SessionDescription.parse(crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"))
    with pytest.raises(SIPParseError, match="no c= line"):
        media_address(sd)
    with pytest.raises(IndexError):
        media_address(sd, 1)


def test_multicast_connection_address_drops_the_ttl() -> None:
    sd = SessionDescription.parse(crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 224.2.1.1/127",
                                       "t=0 0", "m=audio 4000 RTP/AVP 0"))
    assert sd.connection == Connection("IN", "IP4", "224.2.1.1/127")
    assert media_address(sd) == ("224.2.1.1", 4000)


# --- relay rewrite ---

def test_rewrite_for_relay_changes_only_addresses_ports_and_origin() -> None:
    original = SessionDescription.parse(FREESWITCH)
    relayed = rewrite_for_relay(original, "192.0.2.200", [40000])
    assert str(original) == FREESWITCH  # the input is untouched
    assert relayed.origin == Origin("FreeSWITCH", "1720012345", 1720012347, "IN", "IP4", "192.0.2.200")
    assert media_address(relayed) == ("192.0.2.200", 40000)
    expected = (FREESWITCH.replace("1720012346 IN IP4 198.51.100.7", "1720012347 IN IP4 192.0.2.200")
                .replace("c=IN IP4 198.51.100.7", "c=IN IP4 192.0.2.200")
                .replace("m=audio 24602", "m=audio 40000")
                .replace("a=rtcp:24603 IN IP4 198.51.100.7", "a=rtcp:40001 IN IP4 192.0.2.200"))
    assert str(relayed) == expected


def test_rewrite_for_relay_media_level_connection_and_rejected_stream() -> None:
    sd = SessionDescription.parse(crlf("v=0", "o=- 7 9 IN IP4 192.0.2.1", "s=-", "t=0 0",
                                       "m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.1",
                                       "m=video 0 RTP/AVP 31", "c=IN IP4 192.0.2.1"))
    out = rewrite_for_relay(sd, "2001:db8::5", [50000, 50002], username="relay", sess_id="42")
    assert out.origin == Origin("relay", "42", 10, "IN", "IP6", "2001:db8::5")
    assert out.media[0].lines[:2] == [("m", "audio 50000 RTP/AVP 0"), ("c", "IN IP6 2001:db8::5")]
    assert out.media[1].port == 0  # a rejected stream stays rejected


def test_rewrite_for_relay_adds_a_connection_line_when_there_was_none() -> None:
    sd = SessionDescription.parse(crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0",
                                       "m=audio 4000 RTP/AVP 0", "i=voice", "a=sendrecv"))
    out = rewrite_for_relay(sd, "192.0.2.9", [6000], sess_version_bump=False)
    assert out.origin.sess_version == 1
    assert out.media[0].lines == [("m", "audio 6000 RTP/AVP 0"), ("i", "voice"), ("c", "IN IP4 192.0.2.9"),
                                  ("a", "sendrecv")]


def test_rewrite_for_relay_wants_one_port_per_stream() -> None:
    with pytest.raises(ValueError, match="1 ports for 2 m= lines"):
        rewrite_for_relay(SessionDescription.parse(AUDIO_VIDEO), "192.0.2.9", [6000])


# --- offer / answer ---

def test_make_offer_is_a_typical_pcmu_offer() -> None:
    offer = make_offer("192.0.2.33", 20000, 123456)
    assert str(offer) == crlf(
        "v=0",
        "o=trunkcheck 123456 123456 IN IP4 192.0.2.33",
        "s=trunkcheck",
        "c=IN IP4 192.0.2.33",
        "t=0 0",
        "m=audio 20000 RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    )
    assert media_address(offer) == ("192.0.2.33", 20000)


def test_make_offer_rejects_unknown_payload_types() -> None:
    with pytest.raises(ValueError, match="payload types"):
        make_offer("192.0.2.33", 20000, 1, payload_types=[96])


def test_answer_to_asterisk_keeps_pcmu_and_dtmf() -> None:
    answer = make_answer(SessionDescription.parse(ASTERISK), "192.0.2.99", 30000, 555)
    assert str(answer) == crlf(
        "v=0",
        "o=trunkcheck 555 555 IN IP4 192.0.2.99",
        "s=trunkcheck",
        "c=IN IP4 192.0.2.99",
        "t=0 0",
        "m=audio 30000 RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    )


def test_answer_to_freeswitch_keeps_offer_order_and_the_8k_telephone_event_only() -> None:
    answer = make_answer(SessionDescription.parse(FREESWITCH), "192.0.2.99", 30000, 1,
                         supported=("PCMA", "PCMU", "telephone-event"))
    audio = answer.media[0]
    assert audio.formats == ["0", "8", "101"]  # offer's order, not ours; telephone-event/48000 dropped
    assert audio.fmtp() == {"101": "0-16"}


def test_answer_mirrors_hold_and_uses_static_types() -> None:
    answer = make_answer(SessionDescription.parse(CARRIER_HOLD), "192.0.2.99", 30000, 1)
    audio = answer.media[0]
    assert audio.formats == ["0"]
    assert audio.rtpmap() == {"0": "PCMU/8000"}
    assert audio.direction == "recvonly"


@pytest.mark.parametrize(("offered", "answered"), [("sendonly", "recvonly"), ("recvonly", "sendonly"),
                                                   ("inactive", "inactive"), ("sendrecv", "sendrecv")])
def test_answer_mirrors_direction(offered: str, answered: str) -> None:
    offer = make_offer("192.0.2.33", 20000, 1, direction=offered)
    assert make_answer(offer, "192.0.2.99", 30000, 2).media[0].direction == answered


def test_answer_keeps_every_m_line_and_rejects_video_with_port_zero() -> None:
    answer = make_answer(SessionDescription.parse(AUDIO_VIDEO), "192.0.2.99", 30000, 1)
    assert [(m.kind, m.port, m.formats) for m in answer.media] == [("audio", 30000, ["0"]),
                                                                    ("video", 0, ["31"])]


def test_answer_rejects_webrtc_srtp_and_codec_mismatch() -> None:
    webrtc = make_answer(SessionDescription.parse(WEBRTC), "192.0.2.99", 30000, 1)
    assert [(m.port, m.proto) for m in webrtc.media] == [(0, "UDP/TLS/RTP/SAVPF")]
    g729_only = make_answer(SessionDescription.parse(CARRIER), "192.0.2.99", 30000, 1, supported=("G722",
                                                                                                 "telephone-event"))
    assert g729_only.media[0].port == 0  # telephone-event alone carries no call audio


def test_answer_takes_the_timing_of_the_offer() -> None:
    offer = SessionDescription.parse(ASTERISK.replace("t=0 0", "t=3034423619 3042462419"))
    assert make_answer(offer, "192.0.2.99", 30000, 1).timing == (3034423619, 3042462419)


def test_second_audio_stream_is_rejected() -> None:
    offer = SessionDescription.parse(ASTERISK + "m=audio 17542 RTP/AVP 0\r\n")
    answer = make_answer(offer, "192.0.2.99", 30000, 1)
    assert [m.port for m in answer.media] == [30000, 0]


# --- malformed input ---

@pytest.mark.parametrize(("text", "where"), [
    (crlf("o=- 1 1 IN IP4 192.0.2.1", "s=-"), "SDP line 1 'o=- 1 1 IN IP4 192.0.2.1'"),
    (crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP"),
     "SDP line 5 'm=audio 4000 RTP/AVP'"),
    (crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "hello", "t=0 0"), "SDP line 4 'hello'"),
    (crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio abc RTP/AVP 0"),
     "SDP line 5 'm=audio abc RTP/AVP 0': m= port 'abc' is not a number"),
    (crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio 70000 RTP/AVP 0"), "above 65535"),
    (crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "", "t=0 0"), "SDP line 4 ''"),
    (crlf("v=0", "o=- 1 IN IP4 192.0.2.1", "s=-"), "SDP line 2 'o=- 1 IN IP4 192.0.2.1': o= needs 6 fields"),
    (crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4", "t=0 0"), "SDP line 4"),
    (crlf("v=1", "o=- 1 1 IN IP4 192.0.2.1", "s=-"), "SDP line 1 'v=1': SDP version '1' is not 0"),
    (crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=now 0"), "SDP line 4"),
    (crlf("v=0", "s=-", "t=0 0"), "no session-level o= line"),
    ("", "SDP body is empty"),
])
def test_malformed_sdp_names_the_line(text: str, where: str) -> None:
    with pytest.raises(SIPParseError) as info:
        SessionDescription.parse(text)
    assert where in str(info.value)
    assert info.value.status_hint == 400


def test_media_description_needs_an_m_line() -> None:
    with pytest.raises(ValueError):
        MediaDescription([("a", "sendrecv")])
