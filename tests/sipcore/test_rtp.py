"""RTP packets, G.711 µ-law, test tones and the sender helper."""

from __future__ import annotations

import itertools
import struct

import pytest

from sipcore.errors import SIPParseError
from sipcore.rtp import (
    RtpPacket,
    RtpParseError,
    RtpStream,
    decode_pcmu,
    dominant_frequency,
    encode_pcmu,
    linear_to_ulaw,
    pcmu_frames,
    pcmu_tone,
    ulaw_to_linear,
)

# V=2, M=1, PT=0, seq 0x1234, ts 0xDEADBEEF, SSRC 0x11223344, four bytes of µ-law silence.
SIMPLE = bytes.fromhex("80 80 1234 deadbeef 11223344 ffffffff")

# V=2 P=1 X=1 CC=2, PT=8 (PCMA), two CSRCs, a one-word RFC 8285 one-byte extension, "abc", 3 padding octets.
FULL = bytes.fromhex("b2 08 0001 000000a0 cafebabe 00000001 00000002 bede 0001 10aa0000") + b"abc" + b"\0\0\x03"


def test_simple_packet_known_bytes() -> None:
    packet = RtpPacket.parse(SIMPLE)
    assert packet == RtpPacket(payload_type=0, sequence_number=0x1234, timestamp=0xDEADBEEF, ssrc=0x11223344,
                               payload=b"\xff" * 4, marker=True)
    assert packet.serialize() == SIMPLE


def test_csrc_extension_and_padding() -> None:
    packet = RtpPacket.parse(FULL)
    assert (packet.version, packet.payload_type, packet.marker) == (2, 8, False)
    assert (packet.sequence_number, packet.timestamp, packet.ssrc) == (1, 160, 0xCAFEBABE)
    assert packet.csrc == [1, 2]
    assert packet.extension_profile == 0xBEDE
    assert packet.extension_data == bytes.fromhex("10aa0000")
    assert packet.payload == b"abc"  # padding is not payload
    assert packet.padding == 3
    assert packet.serialize() == FULL


def test_empty_extension_and_payload() -> None:
    packet = RtpPacket(payload_type=101, sequence_number=7, timestamp=8, ssrc=9, extension_profile=0x1000)
    data = packet.serialize()
    assert data[0] == 0x90 and data[12:] == bytes.fromhex("1000 0000")
    assert RtpPacket.parse(data) == packet


@pytest.mark.parametrize(("data", "message"), [
    (SIMPLE[:11], "RTP packet of 11 bytes is shorter than the 12-byte fixed header"),
    (bytes([0x40]) + SIMPLE[1:], "RTP version 1 is not 2"),
    (bytes([0x00]) + SIMPLE[1:], "RTP version 0 is not 2"),
    (bytes([0x83]) + SIMPLE[1:12] + b"\0" * 8, "RTP packet has truncated CSRC list"),
    (bytes([0x90]) + SIMPLE[1:12] + b"\xbe\xde", "RTP packet has truncated header extension"),
    (bytes([0x90]) + SIMPLE[1:12] + bytes.fromhex("bede 0002 00000000"), "RTP packet has truncated header extension"),
    (bytes([0xA0]) + SIMPLE[1:12] + b"\x01\x00", "RTP padding count 0"),
    (bytes([0xA0]) + SIMPLE[1:12] + b"\x01\x09", "RTP padding count 9 does not fit"),
])
def test_malformed_packets(data: bytes, message: str) -> None:
    with pytest.raises(RtpParseError, match=message) as info:
        RtpPacket.parse(data)
    assert isinstance(info.value, SIPParseError)
    assert info.value.drop  # RTP has no error response


@pytest.mark.parametrize("field", ["payload_type", "sequence_number", "timestamp", "ssrc"])
def test_serialize_refuses_out_of_range_fields(field: str) -> None:
    packet = RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0)
    setattr(packet, field, -1)
    with pytest.raises(ValueError):
        packet.serialize()
    with pytest.raises(ValueError, match="at most 15 CSRCs"):
        RtpPacket(payload_type=0, sequence_number=0, timestamp=0, ssrc=0, csrc=list(range(16))).serialize()


def test_stream_wraps_sequence_and_timestamp() -> None:
    stream = RtpStream(ssrc=0x01020304, payload_type=0, sequence_number=65534, timestamp=0xFFFFFF00)
    packets = [stream.next_packet(b"\xff" * 160) for _ in range(3)]
    assert [p.sequence_number for p in packets] == [65534, 65535, 0]
    assert [p.timestamp for p in packets] == [0xFFFFFF00, 0xFFFFFFA0, 0x40]
    assert [p.marker for p in packets] == [True, False, False]  # RFC 3551: first packet of the talkspurt
    assert all(p.ssrc == 0x01020304 for p in packets)
    assert stream.next_packet(b"", samples=80, marker=True).marker
    assert stream.timestamp == 0x40 + 160 + 80


