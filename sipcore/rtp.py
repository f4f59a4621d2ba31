"""RTP packets (RFC 3550 §5.1), G.711 µ-law (PCMU, payload type 0) and a test-tone toolkit. Sans-IO.

A sender builds packets with :class:`RtpStream`; a receiver parses them with :meth:`RtpPacket.parse` and
checks it hears the far end's tone with :func:`dominant_frequency`.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sipcore.errors import SIPParseError

PCMU = 0
SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz (RFC 3551 §4.5: default packetization of G.711)
_FIXED_HEADER = struct.Struct("!BBHII")


class RtpParseError(SIPParseError):
    """A datagram that is not a well-formed RTP packet. RTP has no error response: it is dropped."""

    def __init__(self, message: str) -> None:
        super().__init__(message, drop=True)


@dataclass
class RtpPacket:
    """An RTP packet (RFC 3550 §5.1).

    ``padding`` is the number of padding octets at the end (the last one holds the count); 0 means the P bit
    is clear. ``extension_profile`` is None when there is no header extension (X bit clear), else the
    16-bit "defined by profile" field, with ``extension_data`` its body (a multiple of 4 octets).
    """

    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: list[int] = field(default_factory=list)
    extension_profile: int | None = None
    extension_data: bytes = b""
    padding: int = 0
    version: int = 2

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Parse one datagram; raises :class:`RtpParseError` saying what is wrong."""
        if len(data) < _FIXED_HEADER.size:
            raise RtpParseError(f"RTP packet of {len(data)} bytes is shorter than the 12-byte fixed header")
        b0, b1, seq, ts, ssrc = _FIXED_HEADER.unpack_from(data)
        version = b0 >> 6
        if version != 2:
            raise RtpParseError(f"RTP version {version} is not 2")
        cc = b0 & 0x0F
        offset = _FIXED_HEADER.size
        if len(data) < offset + 4 * cc:
            raise RtpParseError(f"RTP packet has truncated CSRC list: CC={cc} needs {offset + 4 * cc} bytes, "
                                f"got {len(data)}")
        csrc = list(struct.unpack_from(f"!{cc}I", data, offset))
        offset += 4 * cc
        ext_profile: int | None = None
        ext_data = b""
        if b0 & 0x10:
            if len(data) < offset + 4:
                raise RtpParseError("RTP packet has truncated header extension: no room for its 4-byte header")
            ext_profile, words = struct.unpack_from("!HH", data, offset)
            offset += 4
            if len(data) < offset + 4 * words:
                raise RtpParseError(f"RTP packet has truncated header extension: length {words} words needs "
                                    f"{offset + 4 * words} bytes, got {len(data)}")
            ext_data = bytes(data[offset:offset + 4 * words])
            offset += 4 * words
        end = len(data)
        padding = 0
        if b0 & 0x20:
            padding = data[-1]
            if padding == 0 or padding > end - offset:
                raise RtpParseError(f"RTP padding count {padding} does not fit the {end - offset} bytes "
                                    "after the header")
            end -= padding
        return cls(payload_type=b1 & 0x7F, sequence_number=seq, timestamp=ts, ssrc=ssrc,
                   payload=bytes(data[offset:end]), marker=bool(b1 & 0x80), csrc=csrc,
                   extension_profile=ext_profile, extension_data=ext_data, padding=padding, version=version)

    def serialize(self) -> bytes:
        """The packet on the wire. Raises ValueError for a field out of range."""
        _check_range("payload type", self.payload_type, 0x7F)
        _check_range("sequence number", self.sequence_number, 0xFFFF)
        _check_range("timestamp", self.timestamp, 0xFFFFFFFF)
        _check_range("SSRC", self.ssrc, 0xFFFFFFFF)
        _check_range("padding", self.padding, 0xFF)
        _check_range("version", self.version, 3)
        if len(self.csrc) > 15:
            raise ValueError(f"RTP allows at most 15 CSRCs, got {len(self.csrc)}")
        for c in self.csrc:
            _check_range("CSRC", c, 0xFFFFFFFF)
        b0 = (self.version << 6) | (0x20 if self.padding else 0) | len(self.csrc)
        out = bytearray()
        ext = b""
        if self.extension_profile is not None:
            _check_range("extension profile", self.extension_profile, 0xFFFF)
            if len(self.extension_data) % 4 or len(self.extension_data) > 4 * 0xFFFF:
                raise ValueError(f"RTP extension data of {len(self.extension_data)} bytes is not whole words")
            b0 |= 0x10
            ext = struct.pack("!HH", self.extension_profile, len(self.extension_data) // 4) + self.extension_data
        out += _FIXED_HEADER.pack(b0, (0x80 if self.marker else 0) | self.payload_type,
                                  self.sequence_number, self.timestamp, self.ssrc)
        out += struct.pack(f"!{len(self.csrc)}I", *self.csrc)
        out += ext + self.payload
        if self.padding:
            out += bytes(self.padding - 1) + bytes([self.padding])
        return bytes(out)


def _check_range(what: str, value: int, top: int) -> None:
    if not 0 <= value <= top:
        raise ValueError(f"RTP {what} {value} is outside 0..{top}")


@dataclass
class RtpStream:
    """Sans-IO sender state for one SSRC: hands out consecutive packets.

    Every packet advances the sequence number by 1 (mod 2**16) and the timestamp by the packet's samples
    (mod 2**32). The first packet carries the marker bit when ``mark_first`` (RFC 3551 §4.1: first packet
    of a talkspurt).
    """

    ssrc: int
    payload_type: int = PCMU
    sequence_number: int = 0
    timestamp: int = 0
    samples_per_packet: int = FRAME_SAMPLES
    mark_first: bool = True
    packets_sent: int = 0

    @classmethod
    def seeded(cls, seed: int, payload_type: int = PCMU, samples_per_packet: int = FRAME_SAMPLES) -> RtpStream:
        """Random SSRC, initial sequence number and timestamp (RFC 3550 §5.1), reproducible from ``seed``."""
        rng = random.Random(seed)
        return cls(ssrc=rng.getrandbits(32), payload_type=payload_type,
                   sequence_number=rng.getrandbits(16), timestamp=rng.getrandbits(32),
                   samples_per_packet=samples_per_packet)

    def next_packet(self, payload: bytes, *, samples: int | None = None, marker: bool = False) -> RtpPacket:
        """The next packet carrying ``payload`` (``samples`` long, default ``samples_per_packet``)."""
        packet = RtpPacket(payload_type=self.payload_type, sequence_number=self.sequence_number,
                           timestamp=self.timestamp, ssrc=self.ssrc, payload=payload,
                           marker=marker or (self.mark_first and self.packets_sent == 0))
        step = self.samples_per_packet if samples is None else samples
        self.sequence_number = (self.sequence_number + 1) & 0xFFFF
        self.timestamp = (self.timestamp + step) & 0xFFFFFFFF
        self.packets_sent += 1
        return packet


# --- G.711 µ-law (ITU-T G.711 §A.2; the classic BIAS/CLIP integer formulation) ---

_BIAS = 0x84
_CLIP = 32635


def _encode_magnitude(mag: int) -> int:
    """Segment and mantissa of a clipped magnitude, before the sign and the final inversion."""
    biased = min(mag, _CLIP) + _BIAS
    exponent = biased.bit_length() - 8  # biased >= 0x84, so bit_length >= 8
    mantissa = (biased >> (exponent + 3)) & 0x0F
    return (exponent << 4) | mantissa


# The low 2 bits of the magnitude never reach the mantissa (the shift is at least 3 and adding the bias
# cannot carry out of them), so the table is indexed by magnitude >> 2.
_MAGNITUDE_TABLE = bytes(_encode_magnitude(m << 2) for m in range((_CLIP >> 2) + 1))


def _decode(byte: int) -> int:
    u = ~byte & 0xFF
    t = (((u & 0x0F) << 3) + _BIAS) << ((u & 0x70) >> 4)
    return _BIAS - t if u & 0x80 else t - _BIAS


_ULAW_TABLE: tuple[int, ...] = tuple(_decode(b) for b in range(256))


def linear_to_ulaw(sample: int) -> int:
    """Encode one 16-bit linear sample as a µ-law byte (0 -> 0xFF, 32767 -> 0x80, -32768 -> 0x00)."""
    if not -32768 <= sample <= 32767:
        raise ValueError(f"linear sample {sample} is outside 16 bits")
    if sample < 0:
        return _MAGNITUDE_TABLE[min(-sample, _CLIP) >> 2] ^ 0x7F
    return _MAGNITUDE_TABLE[min(sample, _CLIP) >> 2] ^ 0xFF


def ulaw_to_linear(byte: int) -> int:
    """Decode one µ-law byte to a 16-bit linear sample (0xFF -> 0, 0x80 -> 32124, 0x00 -> -32124)."""
    if not 0 <= byte <= 0xFF:
        raise ValueError(f"µ-law byte {byte} is outside 0..255")
    return _ULAW_TABLE[byte]


def encode_pcmu(samples: Iterable[int]) -> bytes:
    """Encode linear samples as a PCMU payload."""
    return bytes(linear_to_ulaw(s) for s in samples)


def decode_pcmu(payload: bytes) -> list[int]:
    """Decode a PCMU payload to linear samples."""
    return [_ULAW_TABLE[b] for b in payload]


# --- test tones ---

def pcmu_tone(freq_hz: float = 1000.0, samples: int = FRAME_SAMPLES, start_sample: int = 0,
              amplitude: int = 8000, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A PCMU frame of a sine tone; ``start_sample`` keeps the phase continuous across frames."""
    if not 0 <= amplitude <= 32767:
        raise ValueError(f"tone amplitude {amplitude} is outside 0..32767")
    step = 2.0 * math.pi * freq_hz / sample_rate
    return encode_pcmu(round(amplitude * math.sin(step * (start_sample + n))) for n in range(samples))


def pcmu_frames(freq_hz: float = 1000.0, count: int | None = None, samples: int = FRAME_SAMPLES,
                amplitude: int = 8000, sample_rate: int = SAMPLE_RATE) -> Iterator[bytes]:
    """Consecutive tone frames (20 ms each by default), ``count`` of them or forever when None."""
    index = 0
    while count is None or index < count:
        yield pcmu_tone(freq_hz, samples, index * samples, amplitude, sample_rate)
        index += 1


def dominant_frequency(payload: bytes, sample_rate: int = SAMPLE_RATE) -> float:
    """Estimate the frequency of the tone in a PCMU payload, in Hz; 0.0 for silence.

    Counts zero crossings of the DC-free signal, interpolating each crossing between its two samples, and
    divides the half-periods between the first and last crossing by the time they span. For a single tone
    over a 20 ms frame it is within 1 Hz up to 2 kHz and within 0.3 % up to 3.4 kHz; not meant for chords
    or noise.
    """
    signal = decode_pcmu(payload)
    if len(signal) < 3:
        return 0.0
    mean = sum(signal) / len(signal)
    centred = [s - mean for s in signal]
    crossings: list[float] = []
    for i in range(1, len(centred)):
        a, b = centred[i - 1], centred[i]
        if (a < 0 <= b) or (a >= 0 > b):
            crossings.append(i - 1 + a / (a - b))
    if len(crossings) < 2 or crossings[-1] == crossings[0]:
        return 0.0
    half_periods = len(crossings) - 1
    return half_periods * sample_rate / (2.0 * (crossings[-1] - crossings[0]))
