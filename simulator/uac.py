"""One outgoing call of the simulated UA: INVITE with SDP, digest retry, early media, CANCEL, ACK, BYE.

Responses are handled in the transaction handler as they arrive where the protocol needs it at once
(the ACK for a 2xx and its retransmissions; a late 2xx after the UA gave up gets ACK and BYE), and in
the call coroutine for everything else. Every wait is bounded: the ring timeout, 64*T1 after a CANCEL
(RFC 3261 §9.1), Timer B without any response, the hold time or the remote-BYE timeout, 64*T1 for the
BYE. A timeout ends the call with ``timed_out`` and an ``error`` that says what did not come.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sipcore.aio.rtp import ReceivedRtp, SentEvent
from sipcore.builders import make_cancel, new_request, with_new_branch
from sipcore.dialog import Dialog, DialogState
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response
from sipcore.transaction import Event, RequestReceived, ResponseReceived, TransactionTimeout
from sipcore.transport_address import bracketed

from .agent import Agent, wait_any
from .auth import ChallengeAnswerer, credential_headers
from .media import CallMedia
from .midcall import MidCall
from .record import RecordEvent
from .settings import Addr, MidCallStep, UaSettings

__all__ = ["CallOptions", "CallResult", "OutgoingCall"]


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


class OutgoingCall:
    def __init__(self, agent: Agent, settings: UaSettings, options: CallOptions) -> None:
        self.agent = agent
        self.settings = settings
        self.options = options
        ids = agent.ids
        self.call_id = ids.call_id(settings.listen[0])
        self.from_tag = ids.tag()
        self.result = CallResult(self.call_id, options.request_uri, options.target)
        self.target = options.target
        self.alternates = list(options.alternates)
        self.auth = ChallengeAnswerer(settings, ids)
        self.queue: asyncio.Queue[tuple[str, int, Any]] = asyncio.Queue()
        self.invite: Request | None = None
        self.serial = 0
        self.dialog: Dialog | None = None
        self.ack: Request | None = None
        self.media: CallMedia | None = None
        self.midcall: MidCall | None = None
        self.cancel_requested = False
        self.cancel_sent_at: float | None = None
        self.finished = False
        self._remote_bye = asyncio.Event()

    # -- entry point ----------------------------------------------------------------------------------
    async def run(self) -> CallResult:
        agent, result = self.agent, self.result
        agent.add_dialog_user(self.call_id, self.from_tag, self)
        try:
            self.media = await CallMedia.open(self.settings.media_host, agent.record, self.call_id,
                                              self.settings.tone_hz, srtp=self.settings.srtp)
            self.midcall = MidCall(agent, self.media, self.call_id, agent.contact(self.settings.username),
                                   lambda: self.dialog, lambda: self.target, owns_call_id=True)
            self._send_invite(self._first_invite())
            result.invite_sent_at = agent.clock.time()
            await self._until_final()
            if result.answered:
                await self._talk()
        finally:
            self.finished = True
            if self.media is not None:
                self.media.close()
                result.rtp_sent = self.media.packets_sent
                result.rtp_packets = list(self.media.received)
                result.rtp_started_at = self.media.started_at
                result.dtmf_sent = list(self.media.events_sent)
            if self.midcall is not None:
                result.reinvites = [(r.direction, r.status) for r in self.midcall.sent]
                result.reinvites_answered = list(self.midcall.answered)
            result.ended_at = agent.clock.time()
            agent.remove_dialog_user(self.call_id, self.from_tag)
            result.events = agent.record.for_call(self.call_id)
        return result

    def _first_invite(self) -> Request:
        s, ep, ids = self.settings, self.agent.ep, self.agent.ids
        assert self.media is not None
        return new_request(
            "INVITE", self.options.request_uri, from_uri=s.local_uri, to_uri=self.options.to_uri,
            local_addr=ep.local_addr, transport=ep.transport_name, from_display=s.display_name,
            from_tag=self.from_tag, call_id=self.call_id, cseq=1, branch=ids.branch(),
            contact=self.agent.contact(s.username), extra_headers=self.options.extra_headers,
            body=self.media.offer(), content_type="application/sdp", user_agent=s.user_agent)

    def _send_invite(self, invite: Request) -> None:
        self.invite = invite
        self.serial += 1
        serial = self.serial
        self.agent.ep.send_request(invite, self.target, lambda event: self._on_invite_event(serial, event))

    def _on_invite_event(self, serial: int, event: Event) -> None:
        if isinstance(event, ResponseReceived) and 200 <= event.response.status < 300:
            self._on_2xx(event.response)
        self.queue.put_nowait(("invite", serial, event))

    # -- waiting for the final response ---------------------------------------------------------------
    async def _until_final(self) -> None:
        clock = self.agent.clock
        result, options = self.result, self.options
        ring_deadline = result.invite_sent_at + options.ring_timeout_ms / 1000
        cancel_at = (None if options.cancel_after_ms is None
                     else result.invite_sent_at + options.cancel_after_ms / 1000)
        ring_expired = False
        while True:
            final_deadline = None if self.cancel_sent_at is None else self.cancel_sent_at + 64 * self.agent.timers.t1
            wakes = [t for t in (None if ring_expired else ring_deadline,
                                 None if self.cancel_requested else cancel_at, final_deadline) if t is not None]
            wake = min(wakes) if wakes else clock.time() + self.agent.transaction_bound
            try:
                kind, serial, event = await clock.wait_for(self.queue.get(), max(0.0, wake - clock.time()))
            except TimeoutError:
                now = clock.time()
                if not wakes:  # defensive: nothing left to wait for but the transaction's own bound
                    self._timeout(f"no final response to the INVITE within {self.agent.transaction_bound:g} s")
                    return
                if final_deadline is not None and now >= final_deadline:
                    self._timeout(f"the INVITE got no final response within {64 * self.agent.timers.t1:g} s "
                                  f"of the CANCEL (CANCEL answered {result.cancel_status or 'nothing'})")
                    return
                if cancel_at is not None and now >= cancel_at and not self.cancel_requested:
                    self._request_cancel(f"cancel_after_ms={options.cancel_after_ms}")
                if not ring_expired and now >= ring_deadline:
                    ring_expired = True
                    what = "no answer" if result.provisional else "no response"
                    self._timeout(f"{what} to the INVITE within the ring timeout "
                                  f"({options.ring_timeout_ms / 1000:g} s)")
                    if not result.provisional:
                        return  # nothing to CANCEL (RFC 3261 §9.1): give up
                    self._request_cancel("ring timeout")
                continue
            if kind == "cancel":
                if isinstance(event, ResponseReceived) and event.response.status >= 200:
                    result.cancel_status = event.response.status
                continue
            if kind != "invite" or serial != self.serial:
                continue
            if isinstance(event, TransactionTimeout):
                why = f"no response within {self.agent.timers.timer_b:g} s (Timer {event.timer})"
                if self._try_next(why):
                    continue
                self._timeout(f"no response to the INVITE from {bracketed(self.target[0])}:{self.target[1]} "
                              f"within {self.agent.timers.timer_b:g} s (Timer {event.timer})")
                return
            if isinstance(event, ResponseReceived):
                response = event.response
                if response.status == 503 and self._try_next(f"503 {response.reason}"):
                    continue
                if self._on_response(response):
                    return

    def _try_next(self, why: str) -> bool:
        """RFC 3263 §4.3 (and RFC 3261 §21.5.4 for a 503): the INVITE again, as a new transaction with the
        same CSeq, to the next target; False when there is none or the call is being cancelled."""
        if not self.alternates or self.cancel_requested or self.result.answered:
            return False
        assert self.invite is not None
        failed, self.target = self.target, self.alternates.pop(0)
        self.result.failed_targets.append((failed, why))
        self.result.target = self.target
        self.agent.record.add("note", f"INVITE to {bracketed(failed[0])}:{failed[1]} failed ({why}): trying the "
                              f"next target {bracketed(self.target[0])}:{self.target[1]} (RFC 3263 §4.3)",
                              self.call_id)
        self._send_invite(with_new_branch(self.invite, self.agent.ids.branch()))
        return True

    def _on_response(self, response: Response) -> bool:
        """Handle a response to the current INVITE; True when it is the final one."""
        result = self.result
        status = response.status
        assert self.media is not None and self.invite is not None
        if status < 200:
            result.provisional.append(status)
            if result.first_provisional_at is None:
                result.first_provisional_at = self.agent.clock.time()
            if response.body and self.media.take_remote(response.body, f"the {status}"):
                result.remote_sdp = response.body.decode("utf-8", "replace")
                if self.settings.send_early_media and status > 100:
                    self.media.start(f"early media, {status}")
            if self.options.cancel_on_ringing and status in (180, 183):
                self._request_cancel(f"cancel_on_ringing ({status})")
            if self.cancel_requested and self.cancel_sent_at is None:
                self._send_cancel()  # requested before this first provisional (RFC 3261 §9.1)
            return False
        if status < 300:
            if not result.answered:  # _on_2xx could not make a dialog of it
                result.status, result.reason = status, response.reason
                result.error = f"{status} without a usable To tag: no dialog, nothing to ACK"
            return True  # else _on_2xx did the work as it arrived
        if status in (401, 407) and self.cancel_sent_at is None:
            result.challenges.append(status)
            retry, note = self.auth.retry(self.invite, response)
            self.agent.record.add("note", note, self.call_id)
            if retry is not None:
                result.auth_retries = self.auth.retries
                self._send_invite(retry)
                return False
            result.error = note
        result.status, result.reason = status, response.reason
        result.reason_header = response.headers.get("Reason")
        return True

    def _on_2xx(self, response: Response) -> None:
        """ACK a 2xx end to end at once (again for each retransmission); a 2xx after the UA has given up
        (or after its CANCEL) is ACKed and the call hung up."""
        ep = self.agent.ep
        if self.ack is not None:  # a retransmission (a 2xx of another fork is not ACKed here)
            if self.dialog is not None and response.to.tag == self.dialog.remote_tag:
                ep.send_stateless(self.ack, self.target)
            return
        assert self.invite is not None
        try:
            self.dialog = Dialog.from_uac(self.invite, response)
        except (ProtocolError, SIPParseError) as exc:
            self.agent.record.add("note", f"2xx creates no dialog: {exc}", self.call_id)
            return
        self.ack = self.dialog.create_ack(self.invite.cseq.seq, self.agent.ids.branch(), ep.local_addr,
                                          transport=ep.transport_name, extra_headers=credential_headers(self.invite))
        ep.send_stateless(self.ack, self.target)
        result = self.result
        result.answered = True
        result.answered_at = self.agent.clock.time()
        result.status, result.reason = response.status, response.reason
        result.reason_header = response.headers.get("Reason")
        if response.body and self.media is not None and self.media.take_remote(response.body, "the 2xx"):
            result.remote_sdp = response.body.decode("utf-8", "replace")
        if self.finished:
            self.agent.record.add("note", "2xx after the call was given up: ACK and BYE", self.call_id)
            self.agent.spawn(self._hang_up())

    def _timeout(self, message: str) -> None:
        self.result.timed_out = True
        self.result.error = message
        self.agent.record.add("timeout", message, self.call_id)

    # -- CANCEL ---------------------------------------------------------------------------------------
    def _request_cancel(self, why: str) -> None:
        if self.cancel_requested or self.result.answered:
            return
        self.cancel_requested = True
        self.agent.record.add("note", f"cancelling ({why})", self.call_id)
        if self.result.provisional:
            self._send_cancel()
        # else: RFC 3261 §9.1, no CANCEL before a provisional response; sent when one comes

    def _send_cancel(self) -> None:
        assert self.invite is not None
        self.result.cancelled = True
        self.cancel_sent_at = self.agent.clock.time()
        self.agent.ep.send_request(make_cancel(self.invite), self.target,
                                   lambda event: self.queue.put_nowait(("cancel", 0, event)))

    # -- the answered call ----------------------------------------------------------------------------
    async def _talk(self) -> None:
        assert self.media is not None
        self.media.start("answer, 2xx")
        options = self.options
        midcall = self.midcall if options.midcall and not self.cancel_requested else None
        if midcall is not None and not await midcall.play(options.midcall, self._remote_bye):
            return
        if self.cancel_requested:
            self.agent.record.add("note", "answered although cancelled: hanging up", self.call_id)
        elif options.expect_remote_bye:
            if await wait_any([self._remote_bye], options.remote_bye_timeout_ms / 1000, self.agent.clock):
                return
            self._timeout(f"expected the far end to hang up within {options.remote_bye_timeout_ms / 1000:g} s; "
                          "it did not")
        elif await wait_any([self._remote_bye], options.hold_ms / 1000, self.agent.clock):
            return
        await self._hang_up()

    async def _hang_up(self) -> None:
        dialog = self.dialog
        if dialog is None or dialog.state is not DialogState.CONFIRMED:
            return
        ep = self.agent.ep
        bye = dialog.create_bye(branch=self.agent.ids.branch(), local_addr=ep.local_addr,
                                transport=ep.transport_name)
        self.result.ended_by = "local-bye"
        try:
            response = await ep.request(bye, self.target, timeout=self.agent.transaction_bound)
        except TimeoutError as exc:
            self.agent.record.add("timeout", f"BYE: {exc or 'no final response'}", self.call_id)
            self.result.error = self.result.error or f"BYE got no final response: {exc}"
        else:
            self.result.bye_status = response.status
        finally:
            self.agent.remove_dialog_user(self.call_id, self.from_tag)

    # -- requests from the far end (CallUser) ---------------------------------------------------------
    def on_in_dialog(self, event: RequestReceived) -> None:
        request = event.request
        if request.method == "ACK":
            if self.midcall is not None:
                self.midcall.on_ack(request)
            return
        if self.dialog is None:
            self.agent.respond(request, 481)
            return
        status = self.dialog.receive_request(request)
        if status is not None:
            self.agent.respond(request, status)
            return
        if request.method == "BYE":
            self.agent.respond(request, 200)
            self.result.ended_by = "remote-bye"
            self._remote_bye.set()
            if self.finished:
                self.agent.remove_dialog_user(self.call_id, self.from_tag)
        elif request.method == "INVITE" and self.midcall is not None:
            self.midcall.on_reinvite(request)
        else:
            self.agent.respond(request, 200)

    def on_cancel(self, event: RequestReceived) -> None:  # we are not a UAS of this call
        self.agent.respond(event.request, 481)

    def on_no_ack(self) -> None:
        pass