def test_seeded_stream_is_reproducible() -> None:
    a, b, c = RtpStream.seeded(7), RtpStream.seeded(7), RtpStream.seeded(8)
    assert (a.ssrc, a.sequence_number, a.timestamp) == (b.ssrc, b.sequence_number, b.timestamp)
    assert (a.ssrc, a.sequence_number, a.timestamp) != (c.ssrc, c.sequence_number, c.timestamp)
    assert a.next_packet(b"x").serialize() == b.next_packet(b"x").serialize()


# --- G.711 µ-law ---

@pytest.mark.parametrize(("linear", "ulaw"), [
    (0, 0xFF), (-1, 0x7F), (1, 0xFF), (32767, 0x80), (-32768, 0x00), (32124, 0x80), (-32124, 0x00),
    (8, 0xFE), (1000, 0xCE), (-1000, 0x4E),
])
def test_linear_to_ulaw_known_values(linear: int, ulaw: int) -> None:
    assert linear_to_ulaw(linear) == ulaw


@pytest.mark.parametrize(("ulaw", "linear"), [(0xFF, 0), (0x7F, 0), (0x80, 32124), (0x00, -32124),
                                              (0xFE, 8), (0xCE, 988), (0x4E, -988)])
def test_ulaw_to_linear_known_values(ulaw: int, linear: int) -> None:
    assert ulaw_to_linear(ulaw) == linear


def test_every_code_decodes_and_reencodes_to_itself() -> None:
    for byte in range(256):
        expected = 0xFF if byte == 0x7F else byte  # "negative zero" becomes zero
        assert linear_to_ulaw(ulaw_to_linear(byte)) == expected


def test_round_trip_error_is_within_half_a_quantization_step() -> None:
    for sample in range(-32635, 32636):
        error = abs(ulaw_to_linear(linear_to_ulaw(sample)) - sample)
        # segment e covers |x| + 132 in [2**(e+7), 2**(e+8)) with steps of 2**(e+3): half a step <= (|x|+132)/32
        assert error <= (abs(sample) + 132) / 32, sample


def test_codec_refuses_out_of_range_input() -> None:
    with pytest.raises(ValueError):
        linear_to_ulaw(32768)
    with pytest.raises(ValueError):
        ulaw_to_linear(256)


def test_bulk_codec_matches_single_sample_codec() -> None:
    samples = [-30000, -5, 0, 5, 30000]
    assert encode_pcmu(samples) == bytes(linear_to_ulaw(s) for s in samples)
    assert decode_pcmu(encode_pcmu(samples)) == [ulaw_to_linear(linear_to_ulaw(s)) for s in samples]


# --- tones ---

def test_tone_frame_is_deterministic() -> None:
    frame = pcmu_tone()
    assert len(frame) == 160
    assert frame[:8] == bytes.fromhex("ffa9a0a9ff292029")  # 1 kHz at 8 kHz: 8 samples a period
    assert frame == pcmu_tone(1000.0, 160, 0, 8000)
    peak = max(abs(s) for s in decode_pcmu(frame))
    assert 7500 <= peak <= 8500


def test_frames_are_phase_continuous() -> None:
    frames = list(pcmu_frames(440.0, count=3))
    assert b"".join(frames) == pcmu_tone(440.0, samples=480)
    endless = pcmu_frames(440.0)
    assert list(itertools.islice(endless, 3)) == frames


@pytest.mark.parametrize("freq", [300.0, 440.0, 1000.0, 1004.0, 2000.0])
def test_dominant_frequency_hears_the_tone(freq: float) -> None:
    for frame in pcmu_frames(freq, count=5):
        assert dominant_frequency(frame) == pytest.approx(freq, abs=1.0)


def test_dominant_frequency_near_the_top_of_the_band_and_on_quiet_tones() -> None:
    assert dominant_frequency(pcmu_tone(3400.0)) == pytest.approx(3400.0, rel=0.005)
    assert dominant_frequency(pcmu_tone(1000.0, amplitude=300)) == pytest.approx(1000.0, abs=2.0)


def test_dominant_frequency_of_silence_is_zero() -> None:
    assert dominant_frequency(b"\xff" * 160) == 0.0
    assert dominant_frequency(b"\xff\x7f" * 80) == 0.0
    assert dominant_frequency(b"") == 0.0


def test_tone_survives_an_rtp_round_trip() -> None:
    stream = RtpStream(ssrc=1, sequence_number=100, timestamp=1000)
    wire = [stream.next_packet(frame).serialize() for frame in pcmu_frames(1000.0, count=3)]
    received = [RtpPacket.parse(data) for data in wire]
    assert [p.timestamp for p in received] == [1000, 1160, 1320]
    assert struct.unpack("!H", wire[2][2:4])[0] == 102
    assert dominant_frequency(b"".join(p.payload for p in received)) == pytest.approx(1000.0, abs=1.0)
