"""What the simulated UA and destination do inside an answered call: hold and resume by re-INVITE, answers
to the far end's re-INVITEs, DTMF digits. One :class:`MidCall` per call, for either side.

Hold and resume (RFC 3264 §8.4; RFC 6337 §5.3): our re-INVITE offers a=sendonly (we may still send, music
on hold) or a=inactive, and a=sendrecv to resume; the far end's answer mirrors it (a=recvonly to a=sendonly).
A re-INVITE from the far end is answered the same way (:meth:`MidCall.on_reinvite`): 200 with the mirrored
direction, and the tone stops while the directions say we must not send (:mod:`simulator.media`). The 2xx
to our re-INVITE is ACKed end to end (again for each retransmission); our 2xx to theirs is retransmitted
(UDP: T1 doubling to T2) until their ACK, for at most 64*T1, as RFC 3261 §13.3.1.4 asks of any 2xx.

Glare (RFC 3261 §14.1, §14.2): a re-INVITE arriving while ours awaits its final response gets 491 Request
Pending; a 491 to ours is retried once, after 2.1-4 s when this side chose the Call-ID (the caller),
0-2 s otherwise. An offer answered with an error leaves our SDP as it was (RFC 3264 §8).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence

from sipcore.dialog import Dialog, DialogState
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response
from sipcore.sdp import SessionDescription
from sipcore.transaction import Event, ResponseReceived, TransactionTimeout

from .agent import Agent, wait_any
from .media import CallMedia
from .settings import Addr, Hold, MidCallStep, Resume

__all__ = ["MidCall", "ReInviteResult"]

SDP = "application/sdp"


class ReInviteResult:
    """One re-INVITE this side sent: the direction offered and the final status (None: none came)."""

    def __init__(self, direction: str) -> None:
        self.direction = direction
        self.status: int | None = None

    def __repr__(self) -> str:
        return f"ReInviteResult({self.direction!r}, {self.status})"


class MidCall:
    """Re-INVITEs and DTMF of one call. ``dialog`` and ``hop`` give the call's dialog and where in-dialog
    requests go, as they are when asked; ``owns_call_id``: this side chose the Call-ID (§14.1 timing)."""

    def __init__(self, agent: Agent, media: CallMedia, call_id: str, contact: str,
                 dialog: Callable[[], Dialog | None], hop: Callable[[], Addr], *, owns_call_id: bool) -> None:
        self.agent, self.media, self.call_id, self.contact = agent, media, call_id, contact
        self._dialog, self._hop = dialog, hop
        self.owns_call_id = owns_call_id
        self.pending = False  # our re-INVITE awaits its final response
        self.sent: list[ReInviteResult] = []
        self.answered: list[int] = []  # statuses we answered the far end's re-INVITEs with
        self._acked: set[int] = set()  # CSeqs of the far end's re-INVITEs whose ACK came
        self._offerless: int | None = None  # CSeq of a re-INVITE without offer: its ACK has the answer

    def _note(self, text: str) -> None:
        self.agent.record.add("note", text, self.call_id)

    # -- our side ------------------------------------------------------------------------------------
    async def play(self, steps: Sequence[MidCallStep], ended: asyncio.Event) -> bool:
        """Run ``steps`` in order, each ``after_ms`` after the previous; False once the call has ended."""
        for step in steps:
            if await wait_any([ended], step.after_ms / 1000, self.agent.clock):
                return False
            if isinstance(step, Hold):
                await self.reinvite(step.direction)
            elif isinstance(step, Resume):
                await self.reinvite("sendrecv")
            else:
                why = self.media.send_digits(step.digits, step.duration_ms, step.gap_ms)
                if why is not None:
                    self._note(why)
                await self._digits_sent(len(step.digits) * (step.duration_ms + 60 + step.gap_ms) / 1000 + 1.0)
        return not ended.is_set()

    async def _digits_sent(self, bound: float) -> None:
        """Until the queued digits are on the wire (paced in real time, like all RTP), at most ``bound`` s."""
        deadline = asyncio.get_running_loop().time() + bound
        while self.media.rtp.digits_pending and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)

    async def reinvite(self, direction: str) -> ReInviteResult:
        """A re-INVITE offering ``direction``; retried once after a 491 (module docstring)."""
        result = ReInviteResult(direction)
        self.sent.append(result)
        for attempt in range(2):
            result.status = await self._send(direction)
            if result.status != 491 or attempt:
                break
            delay = random.uniform(2.1, 4.0) if self.owns_call_id else random.uniform(0.0, 2.0)
            self._note(f"491 to our re-INVITE (glare): retrying in {delay:.2f} s (RFC 3261 §14.1)")
            await self.agent.clock.sleep(delay)
        return result

    async def _send(self, direction: str) -> int | None:
        dialog, ep = self._dialog(), self.agent.ep
        if dialog is None or dialog.state is not DialogState.CONFIRMED:
            self._note(f"no confirmed dialog: no re-INVITE (a={direction}) sent")
            return None
        before = (self.media.local_sdp, self.media.direction)
        request = dialog.create_reinvite(branch=self.agent.ids.branch(), local_addr=ep.local_addr,
                                         body=self.media.offer(direction), transport=ep.transport_name)
        hop = self._hop()
        done: asyncio.Future[Response | None] = asyncio.get_running_loop().create_future()
        ack: list[Request] = []

        def on_event(event: Event) -> None:
            if isinstance(event, ResponseReceived) and event.response.status >= 200:
                response = event.response
                if 200 <= response.status < 300:
                    if ack:  # a retransmitted 2xx: our ACK was lost
                        ep.send_stateless(ack[0], hop)
                        return
                    ack.append(self._ack(dialog, request, response, hop))
                if not done.done():
                    done.set_result(response)
            elif isinstance(event, TransactionTimeout) and not done.done():
                done.set_result(None)

        self.pending = True
        try:
            ep.send_request(request, hop, on_event)
            try:
                response = await self.agent.clock.wait_for(done, self.agent.transaction_bound)
            except TimeoutError:
                response = None
        finally:
            self.pending = False
        if response is None or response.status >= 300:
            self.media.local_sdp, self.media.direction = before
            self._note(f"re-INVITE (a={direction}) got {response.status if response else 'no final response'}: "
                       "the session stays as it was")
            return None if response is None else response.status
        return response.status

    def _ack(self, dialog: Dialog, request: Request, response: Response, hop: Addr) -> Request:
        """ACK the 2xx to our re-INVITE and take its answer."""
        ep = self.agent.ep
        try:
            dialog.update_from_response(response)
        except ProtocolError as exc:
            self._note(f"2xx to our re-INVITE: {exc}")
        ack = dialog.create_ack(request.cseq.seq, self.agent.ids.branch(), ep.local_addr, transport=ep.transport_name)
        ep.send_stateless(ack, hop)
        if response.body:
            self.media.take_remote(response.body, "the 2xx to our re-INVITE")
        return ack

    # -- their side ----------------------------------------------------------------------------------
    def on_reinvite(self, request: Request, headers: Sequence[tuple[str, str]] = ()) -> None:
        """The far end's re-INVITE (already accepted by the dialog): 491 while ours is pending, else 200
        with our answer (or, when it has no offer, our offer; its ACK then carries the answer), with
        ``headers`` (a session refresh's Session-Expires)."""
        if self.pending:
            self.agent.respond(request, 491)
            self.answered.append(491)
            return
        if not request.body:
            body = self.media.offer(self.media.direction)
            self._offerless = request.cseq.seq
        else:
            try:
                offer = SessionDescription.parse(request.body)
            except SIPParseError as exc:
                self.agent.respond(request, 488)
                self.answered.append(488)
                self._note(f"re-INVITE SDP unusable: {exc}")
                return
            before = (self.media.local_sdp, self.media.direction)
            answer = self.media.answer(offer)
            if answer is None:
                self.media.local_sdp, self.media.direction = before
                self.agent.respond(request, 488)
                self.answered.append(488)
                return
            body = answer
            self.media.take_remote(request.body, "the re-INVITE")
        response = self.agent.respond(request, 200, body=body, contact=self.contact, headers=headers)
        self.answered.append(200)
        if response is not None and self.agent.transport_name == "UDP":
            self.agent.spawn(self._retransmit(response, request.cseq.seq))

    def on_ack(self, ack: Request) -> None:
        """An ACK for the 2xx to one of their re-INVITEs (the answer, if we made the offer)."""
        self._acked.add(ack.cseq.seq)
        if self._offerless == ack.cseq.seq and ack.body:
            self._offerless = None
            self.media.take_remote(ack.body, "the ACK of the re-INVITE")

    async def _retransmit(self, response: Response, cseq: int) -> None:
        timers, clock, ep = self.agent.timers, self.agent.clock, self.agent.ep
        deadline, interval = clock.time() + 64 * timers.t1, timers.t1
        while cseq not in self._acked and clock.time() < deadline:
            await clock.sleep(min(interval, max(0.0, deadline - clock.time())))
            if cseq in self._acked or self.agent.closed:
                return
            try:
                ep.send_response(response)
            except ProtocolError:  # the transaction has ended (Timer L)
                return
            interval = min(2 * interval, timers.t2)
