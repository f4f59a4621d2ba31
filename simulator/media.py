"""One call's RTP for the simulated agents: our SDP (offer or answer), a PCMU tone to the address the
far end's SDP names, and every packet received; the first one is written to the record as it arrives.

SRTP (RFC 3711, SDES keys of RFC 4568): an agent set to offer it offers RTP/SAVP with one a=crypto line
of a fresh key; any agent answers an RTP/SAVP offer with a key of its own. Packets are then protected with
our line's key and unprotected with the far end's (:class:`sipcore.srtp.SrtpContext`). An answer of
RTP/AVP to our RTP/SAVP offer turns SRTP off for the call (a note in the record says so).

Directions (RFC 3264 §5.1, §6.1): our SDP says ``direction`` (sendrecv unless on hold), the far end's says
``remote_direction``; the tone goes out only while ours lets us send (sendrecv, sendonly) and theirs lets
them receive (sendrecv, recvonly). Held, the stream keeps its clock (the timestamp advances, nothing is
sent), so the resumed stream goes on with a timestamp jump and no sequence gap (RFC 3550 §5.1). DTMF
(:meth:`CallMedia.send_digits`) goes out as RFC 4733 telephone-events with the payload type the far end's
SDP gives ``telephone-event/8000``.
"""

from __future__ import annotations

import os
import random

from sipcore.aio.rtp import ReceivedRtp, RtpEndpoint, SentEvent
from sipcore.errors import SIPParseError
from sipcore.sdes import SAVP, CryptoAttribute, crypto_attributes, negotiated_crypto
from sipcore.sdp import SessionDescription, media_address
from sipcore.sdp_offer import make_answer, make_offer
from sipcore.srtp import SrtpContext, SrtpError
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


def _unkeyed(data: bytes) -> bytes:
    raise SrtpError(f"no a=crypto key to authenticate {len(data)} bytes with")


