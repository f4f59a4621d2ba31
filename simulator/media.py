"""One call's RTP for the simulated agents: our SDP (offer or answer), a PCMU tone to the address the
far end's SDP names, and every packet received; the first one is written to the record as it arrives.
"""

from __future__ import annotations

import random

from sipcore.aio.rtp import ReceivedRtp, RtpEndpoint
from sipcore.errors import SIPParseError
from sipcore.sdp import SessionDescription, media_address
from sipcore.sdp_offer import make_answer, make_offer

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

    def offer(self) -> bytes:
        self.local_sdp = make_offer(self.local_addr[0], self.local_addr[1], self.sess_id).to_bytes()
        return self.local_sdp

    def answer(self, offer: SessionDescription) -> bytes | None:
        """Our answer to ``offer``, or None when no stream is acceptable (answer 488)."""
        answer = make_answer(offer, self.local_addr[0], self.local_addr[1], self.sess_id)
        if not any(m.port for m in answer.media):
            return None
        self.local_sdp = answer.to_bytes()
        return self.local_sdp

    def take_remote(self, body: bytes, what: str) -> Addr | None:
        """Read the far end's RTP address from an SDP body (a note in the record when it is unusable)."""
        try:
            address = media_address(SessionDescription.parse(body))
        except (SIPParseError, IndexError) as exc:
            self.record.add("note", f"SDP of {what} is unusable: {exc}", self.call_id)
            return None
        if address[1] == 0:
            return None
        if self.remote != address:
            self.remote = address
            if self.rtp.sending:
                self.rtp.set_remote(address)
        return address

    def start(self, why: str) -> None:
        """Send the tone to the remote address (once it is known); later calls only re-target."""
        if self.remote is None or self.rtp.sending:
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
