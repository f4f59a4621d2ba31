"""The answering side of one call, played from a script: the destination's behaviour, and the UA's
answer to an incoming call.

Steps run in order (:mod:`simulator.settings`). A CANCEL is answered 200 at once; when honoured the
INVITE gets 487 and the script stops, otherwise the script goes on as if nothing came. After a 2xx the
2xx is retransmitted (UDP) until the ACK comes, for at most 64*T1 (RFC 3261 §13.3.1.4), after which the
call is ended with a BYE. A BYE from the far end ends the call (in an early dialog too: 200 to the BYE,
487 to the INVITE).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from sipcore.aio.rtp import ReceivedRtp
from sipcore.dialog import Dialog, DialogState
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response
from sipcore.sdp import SessionDescription
from sipcore.session_timer import SessionExpires, has_option_tag
from sipcore.transaction import RequestReceived

from .agent import Agent, next_hop, wait_any
from .media import CallMedia
from .midcall import MidCall
from .prack import first_rseq, rack_of
from .session_timer import Refresher, answer_headers
from .settings import (
    Addr,
    Answer,
    HangupAfter,
    MidCallStep,
    NeverAnswer,
    Reject,
    Send100,
    Send180,
    Send183,
    SessionTimer,
    Step,
    Wait,
)

__all__ = ["IncomingCall", "UasCall"]

NO_SESSION_TIMER = SessionTimer()


@dataclass
class IncomingCall:
    """What the answering side saw and did in one call (``Destination.calls``, ``UserAgent.incoming``)."""

    call_id: str
    request_uri: str
    from_uri: str
    to_uri: str
    source: Addr
    received_at: float
    responses_sent: list[int] = field(default_factory=list)
    """Status codes sent for the INVITE, in order (retransmissions not repeated)."""
    requests: list[str] = field(default_factory=list)
    """The requests of this call that reached the call logic (INVITE, CANCEL, ACK for 2xx, BYE ...)."""
    final_status: int | None = None
    cancelled: bool = False
    """A CANCEL arrived (see ``ended_by`` for whether it was honoured)."""
    acked: bool = False
    """The ACK for our 2xx arrived."""
    answered_at: float | None = None
    early_media_at: float | None = None
    """When our RTP started before the answer (183 with SDP)."""
    ended_by: str | None = None
    """"remote-bye", "local-bye", "cancel", "rejected", "no-ack", "unanswered" or "stopped"."""
    ended_at: float | None = None
    bye_status: int | None = None
    """Final status of the BYE we sent."""
    rtp_sent: int = 0
    rtp_packets: list[ReceivedRtp] = field(default_factory=list)
    reinvites: list[tuple[str, int | None]] = field(default_factory=list)
    """Our re-INVITEs (Hold, Resume steps): (the direction offered, the final status)."""
    reinvites_answered: list[int] = field(default_factory=list)
    """The statuses we answered the far end's re-INVITEs with."""
    pracks: int = 0
    """PRACKs that acknowledged a reliable provisional response of ours (RFC 3262)."""
    refreshes: list[int] = field(default_factory=list)
    """The final status of each session refresh we sent (RFC 4028)."""
    refreshes_received: int = 0
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event, repr=False, compare=False)

    @property
    def rtp_received(self) -> int:
        return len(self.rtp_packets)

    @property
    def first_rtp_at(self) -> float | None:
        return self.rtp_packets[0].arrival if self.rtp_packets else None