class CallMedia:
    """One call's RTP: our SDP, a PCMU tone sent to the far end's SDP address, every packet received."""

    def __init__(self, rtp: _RecordingRtp, record: Record, call_id: str, tone_hz: float,
                 sess_id: int, *, srtp: bool = False) -> None:
        self.rtp = rtp
        self.record = record
        self.call_id = call_id
        self.tone_hz = tone_hz
        self.sess_id = sess_id
        self.remote: Addr | None = None
        self.started_at: float | None = None
        self.local_sdp: bytes | None = None
        self.srtp = srtp  # offer RTP/SAVP
        self.offered: list[CryptoAttribute] = []  # our a=crypto lines, while our offer awaits its answer
        self.keys: tuple[CryptoAttribute | None, CryptoAttribute | None] | None = None  # (ours, theirs)
        self.version = 0  # our o= sess-version, bumped by every new description (RFC 3264 §8)
        self.direction = "sendrecv"  # what our latest SDP says
        self.remote_direction = "sendrecv"  # what the far end's latest SDP says
        self.event_payload_type: int | None = None  # telephone-event/8000 in the far end's SDP
        self.ignore_directions = False  # a far end that keeps sending while held (a broken one, on purpose)
        self._start_why: str | None = None  # start() was asked for (it waits for a remote and the directions)

    @classmethod
    async def open(cls, host: str, record: Record, call_id: str, tone_hz: float, *, srtp: bool = False) -> CallMedia:
        try:
            rtp = await _RecordingRtp.open(host, 0, clock=record.clock)
        except OSError as exc:
            raise SettingsError(f"RTP address {host} cannot be bound: {exc.strerror or exc}") from None
        assert isinstance(rtp, _RecordingRtp)
        rtp.record, rtp.call_id = record, call_id
        return cls(rtp, record, call_id, tone_hz, random.getrandbits(31), srtp=srtp)

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
        """Our offer saying ``direction`` (a re-offer gets the next sess-version): RTP/AVP, or RTP/SAVP with
        a fresh key when the agent offers SRTP."""
        self.offered = [CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", os.urandom(30))] if self.srtp else []
        self.local_sdp = make_offer(self.local_addr[0], self.local_addr[1], self.sess_id, crypto=self.offered,
                                    sess_version=self._next_version(), direction=direction).to_bytes()
        self.direction = direction
        return self.local_sdp

    def answer(self, offer: SessionDescription) -> bytes | None:
        """Our answer to ``offer`` (RTP/SAVP offers included, with a key of our own; the mirrored direction:
        recvonly to sendonly, inactive to inactive), or None when no stream is acceptable (answer 488)."""
        answer = make_answer(offer, self.local_addr[0], self.local_addr[1], self.sess_id, srtp_key=os.urandom,
                             sess_version=self._next_version())
        accepted = [(o, a) for o, a in zip(offer.media, answer.media, strict=True) if a.port]
        if not accepted:
            return None
        self.offered = []
        theirs, ours = accepted[0]
        if ours.proto == SAVP:
            pair = negotiated_crypto(crypto_attributes(theirs, skip_malformed=True), crypto_attributes(ours))
            assert pair is not None  # make_answer answered one of the offered lines
            self._key(ours=pair[1], theirs=pair[0])
        self.local_sdp = answer.to_bytes()
        self.direction = answer.media_direction(next(i for i, m in enumerate(answer.media) if m.port))
        return self.local_sdp

    @property
    def may_send(self) -> bool:
        """Whether the directions let our tone go out (module docstring), or we ignore them."""
        return self.ignore_directions or (self.direction in ("sendrecv", "sendonly")
                                           and self.remote_direction in ("sendrecv", "recvonly"))

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

    def _key(self, *, ours: CryptoAttribute | None, theirs: CryptoAttribute | None) -> None:
        """Send under ``ours`` and receive under ``theirs`` (None and None: cleartext RTP)."""
        if self.keys == (ours, theirs) or (self.keys is None and ours is None and theirs is None):
            return
        self.keys = None if ours is None and theirs is None else (ours, theirs)
        self.rtp.protect = SrtpContext(ours, outbound=True).protect if ours is not None else None
        self.rtp.unprotect = SrtpContext(theirs, outbound=False).unprotect if theirs is not None else None
        if ours is not None and theirs is not None:
            self.record.add("note", f"SRTP: sending under a=crypto tag {ours.tag} {ours.suite}, receiving under "
                            "the far end's", self.call_id)

    def _take_answer(self, sd: SessionDescription, what: str) -> None:
        """Our offer was RTP/SAVP: key the call with the answer's a=crypto line (or turn SRTP off)."""
        media = sd.media[0] if sd.media else None
        if media is None or media.proto != SAVP:
            self.record.add("note", f"{what} answers {media.proto if media else 'no stream'} to our RTP/SAVP "
                            "offer: media in clear", self.call_id)
            self._key(ours=None, theirs=None)
            return
        try:
            pair = negotiated_crypto(self.offered, crypto_attributes(media))
        except SIPParseError as exc:
            pair = None
            self.record.add("note", f"a=crypto of {what} is unusable: {exc}", self.call_id)
        if pair is None:
            self.record.add("note", f"{what} accepts no a=crypto line we offered: the far end's media cannot be "
                            "authenticated and is dropped", self.call_id)
            self._key(ours=self.offered[0], theirs=None)
            self.rtp.unprotect = _unkeyed
            return
        self._key(ours=pair[0], theirs=pair[1])

    def take_remote(self, body: bytes, what: str) -> Addr | None:
        """Read the far end's RTP address from an SDP body (a note in the record when it is unusable)."""
        try:
            sd = SessionDescription.parse(body)
            address = media_address(sd)
        except (SIPParseError, IndexError) as exc:
            self.record.add("note", f"SDP of {what} is unusable: {exc}", self.call_id)
            return None
        if self.offered:
            self._take_answer(sd, what)
        self.remote_direction = sd.media_direction(0)
        events = [pt for pt, enc in sd.media[0].rtpmap().items() if enc.lower() == f"{TELEPHONE_EVENT}/8000"]
        self.event_payload_type = int(events[0]) if events and events[0].isdigit() else None
        if address[1] != 0:
            self.remote = address
        self._apply()
        return address if address[1] != 0 else None

    def start(self, why: str) -> None:
        """Send the tone to the remote address (once it is known and the directions let us); later calls
        only re-target."""
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
