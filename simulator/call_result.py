"""What an outgoing call of the simulated UA is asked to do (:class:`CallOptions`) and how it went
(:class:`CallResult`); :mod:`simulator.uac` plays the call."""

from __future__ import annotations

from dataclasses import dataclass, field

from sipcore.aio.rtp import ReceivedRtp, SentEvent

from .record import RecordEvent
from .settings import Addr, MidCallStep

__all__ = ["CallOptions", "CallResult"]


@dataclass(frozen=True)
class CallOptions:
    to_uri: str
    request_uri: str
    target: Addr
    hold_ms: int
    alternates: tuple[Addr, ...] = ()
    """Where to send the INVITE next when ``target`` fails (RFC 3263 §4.3: no response, a transport
    error or a 503), in order."""
    cancel_after_ms: int | None = None
    cancel_on_ringing: bool = False
    expect_remote_bye: bool = False
    ring_timeout_ms: int = 60_000
    remote_bye_timeout_ms: int = 10_000
    extra_headers: tuple[tuple[str, str], ...] = ()
    midcall: tuple[MidCallStep, ...] = ()
    """Hold, Resume and SendDigits steps run in order once answered, before ``hold_ms`` counts."""


@dataclass
class CallResult:
    """How an outgoing call went. Times are on the agent's clock (as the record's); RTP arrivals on the
    event loop's (the same clock unless the agent was given another)."""

    call_id: str
    request_uri: str
    target: Addr
    """Where the call's requests went: the last target tried (RFC 3263 failover moves it)."""
    status: int | None = None
    """Final status of the (last) INVITE; None when none came."""
    reason: str | None = None
    reason_header: str | None = None
    """The Reason header of the final response (RFC 3326), e.g. ``Q.850;cause=1;text="..."``."""
    provisional: list[int] = field(default_factory=list)
    challenges: list[int] = field(default_factory=list)
    """401/407 statuses received, in order."""
    auth_retries: int = 0
    answered: bool = False
    cancelled: bool = False
    """The UA sent a CANCEL."""
    cancel_status: int | None = None
    timed_out: bool = False
    error: str | None = None
    ended_by: str | None = None
    """"local-bye" or "remote-bye" for an answered call."""
    bye_status: int | None = None
    invite_sent_at: float = 0.0
    first_provisional_at: float | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    rtp_started_at: float | None = None
    rtp_sent: int = 0
    rtp_packets: list[ReceivedRtp] = field(default_factory=list)
    remote_sdp: str | None = None
    failed_targets: list[tuple[Addr, str]] = field(default_factory=list)
    """Targets given up before ``target``, each with why (``503 Service Unavailable``, ``no response``)."""
    reinvites: list[tuple[str, int | None]] = field(default_factory=list)
    """Our re-INVITEs: (the direction offered, the final status)."""
    reinvites_answered: list[int] = field(default_factory=list)
    """The statuses we answered the far end's re-INVITEs with."""
    dtmf_sent: list[SentEvent] = field(default_factory=list)
    min_se: list[int] = field(default_factory=list)
    """The Min-SE of each 422 answered with a larger interval (RFC 4028 §7.4)."""
    session_expires: str | None = None
    """The 2xx's Session-Expires (RFC 4028), as written."""
    refreshes: list[int] = field(default_factory=list)
    """The final status of each session refresh the UA sent."""
    refreshes_received: int = 0
    prack_statuses: list[int] = field(default_factory=list)
    """The final status of each PRACK the UA sent (RFC 3262)."""
    events: list[RecordEvent] = field(default_factory=list, repr=False)

    @property
    def rtp_received(self) -> int:
        return len(self.rtp_packets)

    @property
    def first_rtp_at(self) -> float | None:
        return self.rtp_packets[0].arrival if self.rtp_packets else None

    @property
    def early_media_packets(self) -> int:
        """RTP packets that arrived before the 2xx (all of them for an unanswered call)."""
        if self.answered_at is None:
            return len(self.rtp_packets)
        return sum(1 for p in self.rtp_packets if p.arrival < self.answered_at)

    @property
    def setup_ms(self) -> float | None:
        """INVITE to 2xx (including any 407 round trip), in milliseconds."""
        return None if self.answered_at is None else (self.answered_at - self.invite_sent_at) * 1000
