"""Assertions on DTMF sent as RFC 4733 telephone-events (features/dtmf.feature), read from the capture as
Wireshark's rtpevent dissector decodes it.

On each leg the digits cross (sender -> trunk, trunk -> receiver), the event packets are cut into events:
a new event starts at a packet with the marker bit, at a packet without the E bit after an ended event, or
at another event code. Then, per leg (:func:`check_dtmf`):

- the digits, in order, are the ones sent;
- every packet of an event has the event's RTP timestamp, its start (RFC 4733 §2.4.1), and the marker bit
  is set on the event's first packet and on no packet after one without it (§2.4.2: it marks the start;
  a sender may repeat the start packet);
- the duration never shrinks within an event; the event ends with packets carrying the E bit, all with
  the same (final) duration, and nothing without the E bit after them (§2.5.1.4 recommends three: the
  count is noted);
- events do not overlap: each starts at or after the previous one's start plus its duration;
- the payload type is the one the leg's receiver gave telephone-event/8000 in its SDP (RFC 3264 §5.1: a
  sender uses the receiver's numbers), which may differ between the legs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.capture.decode import DecodedMessage, DecodedRtp
from harness.capture.observation import Observation
from sipcore.telephone_event import dtmf_digit

__all__ = ["Event", "check_dtmf", "events_on_leg"]

TRUNK = "VoIPBin"


@dataclass
class Event:
    """The packets of one telephone-event on one leg, in capture order."""

    packets: list[DecodedRtp] = field(default_factory=list)

    @property
    def code(self) -> int:
        assert self.packets[0].event is not None
        return self.packets[0].event.event_id

    @property
    def ended(self) -> bool:
        return any(p.event is not None and p.event.end for p in self.packets)


def events_on_leg(obs: Observation, src: str, dst: str) -> list[Event]:
    """The telephone-events ``src`` -> ``dst``, cut as the module docstring says."""
    events: list[Event] = []
    for p in obs.rtp(src=src, dst=dst):
        if p.event is None:
            continue
        current = events[-1] if events else None
        new = (current is None or p.marker or p.event.event_id != current.code
               or (current.ended and not p.event.end))
        if new:
            events.append(Event([p]))
        else:
            assert current is not None
            current.packets.append(p)
    return events


def _receiver_payload_type(obs: Observation, src: str, dst: str, before: float) -> tuple[int, DecodedMessage]:
    """The telephone-event payload type in the last SDP ``dst`` sent ``src`` before ``before``."""
    sdps = [m for m in obs.select(src=dst, dst=src) if m.has_sdp and m.time <= before]
    for m in reversed(sdps):
        types = [pt for pt, encoding in m.sdp_rtpmap if encoding.lower().startswith("telephone-event/8000")]
        if types:
            return types[0], m
    raise AssertionError(f"the {dst}'s SDP to the {src} ({len(sdps)} SDP bodies) names no telephone-event/8000 "
                         "payload type: RFC 4733 events cannot be negotiated on that leg")


def _check_event(obs: Observation, leg: str, index: int, event: Event) -> str:
    """One event's rules (module docstring); a short description of it for the notes."""
    first = event.packets[0]
    digit = dtmf_digit(event.code)
    where = f"{leg}, event {index + 1} (digit {digit}, from frame {first.frame_no})"
    if not first.marker:
        raise AssertionError(f"{where}: its first packet has no marker bit; RFC 4733 §2.4.2 sets it on an "
                             "event's first packet")
    unmarked = False
    last_duration, end_duration = -1, None
    for p in event.packets:
        assert p.event is not None
        if p.timestamp != first.timestamp:
            raise AssertionError(f"{where}: frame {p.frame_no} has RTP timestamp {p.timestamp}, the event began "
                                 f"at {first.timestamp}: every packet of an event carries its start (§2.4.1)")
        if p.marker and unmarked:
            raise AssertionError(f"{where}: frame {p.frame_no} sets the marker bit in the middle of the event "
                                 "(§2.4.2: only its start is marked)")
        unmarked = unmarked or not p.marker
        if p.event.duration < last_duration:
            raise AssertionError(f"{where}: frame {p.frame_no} has duration {p.event.duration}, shorter than the "
                                 f"{last_duration} before it (the duration only grows, RFC 4733 §2.3.5)")
        last_duration = p.event.duration
        if end_duration is not None and (not p.event.end or p.event.duration != end_duration):
            raise AssertionError(f"{where}: frame {p.frame_no} (E={int(p.event.end)}, duration "
                                 f"{p.event.duration}) follows the end packet of duration {end_duration}: the "
                                 "copies of the final packet repeat it (§2.5.1.4)")
        if p.event.end and end_duration is None:
            end_duration = p.event.duration
    if end_duration is None:
        raise AssertionError(f"{where}: no packet with the E (end) bit: the event never ends (§2.5.1.4)")
    ends = sum(1 for p in event.packets if p.event is not None and p.event.end)
    return f"{digit} ({len(event.packets)} packets, {ends} with E, duration {end_duration})"


def check_dtmf(obs: Observation, *, sender: str, receiver: str, digits: str) -> list[str]:
    """The digits reach ``receiver`` as RFC 4733 events on both legs, each leg following the rules."""
    notes = []
    for src, dst in ((sender, TRUNK), (TRUNK, receiver)):
        leg = f"{src} -> {dst}"
        events = events_on_leg(obs, src, dst)
        if not events:
            types = sorted({p.payload_type for p in obs.rtp(src=src, dst=dst)})
            raise AssertionError(f"{leg}: no RTP packet decodes as a telephone-event (payload types seen: "
                                 f"{', '.join(map(str, types)) or 'no RTP at all'})")
        got = "".join(dtmf_digit(e.code) for e in events)
        if got != digits.upper():
            raise AssertionError(f"{leg}: the telephone-events carry the digits {got!r}; {digits!r} were sent")
        payload_type, sdp = _receiver_payload_type(obs, src, dst, events[0].packets[0].time)
        wrong = [p for e in events for p in e.packets if p.payload_type != payload_type]
        if wrong:
            raise AssertionError(f"{leg}: frame {wrong[0].frame_no} carries a telephone-event with payload type "
                                 f"{wrong[0].payload_type}; the {dst}'s SDP ({obs.where(sdp)}) gave "
                                 f"telephone-event/8000 the number {payload_type}")
        described = [_check_event(obs, leg, i, e) for i, e in enumerate(events)]
        for i in range(1, len(events)):
            before, after = events[i - 1].packets, events[i].packets[0]
            last = before[-1].event
            assert last is not None
            if (after.timestamp - before[0].timestamp) % 2**32 < last.duration:
                raise AssertionError(f"{leg}: event {i + 1} (frame {after.frame_no}) starts at timestamp "
                                     f"{after.timestamp}, inside event {i} (start {before[0].timestamp}, "
                                     f"duration {last.duration})")
        notes.append(f"DTMF {leg}: {got} as payload type {payload_type} ({dst}'s SDP, {obs.where(sdp)}): "
                     + ", ".join(described))
    return notes
