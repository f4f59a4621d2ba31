"""One call's RTP for the simulated agents: our SDP (offer or answer), a PCMU tone to the address the
far end's SDP names, and every packet received; the first one is written to the record as it arrives.

Directions (RFC 3264 §5.1, §6.1): our SDP says ``direction`` (sendrecv unless on hold), the far end's says
``remote_direction``; the tone goes out only while ours lets us send (sendrecv, sendonly) and theirs lets
them receive (sendrecv, recvonly). Held, the stream keeps its clock (the timestamp advances, nothing is
sent), so the resumed stream goes on with a timestamp jump and no sequence gap (RFC 3550 §5.1). DTMF
(:meth:`CallMedia.send_digits`) goes out as RFC 4733 telephone-events with the payload type the far end's
SDP gives ``telephone-event/8000``.
"""

from __future__ import annotations

import random

from sipcore.aio.rtp import ReceivedRtp, RtpEndpoint, SentEvent
from sipcore.errors import SIPParseError
from sipcore.sdp import SessionDescription, media_address
from sipcore.sdp_offer import make_answer, make_offer
from sipcore.telephone_event import TELEPHONE_EVENT

from .record import Record
from .settings import Addr, SettingsError

__all__ = ["CallMedia"]


class _RecordingRtp(RtpEndpoint):
    record: Record | None = None
    call_id: str | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        first = self.first_packet_at is None
        super().datagram_received(data, addr)
        if first and self.first_packet_at is not None and self.record is not None:
            p = self.received[0]
            self.record.add("rtp-first-packet", f"RTP from {p.src[0]}:{p.src[1]} PT {p.payload_type} "
                            f"SSRC {p.ssrc:#010x}", self.call_id, t=p.arrival, src=f"{p.src[0]}:{p.src[1]}",
                            payload_type=p.payload_type, ssrc=p.ssrc, sequence_number=p.sequence_number)


