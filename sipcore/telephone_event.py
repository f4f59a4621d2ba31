"""RFC 4733 telephone-events (DTMF digits in RTP): the 4-byte payload and the packets of one event. Sans-IO.

A digit is one *event*. Its packets share one RTP timestamp, the event's start (§2.4.1); the first
carries the marker bit, which says a new event begins (§2.4.2); each update carries the duration so far,
in timestamp units, growing by one packet time; the final packet has the E (end) bit and the event's whole
duration and is sent three times in all (§2.5.1.4). Every packet, the copies of the final one too, takes
the next RTP sequence number (§2.5.1.6).

    payload = TelephoneEvent(event=5, end=False, volume=10, duration=160).to_bytes()
    TelephoneEvent.parse(payload)                 # TelephoneEventError when it is not 4 bytes
    event_plan(duration=800, step=160)            # (end, duration) of each packet of one event
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import SIPParseError

__all__ = ["DTMF_EVENTS", "TELEPHONE_EVENT", "TelephoneEvent", "TelephoneEventError", "dtmf_digit", "dtmf_event",
           "event_plan"]

TELEPHONE_EVENT = "telephone-event"  # the encoding name in a=rtpmap (RFC 4733 §7.1.1)
DTMF_EVENTS = "0123456789*#ABCD"
"""RFC 4733 §3.2 Table 1: event codes 0-15 are the DTMF digits in this order (10 = *, 11 = #)."""
END_PACKETS = 3  # the final packet is sent three times in all (§2.5.1.4)
_PAYLOAD = struct.Struct("!BBH")


class TelephoneEventError(SIPParseError):
    """A telephone-event payload that cannot be read. Like any bad RTP it is dropped, not answered."""

    def __init__(self, message: str) -> None:
        super().__init__(message, drop=True)


def dtmf_event(digit: str) -> int:
    """The event code of a DTMF digit ("0"-"9", "*", "#", "A"-"D"); ValueError for anything else."""
    code = DTMF_EVENTS.find(digit.upper()) if len(digit) == 1 else -1
    if code < 0:
        raise ValueError(f"{digit!r} is not a DTMF digit (use 0-9, *, #, A-D)")
    return code


def dtmf_digit(event: int) -> str:
    """The DTMF digit of an event code 0-15; "?" (with the code) for other events (tones, RFC 4734)."""
    return DTMF_EVENTS[event] if 0 <= event < len(DTMF_EVENTS) else f"?{event}"


@dataclass(frozen=True)
class TelephoneEvent:
    """The payload of one telephone-event packet (RFC 4733 §2.3): event code, E bit, R bit, volume (0..63,
    -dBm0) and duration (timestamp units since the event's start)."""

    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0
    reserved: bool = False

    def to_bytes(self) -> bytes:
        if not 0 <= self.event <= 255:
            raise ValueError(f"telephone-event code {self.event} is outside 0..255")
        if not 0 <= self.volume <= 63:
            raise ValueError(f"telephone-event volume {self.volume} is outside 0..63")
        if not 0 <= self.duration <= 0xFFFF:
            raise ValueError(f"telephone-event duration {self.duration} is outside 0..65535")
        flags = (0x80 if self.end else 0) | (0x40 if self.reserved else 0) | self.volume
        return _PAYLOAD.pack(self.event, flags, self.duration)

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        """The first event of ``payload`` (RFC 4733 allows several only in redundancy, RFC 2198)."""
        if len(payload) < _PAYLOAD.size:
            raise TelephoneEventError(f"telephone-event payload of {len(payload)} bytes is shorter than 4")
        event, flags, duration = _PAYLOAD.unpack_from(payload)
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration,
                   reserved=bool(flags & 0x40))


def event_plan(duration: int, step: int) -> list[tuple[bool, int]]:
    """(end, duration) of every packet of one event lasting ``duration`` timestamp units, one packet per
    ``step`` units: updates (E bit clear) with durations step, 2*step ... below ``duration``, then the final
    packet three times (E bit set, the whole duration). 800 units at 160 a packet: 160, 320, 480, 640, then
    800 three times. An event no longer than a step is the final packet alone."""
    if step <= 0 or duration <= 0:
        raise ValueError(f"an event needs a positive duration and packet step, got {duration} and {step}")
    if duration > 0xFFFF:
        raise ValueError(f"event duration {duration} does not fit 16 bits: segment longer events (§2.5.1.3)")
    updates = [min(d, duration) for d in range(step, duration + step, step)]
    if updates[-1] != duration:
        updates.append(duration)
    return [(False, d) for d in updates[:-1]] + [(True, duration)] * END_PACKETS
