"""One outgoing call of the simulated UA: INVITE with SDP, digest retry, early media, CANCEL, ACK, BYE.

Responses are handled in the transaction handler as they arrive where the protocol needs it at once
(the ACK for a 2xx and its retransmissions; a late 2xx after the UA gave up gets ACK and BYE), and in
the call coroutine for everything else. Every wait is bounded: the ring timeout, 64*T1 after a CANCEL
(RFC 3261 §9.1), Timer B without any response, the hold time or the remote-BYE timeout, 64*T1 for the
BYE. A timeout ends the call with ``timed_out`` and an ``error`` that says what did not come.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sipcore.builders import make_cancel, new_request, with_new_branch
from sipcore.dialog import Dialog, DialogState
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response
from sipcore.session_timer import SessionExpires, parse_min_se
from sipcore.transaction import Event, RequestReceived, ResponseReceived, TransactionTimeout
from sipcore.transport_address import bracketed

from .agent import Agent, wait_any
from .auth import ChallengeAnswerer, credential_headers
from .call_result import CallOptions, CallResult
from .media import CallMedia
from .midcall import MidCall
from .prack import PrackSender
from .session_timer import Refresher, answer_headers, offer_headers, session_of
from .settings import UaSettings

__all__ = ["CallOptions", "CallResult", "OutgoingCall"]


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
        self.prack = PrackSender(agent, self.call_id) if settings.prack else None
        self.answer: Response | None = None
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
            contact=self.agent.contact(s.username), extra_headers=[*self._supported(), *self.options.extra_headers],
            body=self.media.offer(), content_type="application/sdp", user_agent=s.user_agent)

    def _supported(self) -> list[tuple[str, str]]:
        s = self.settings
        tags = [tag for tag, on in (("100rel", s.prack), ("timer", s.session_timer.supported)) if on]
        return ([("Supported", ", ".join(tags))] if tags else []) + offer_headers(s.session_timer)

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
            if self.prack is not None:
                self.prack.on_provisional(self.invite, response, self.target, [])
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
        if status == 422 and self.cancel_sent_at is None and len(result.min_se) < 2 and self._retry_422(response):
            return False
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

    def _retry_422(self, response: Response) -> bool:
        """RFC 4028 §7.4: the INVITE again with the 422's Min-SE as its interval and its Min-SE."""
        assert self.invite is not None
        try:
            min_se = parse_min_se(response, 0)
        except SIPParseError:
            min_se = 0
        if min_se <= 0:
            return False
        self.result.min_se.append(min_se)
        retry = self.auth.again(self.invite, self.invite.cseq.seq + 1)
        retry.headers.set("Session-Expires", str(SessionExpires(min_se, self.settings.session_timer.refresher)))
        retry.headers.set("Min-SE", str(min_se))
        self.agent.record.add("note", f"422: asking for the Min-SE of {min_se} s (RFC 4028 §7.4)", self.call_id)
        self._send_invite(retry)
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
        early = self.prack.dialogs.get(response.to.tag or "") if self.prack is not None else None
        try:  # an early dialog a PRACK was sent in goes on (its CSeq counts on)
            if early is not None:
                early.update_from_response(response)
            self.dialog = early or Dialog.from_uac(self.invite, response)
        except (ProtocolError, SIPParseError) as exc:
            self.agent.record.add("note", f"2xx creates no dialog: {exc}", self.call_id)
            return
        self.ack = self.dialog.create_ack(self.invite.cseq.seq, self.agent.ids.branch(), ep.local_addr,
                                          transport=ep.transport_name, extra_headers=credential_headers(self.invite))
        ep.send_stateless(self.ack, self.target)
        result = self.result
        self.answer = response
        result.session_expires = response.headers.get("Session-Expires")
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
        refresher = self._refresher()
        task = self.agent.spawn(refresher.run()) if refresher is not None else None
        try:
            hang_up = await self._hold()
        finally:
            if task is not None:
                task.cancel()  # no refresh crosses the BYE
            if self.prack is not None:
                self.result.prack_statuses = list(self.prack.statuses)
        if hang_up:
            await self._hang_up()

    def _refresher(self) -> Refresher | None:
        """The UA's refreshes, when the 2xx names it the refresher (and it is to refresh)."""
        agreed = session_of(self.answer) if self.answer is not None else None
        timer = self.settings.session_timer
        if agreed is None or agreed.refresher != "uac" or self.dialog is None or self.media is None:
            return None
        if not timer.refresh:
            self.agent.record.add("note", "the refresher, told never to refresh (session_timer.refresh off)",
                                  self.call_id)
            return None
        media = self.media
        return Refresher(self.agent, self.dialog, self.target, agreed.interval, self.call_id, timer.method,
                         lambda: media.local_sdp or b"", sent=self.result.refreshes)

    async def _hold(self) -> bool:
        """Hold the call; True when the UA is to hang up (the far end has not)."""
        options = self.options
        midcall = self.midcall if options.midcall and not self.cancel_requested else None
        if midcall is not None and not await midcall.play(options.midcall, self._remote_bye):
            return False
        if self.cancel_requested:
            self.agent.record.add("note", "answered although cancelled: hanging up", self.call_id)
        elif options.expect_remote_bye:
            if await wait_any([self._remote_bye], options.remote_bye_timeout_ms / 1000, self.agent.clock):
                return False
            self._timeout(f"expected the far end to hang up within {options.remote_bye_timeout_ms / 1000:g} s; "
                          "it did not")
        elif await wait_any([self._remote_bye], options.hold_ms / 1000, self.agent.clock):
            return False
        return True

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
            headers, agreed = answer_headers(request, self.settings.session_timer)  # RFC 4028: a refresh
            self.result.refreshes_received += agreed is not None
            self.midcall.on_reinvite(request, headers)
        elif request.method == "UPDATE":
            headers, agreed = answer_headers(request, self.settings.session_timer)
            self.result.refreshes_received += agreed is not None
            self.agent.respond(request, 200, headers=headers, contact=self.agent.contact(self.settings.username))
        else:
            self.agent.respond(request, 200)

    def on_cancel(self, event: RequestReceived) -> None:  # we are not a UAS of this call
        self.agent.respond(event.request, 481)

    def on_no_ack(self) -> None:
        pass