class CallMedia:
    """One call's RTP: our SDP, a PCMU tone sent to the far end's SDP address, every packet received."""

    def __init__(self, rtp: _RecordingRtp, record: Record, call_id: str, tone_hz: float,
                 sess_id: int) -> None:
        self.rtp = rtp
        self.record = record
        self.call_id = call_id
        self.tone_hz = tone_hz
        self.sess_id = sess_id
        self.remote: Addr | None = None
        self.started_at: float | None = None
        self.local_sdp: bytes | None = None
        self.version = 0  # our o= sess-version, bumped by every new description (RFC 3264 §8)
        self.direction = "sendrecv"  # what our latest SDP says
        self.remote_direction = "sendrecv"  # what the far end's latest SDP says
        self.event_payload_type: int | None = None  # telephone-event/8000 in the far end's SDP
        self.ignore_directions = False  # a far end that keeps sending while held (a broken one, on purpose)
        self._start_why: str | None = None  # start() was asked for (it waits for a remote and the directions)

    @classmethod
    async def open(cls, host: str, record: Record, call_id: str, tone_hz: float) -> CallMedia:
        try:
            rtp = await _RecordingRtp.open(host, 0, clock=record.clock)
        except OSError as exc:
            raise SettingsError(f"RTP address {host} cannot be bound: {exc.strerror or exc}") from None
        assert isinstance(rtp, _RecordingRtp)
        rtp.record, rtp.call_id = record, call_id
        return cls(rtp, record, call_id, tone_hz, random.getrandbits(31))

    @property
    def local_addr(self) -> Addr:
        return self.rtp.local_addr

    @property
    def received(self) -> list[ReceivedRtp]:
        return self.rtp.received

    @property
    def packets_sent(self) -> int:
        return self.rtp.packets_sent

    @property
    def events_sent(self) -> list[SentEvent]:
        return self.rtp.events_sent

    def _next_version(self) -> int:
        version = self.sess_id + self.version
        self.version += 1
        return version

    def offer(self, direction: str = "sendrecv") -> bytes:
        """A new offer (a re-offer gets the next sess-version) saying ``direction``."""
        self.local_sdp = make_offer(self.local_addr[0], self.local_addr[1], self.sess_id,
                                    sess_version=self._next_version(), direction=direction).to_bytes()
        self.direction = direction
        return self.local_sdp

    def answer(self, offer: SessionDescription) -> bytes | None:
        """Our answer to ``offer`` (the mirrored direction: recvonly to sendonly, inactive to inactive), or
        None when no stream is acceptable (answer 488). The directions apply at once."""
        answer = make_answer(offer, self.local_addr[0], self.local_addr[1], self.sess_id,
                             sess_version=self._next_version())
        if not any(m.port for m in answer.media):
            return None
        self.local_sdp = answer.to_bytes()
        self.direction = answer.media_direction(next(i for i, m in enumerate(answer.media) if m.port))
        return self.local_sdp

    @property
    def may_send(self) -> bool:
        """Whether the directions let our tone go out (module docstring), or we ignore them."""
        return self.ignore_directions or self.direction in ("sendrecv", "sendonly") and self.remote_direction in ("sendrecv", "recvonly")

    def _apply(self) -> None:
        """Point the stream at the remote while the directions let us send, else pause it (held)."""
        if not self.rtp.sending:
            if self._start_why is not None:
                self.start(self._start_why)
            return
        target = self.remote if self.may_send else None
        if target != self.rtp.remote:
            paused = target is None
            self.rtp.set_remote(target)
            self.record.add("rtp-paused" if paused else "rtp-resumed",
                            f"RTP {'paused' if paused else 'resumed'} (ours a={self.direction}, theirs "
                            f"a={self.remote_direction})", self.call_id)

    def send_digits(self, digits: str, duration_ms: int = 100, gap_ms: int = 100) -> str | None:
        """Queue RFC 4733 events for ``digits``; None, or why not (no telephone-event in the far end's
        SDP, no stream running)."""
        if self.event_payload_type is None:
            return "the far end's SDP offers no telephone-event/8000: no RFC 4733 digits sent"
        if not self.rtp.sending:
            return "no RTP stream running: no digits sent"
        self.rtp.send_digits(digits, payload_type=self.event_payload_type, duration_ms=duration_ms, gap_ms=gap_ms)
        self.record.add("dtmf", f"DTMF {digits!r} as RFC 4733 events, payload type {self.event_payload_type}",
                        self.call_id, digits=digits, payload_type=self.event_payload_type)
        return None

    def take_remote(self, body: bytes, what: str) -> Addr | None:
        """Read the far end's RTP address from an SDP body (a note in the record when it is unusable)."""
        try:
            sd = SessionDescription.parse(body)
            address = media_address(sd)
        except (SIPParseError, IndexError) as exc:
            self.record.add("note", f"SDP of {what} is unusable: {exc}", self.call_id)
            return None
        self.remote_direction = sd.media_direction(0)
        events = [pt for pt, enc in sd.media[0].rtpmap().items() if enc.lower() == f"{TELEPHONE_EVENT}/8000"]
        self.event_payload_type = int(events[0]) if events and events[0].isdigit() else None
        if address[1] == 0:
            self._apply()
            return None
        self.remote = address
        self._apply()
        return address

    def start(self, why: str) -> None:
        """Send the tone to the remote address (once it is known); later calls only re-target."""
        self._start_why = why
        if self.remote is None or self.rtp.sending or not self.may_send:
            return
        try:
            self.rtp.start_sending(self.remote, freq_hz=self.tone_hz)
        except RuntimeError:
            return
        self.started_at = self.record.clock.time()
        self.record.add("rtp-started", f"RTP {self.tone_hz:g} Hz PCMU to {self.remote[0]}:{self.remote[1]} ({why})",
                        self.call_id, t=self.started_at, local=f"{self.local_addr[0]}:{self.local_addr[1]}",
                        remote=f"{self.remote[0]}:{self.remote[1]}", tone_hz=self.tone_hz)

    def close(self) -> None:
        self.rtp.close()