class UasCall:
    """Plays ``script`` against one INVITE (``event``) on ``agent``'s endpoint."""

    def __init__(self, agent: Agent, event: RequestReceived, script: Sequence[Step], *, honour_cancel: bool,
                 tone_hz: float, media_host: str, contact_user: str, max_call_ms: int,
                 keep_sending_on_hold: bool = False, reliable: str = "off",
                 session_timer: SessionTimer = NO_SESSION_TIMER) -> None:
        assert event.transaction is not None
        self.agent = agent
        self.request = event.request
        self.transaction = event.transaction
        self.script = tuple(script)
        self.honour_cancel = honour_cancel
        self.tone_hz = tone_hz
        self.media_host = media_host
        self.contact = agent.contact(contact_user)
        self.max_call = max_call_ms / 1000
        self.keep_sending_on_hold = keep_sending_on_hold
        self.to_tag = agent.ids.tag()
        self.dialog: Dialog | None = None
        self.media: CallMedia | None = None
        self.midcall: MidCall | None = None
        self.offer: SessionDescription | None = None
        self.final: Response | None = None
        self._acked = asyncio.Event()
        self._ended = asyncio.Event()
        request = self.request
        self.reliable_mode = reliable
        self.reliable = reliable != "off" and has_option_tag(request, "100rel")  # RFC 3262
        self.rseq = first_rseq()
        self._pracked = asyncio.Event()
        self._pracked.set()  # nothing to acknowledge yet
        self.timer = session_timer
        self.session: SessionExpires | None = None
        self.info = IncomingCall(call_id=request.call_id, request_uri=request.uri, from_uri=str(request.from_.uri),
                                 to_uri=str(request.to.uri), source=event.addr,
                                 received_at=agent.clock.time(), requests=[f"INVITE {request.uri}"])
        agent.add_invite_user(self.transaction, self)
        agent.add_dialog_user(request.call_id, self.to_tag, self)

    # -- the script -----------------------------------------------------------------------------------
    async def run(self) -> IncomingCall:
        try:
            self.media = await CallMedia.open(self.media_host, self.agent.record, self.info.call_id,
                                              self.tone_hz)
            self.media.ignore_directions = self.keep_sending_on_hold
            self.midcall = MidCall(self.agent, self.media, self.info.call_id, self.contact, lambda: self.dialog,
                                   lambda: next_hop(self.dialog, self.info.source), owns_call_id=False)
            if self.reliable_mode == "require" and not self.reliable:
                self._final(421, None, "rejected", [("Require", "100rel")])  # RFC 3262 §3
            elif self._read_offer():
                await self._play()
                await self._until_end()
        except asyncio.CancelledError:
            self.info.ended_by = self.info.ended_by or "stopped"
            raise
        finally:
            self._finish()
        return self.info

    def _read_offer(self) -> bool:
        body = self.request.body
        if not body:
            return True  # no offer: the 2xx carries one and the ACK the answer (RFC 3264 §4)
        try:
            self.offer = SessionDescription.parse(body)
        except SIPParseError as exc:
            self._final(400, f"Bad SDP ({exc.message})"[:100], "rejected")
            return False
        assert self.media is not None
        if self.media.answer(self.offer) is None:
            self._final(488, None, "rejected")
            return False
        self.media.take_remote(body, "the INVITE")
        return True

    async def _play(self) -> None:
        assert self.media is not None
        for step in self.script:
            if self._ended.is_set():
                return
            if isinstance(step, Wait):
                await self._wait([self._ended], step.ms / 1000)
            elif isinstance(step, Send100):
                self._send(100)
            elif isinstance(step, Send180):
                await self._provisional(180)
            elif isinstance(step, Send183):
                if step.early_media and self.media.local_sdp is not None:
                    await self._provisional(183, self.media.local_sdp)
                    self._start_media("early media, 183")
                    self.info.early_media_at = self.media.started_at
                else:
                    await self._provisional(183)
            elif isinstance(step, Answer):
                if await self._wait([self._ended], step.after_ms / 1000):
                    return
                await self._answer()
            elif isinstance(step, Reject):
                headers = [("Reason", step.reason_header)] if step.reason_header else []
                if step.retry_after is not None:
                    headers.append(("Retry-After", str(step.retry_after)))
                self._final(step.status, step.reason, "rejected", headers)
            elif isinstance(step, NeverAnswer):
                if not await self._wait([self._ended], self.max_call):
                    self.info.ended_by = "unanswered"
                return
            elif isinstance(step, HangupAfter) and not await self._wait([self._ended], step.ms / 1000):
                await self._send_bye("HangupAfter")
            elif isinstance(step, MidCallStep) and self.midcall is not None:
                await self.midcall.play([step], self._ended)

    async def _provisional(self, status: int, body: bytes = b"") -> None:
        """A 180/183; reliably (RFC 3262 §3) when the INVITE supports 100rel and ``reliable`` is on: after the
        previous one's PRACK, with Require and RSeq, retransmitted (T1 doubling) until its own PRACK."""
        if not self.reliable:
            self._send(status, body=body)
            return
        if not await self._until_pracked():
            return
        self.rseq += 1
        response = self._send(status, body=body, headers=[("Require", "100rel"), ("RSeq", str(self.rseq))])
        if response is not None:
            self._pracked.clear()
            self.agent.spawn(self._retransmit(response))

    async def _retransmit(self, response: Response) -> None:
        interval, deadline = self.agent.timers.t1, self.agent.clock.time() + 64 * self.agent.timers.t1
        while not await self._wait([self._pracked, self._ended], interval) and self.final is None:
            if self.agent.clock.time() >= deadline:
                self.agent.record.add("timeout", f"no PRACK for the reliable {response.status}", self.info.call_id)
                self._final(504, "No PRACK", "rejected")  # RFC 3262 §3: reject the INVITE with a 5xx
                return
            try:
                self.agent.ep.send_response(response)
            except ProtocolError:
                return
            interval *= 2

    async def _until_pracked(self) -> bool:
        """Wait for the PRACK of the outstanding reliable response (bounded by 64*T1)."""
        return await self._wait([self._pracked], 64 * self.agent.timers.t1 + 1) and not self._ended.is_set()

    async def _until_end(self) -> None:
        """After the script: an answered call lasts until a BYE (either side) or ``max_call_ms``; the
        destination refreshes the session meanwhile when the 2xx named it the refresher."""
        if self.final is None or self.final.status >= 300 or self._ended.is_set():
            return
        task = None
        if self.session is not None and self.session.refresher == "uas" and self.dialog is not None:
            if self.timer.refresh:
                refresher = Refresher(self.agent, self.dialog, next_hop(self.dialog, self.info.source),
                                      self.session.interval, self.info.call_id, self.timer.method,
                                      lambda: self.media.local_sdp or b"" if self.media is not None else b"",
                                      sent=self.info.refreshes)
                task = self.agent.spawn(refresher.run())
            else:
                self.agent.record.add("note", "the refresher, told never to refresh", self.info.call_id)
        try:
            ended = await self._wait([self._ended], self.max_call)
        finally:
            if task is not None:
                task.cancel()  # no refresh crosses the BYE
        if not ended:
            await self._send_bye(f"max call time {self.max_call:g} s")

    async def _answer(self) -> None:
        assert self.media is not None
        sdp = self.media.local_sdp if self.offer is not None else self.media.offer()
        if not await self._until_pracked():  # RFC 3262 §3: the 2xx after the PRACK of an SDP answer
            return
        headers, self.session = answer_headers(self.request, self.timer)
        response = self._final(200, None, None, body=sdp or b"", headers=headers)
        if response is None:
            return
        self.info.answered_at = self.agent.clock.time()
        self._start_media("answer, 200")
        await self._await_ack(response)

    async def _await_ack(self, response: Response) -> None:
        """Retransmit the 2xx (UDP: T1 doubling up to T2) until the ACK, for at most 64*T1."""
        timers, clock = self.agent.timers, self.agent.clock
        deadline = clock.time() + 64 * timers.t1
        interval = timers.t1
        while not self._acked.is_set() and not self._ended.is_set():
            remaining = deadline - clock.time()
            if remaining <= 0:
                self.agent.record.add("timeout", f"no ACK for 200 OK within {64 * timers.t1:g} s",
                                      self.info.call_id)
                self.info.error = "no ACK for the 200 OK"
                await self._send_bye("no ACK")
                self.info.ended_by = "no-ack"
                return
            if await self._wait([self._acked, self._ended], min(interval, remaining)):
                return
            if self.agent.transport_name == "UDP":
                try:
                    self.agent.ep.send_response(response)
                except ProtocolError:  # Timer L ended the transaction: the TU goes on alone
                    self.agent.ep.send_stateless(response, self.transaction.addr)
            interval = min(2 * interval, timers.t2)

    async def _wait(self, events: Sequence[asyncio.Event], timeout: float) -> bool:
        return await wait_any(events, timeout, self.agent.clock)

    # -- sending --------------------------------------------------------------------------------------
    def _send(self, status: int, reason: str | None = None, *, body: bytes = b"",
              headers: Sequence[tuple[str, str]] = ()) -> Response | None:
        if self.final is not None:
            return None
        tagged = status != 100
        response = self.agent.respond(self.request, status, reason, to_tag=self.to_tag if tagged else None,
                                      headers=headers, body=body,
                                      contact=self.contact if 101 <= status < 300 else None)
        if response is None:
            return None
        self.info.responses_sent.append(status)
        if 101 <= status < 300 and self.dialog is None:
            try:
                self.dialog = Dialog.from_uas(self.request, response)
            except (ProtocolError, SIPParseError) as exc:
                self.agent.record.add("note", f"no dialog: {exc}", self.info.call_id)
        elif self.dialog is not None and status >= 200:
            self.dialog.update_from_sent_response(response)
        if status >= 200:
            self.final = response
            self.info.final_status = status
        return response

    def _final(self, status: int, reason: str | None, ended_by: str | None,
               headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> Response | None:
        response = self._send(status, reason, body=body, headers=headers)
        if response is not None and ended_by is not None:
            self.info.ended_by = ended_by
            self._ended.set()
        return response

    def _start_media(self, why: str) -> None:
        if self.media is not None:
            self.media.start(why)

    async def _send_bye(self, why: str) -> None:
        dialog = self.dialog
        if dialog is None or dialog.state is not DialogState.CONFIRMED:
            return
        ep = self.agent.ep
        bye = dialog.create_bye(branch=self.agent.ids.branch(), local_addr=ep.local_addr,
                                transport=ep.transport_name)
        self.info.ended_by = "local-bye"
        self._ended.set()
        self.agent.record.add("note", f"hanging up ({why})", self.info.call_id)
        try:
            response = await ep.request(bye, next_hop(dialog, self.info.source),
                                        timeout=self.agent.transaction_bound)
        except TimeoutError as exc:
            self.agent.record.add("timeout", f"BYE: {exc or 'no final response'}", self.info.call_id)
            self.info.error = f"BYE got no final response: {exc}"
            return
        self.info.bye_status = response.status

    # -- requests from the far end --------------------------------------------------------------------
    def on_cancel(self, event: RequestReceived) -> None:
        self.info.requests.append(f"CANCEL {event.request.uri}")
        self.info.cancelled = True
        self.agent.respond(event.request, 200)
        if self.final is not None:
            return  # too late: the INVITE has its final response (RFC 3261 §9.2)
        if not self.honour_cancel:
            self.agent.record.add("note", "CANCEL answered 200 and ignored (honour_cancel is off)",
                                  self.info.call_id)
            return
        self._final(487, None, "cancel")

    def on_in_dialog(self, event: RequestReceived) -> None:
        request = event.request
        self.info.requests.append(f"{request.method} {request.uri}")
        if request.method == "ACK":
            if self.final is not None and request.cseq.seq == self.final.cseq.seq:
                self.info.acked = True
                self._acked.set()
                late_answer = self.offer is None and request.body and self.media is not None
                if late_answer and self.media is not None and self.media.take_remote(request.body, "the ACK"):
                    self._start_media("answer in the ACK")
            elif self.midcall is not None:
                self.midcall.on_ack(request)
            return
        status = self.dialog.receive_request(request) if self.dialog is not None else None
        if status is not None:
            self.agent.respond(request, status)
            return
        if request.method == "BYE":
            self.agent.respond(request, 200)
            if self.final is None:
                self._final(487, None, None)  # a BYE in an early dialog ends the INVITE
            self.info.ended_by = "remote-bye"
            self._ended.set()
        elif request.method == "PRACK":
            self._on_prack(request)
        elif request.method == "INVITE" and self.midcall is not None:
            headers, agreed = answer_headers(request, self.timer)  # RFC 4028: a refresh
            self.info.refreshes_received += agreed is not None
            self.midcall.on_reinvite(request, headers)
        elif request.method == "UPDATE":
            headers, agreed = answer_headers(request, self.timer)
            self.info.refreshes_received += agreed is not None
            self.agent.respond(request, 200, headers=headers, contact=self.contact)
        else:
            self.agent.respond(request, 200)

    def _on_prack(self, request: Request) -> None:
        rack = rack_of(request)
        if (rack is None or self._pracked.is_set() or rack.rseq != self.rseq
                or rack.cseq != self.request.cseq.seq):
            self.agent.respond(request, 481)  # RFC 3262 §3: matches no unacknowledged response
            return
        self.info.pracks += 1
        self._pracked.set()
        self.agent.respond(request, 200)

    def on_no_ack(self) -> None:
        self.info.error = f"no ACK for the {self.info.final_status} response"

    # -- the end --------------------------------------------------------------------------------------
    def _finish(self) -> None:
        info = self.info
        if self.media is not None:
            self.media.close()
            info.rtp_sent = self.media.packets_sent
            info.rtp_packets = list(self.media.received)
        if self.midcall is not None:
            info.reinvites = [(r.direction, r.status) for r in self.midcall.sent]
            info.reinvites_answered = list(self.midcall.answered)
        info.ended_at = self.agent.clock.time()
        self.agent.remove_dialog_user(info.call_id, self.to_tag)
        info.done.set()
