"""One call through the reference trunk, seen from the B2BUA: the caller's INVITE (the A leg), the B
leg(s) it is relayed to, their dialogs, the media relay and the call's timers.

Setup follows RFC 3261 §13 on each leg and §16.7 across parallel B legs (a call to a registered
extension rings every contact): provisional responses are relayed to the caller, each B early dialog as an
A early dialog of its own (:mod:`reference_server.caller_dialogs`), the first 2xx wins and the other legs
are cancelled (Reason: "Call completed elsewhere"; a 2xx arriving anyway is ACKed and hung up), a
6xx ends the call at once, and when every leg has failed the caller gets the best final response: a 6xx
if any, else the lowest 4xx/5xx. A final error goes to the caller with the destination's status code and
reason phrase and a Reason header (RFC 3326): the destination's own, else the Q.850 cause RFC 3398 maps
the status to. No answer at all gives 408 (Timer B); a destination that rings forever is cancelled after
Timer C and gives 408 too. A destination named by host name is located first (RFC 3263, through DNS); a leg
whose address answers 503, gives no answer (Timer B) or is unreachable (ICMP) goes on, as a new transaction
of the same INVITE, to the next address found (RFC 3263 §4.3, RFC 3261 §21.5.4); a trunk with several
destinations then tries the next one (:mod:`reference_server.failover`).

ACKs are end to end per leg: the caller's ACK for the relayed 2xx makes the server ACK the winning leg's
2xx (carrying the answer when the caller's offer came late). Requests inside the confirmed call (BYE,
re-INVITE, INFO ...) are relayed by :mod:`reference_server.indialog`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from sipcore.aio.endpoint import SipEndpoint
from sipcore.dialog import Dialog, creates_dialog
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.locate import LocateError
from sipcore.message import Request, Response, make_response
from sipcore.q850 import cause_for_status, reason_header
from sipcore.sdp import SessionDescription
from sipcore.transaction import (
    Event,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    State,
    TransactionTimeout,
)

from .call_context import CallContext
from .call_state import CallState
from .call_timer import CallTimer
from .caller_dialogs import COMPLETED_ELSEWHERE, CallerDialogs
from .failover import FAILOVER_STATUSES, arm_no_response, final_failure, retry_leg
from .legs import BLeg, EndedLeg, Locate, Target
from .media import MediaAnchor
from .reliable import ReliableProvisionals
from .rtp_relay import MediaRelay, NoPortsAvailable
from .sides import ReInvite
from .sip_util import ALLOW, SDP, Reliable2xx

log = logging.getLogger("reference_server.call")

__all__ = ["Call", "CallOwner", "CallState"]


class CallOwner(Protocol):
    """What a call tells the B2BUA that holds it: the dialogs and INVITE transactions that lead to the
    call (so that requests find it), and its end."""

    def add_dialog(self, dialog: Dialog, call: Call, leg: BLeg | None) -> Dialog: ...
    def remove_dialog(self, dialog: Dialog) -> None: ...
    def forget_invite(self, call: Call) -> None: ...
    def watch_reinvite(self, call: Call, transaction: ServerTransaction) -> None: ...
    def unwatch_reinvite(self, transaction: ServerTransaction) -> None: ...
    def hang_up(self, call: Call, why: str, reason: str | None = None) -> None: ...
    def call_finished(self, call: Call) -> None: ...


class Call:
    """A-leg INVITE, B legs, relay, timers; see the module docstring. ``ctx``: the server's services;
    ``owner``: the B2BUA the call reports to."""

    def __init__(self, ctx: CallContext, owner: CallOwner, endpoint: SipEndpoint, event: RequestReceived,
                 targets: list[Target], *, trunk: str, caller: str, callee: str,
                 offer: SessionDescription | None = None, locate: Locate | None = None) -> None:
        assert event.transaction is not None
        self.ctx, self.owner = ctx, owner
        self.a_endpoint = endpoint
        self.a_invite = event.request
        self.a_transaction: ServerTransaction = event.transaction
        self.a_addr = event.addr  # where the caller sends from: in-dialog requests to it go there
        self.a_tag = ctx.ids.tag()
        self.forks = CallerDialogs(self.a_invite, self.a_tag, ctx.ids.tag, owner)
        self.a_status: int | None = None  # the final status sent to the caller
        self.targets = targets
        self.locate = locate  # finds the targets (DNS, RFC 3263) before the relay opens, when given
        self.legs: list[BLeg] = []
        self.winner: BLeg | None = None
        self.state = CallState.SETUP
        self.key = ctx.ids.call_id()  # the relay's key; unique even when callers reuse Call-IDs
        self.media: MediaAnchor | None = None
        self.offer = offer  # the INVITE's SDP parsed (None: from_a parses it), until the B legs are sent
        self.trunk, self.caller, self.callee = trunk, caller, callee
        self.started = ctx.clock.time()
        self.ok_retransmit: Reliable2xx | None = None
        self.cancel_reason: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.opening = True  # the relay is being opened (by _setup)
        self.reinvite: ReInvite | None = None  # a re-INVITE being relayed (reference_server.indialog)
        self.timer = CallTimer(self, ctx.session_timer)  # RFC 4028 (reference_server.call_timer)
        self.reliable = ReliableProvisionals(self)  # RFC 3262 (reference_server.reliable)

    def __repr__(self) -> str:
        return f"<Call {self.a_invite.call_id} {self.state.value} legs={len(self.legs)}>"

    @property
    def a_dialog(self) -> Dialog | None:
        """The caller's dialog: the confirmed one, before that the most recent early one."""
        return self.forks.current

    @property
    def server(self) -> str:
        return self.ctx.user_agent

    # -- setup --------------------------------------------------------------------------------------
    def start(self) -> None:
        """Answer 100 Trying and open the relay (then send the B legs): at once on a parked relay's
        sockets, else in a task, since binding new ones is asynchronous."""
        self.a_endpoint.send_response(make_response(self.a_invite, 100), self.a_transaction)
        relay = self.ctx.relays.open_parked(self.key) if self.locate is None else None
        if relay is None:
            self.task = asyncio.get_running_loop().create_task(self._setup())
            self.task.add_done_callback(self._setup_done)
            return
        self.opening = False
        try:
            self._relay_opened(relay)
        except Exception as exc:  # as _setup_done does for the task
            self._setup_failed(exc)

    def _setup_done(self, task: asyncio.Task[None]) -> None:
        self.opening = False
        if not task.cancelled() and task.exception() is not None:
            self._setup_failed(task.exception())

    def _setup_failed(self, exc: BaseException | None) -> None:
        log.error("call %s setup failed", self.a_invite.call_id, exc_info=exc)
        self.fail_a(500, "Server Internal Error")

    async def _setup(self) -> None:
        if self.locate is not None:
            try:
                self.targets = await self.locate()
            except LocateError as exc:
                self.opening = False
                log.warning("call %s: the destination cannot be located: %s", self.a_invite.call_id, exc)
                self.fail_a(503, "Service Unavailable")
                return
        try:
            relay = await self.ctx.relays.open(self.key)
        except (NoPortsAvailable, OSError) as exc:
            self.opening = False
            log.warning("call %s: no media relay: %s", self.a_invite.call_id, exc)
            self.fail_a(503, "Service Unavailable")
            return
        finally:
            self.opening = False
        self._relay_opened(relay)

    def _relay_opened(self, relay: MediaRelay) -> None:
        """The relay is open: send the B legs, or end the call if it was cancelled meanwhile."""
        self.media = MediaAnchor(relay, self.ctx.media_policy, srtp=self.ctx.srtp,
                                 destination_srtp=self.targets[0].srtp if self.targets else False)
        relay.set_signalling_peers([self.a_addr[0]], [ip for target in self.targets for ip in target.ips()])
        if self.state is not CallState.SETUP:  # cancelled while the relay was opening
            self.maybe_finish()
            return
        offer, self.offer = self.offer, None
        body = self.media.from_a(self.a_invite, before_answer=True, parsed=offer)
        self.state = CallState.CALLING
        for target in self.targets:
            self._send_leg(target, body)

    def _send_leg(self, target: Target, body: bytes) -> None:
        ctx = self.ctx
        leg = BLeg.build(target, self.a_invite, ctx.ids, fallback_host=ctx.fallback_host, user_agent=self.server,
                         body=body, clock=ctx.leg_clock, extra_headers=self.timer.invite_headers())
        self._start_leg(leg)

    def _start_leg(self, leg: BLeg) -> None:
        self.legs.append(leg)
        self._arm_timer_c(leg)
        arm_no_response(leg, self.ctx.clock, self.on_b_event)  # the trunk's shorter Timer B, if it has one
        leg.send(lambda event: self.on_b_event(leg, event))

    def _arm_timer_c(self, leg: BLeg) -> None:
        leg.arm_timer_c(self.ctx.timer_c, lambda: self._timer_c_fired(leg))

    def _timer_c_fired(self, leg: BLeg) -> None:
        leg.timer_c = None
        if leg.result is None:
            log.info("call %s: Timer C fired on a B leg; cancelling it", self.a_invite.call_id)
            self._cancel_leg(leg)
            self._leg_failed(leg, make_response(leg.invite, 408))

    # -- responses on the B legs --------------------------------------------------------------------
    def on_b_event(self, leg: BLeg, event: Event) -> None:
        if isinstance(event, ResponseReceived):
            response = event.response
            if response.status < 200:
                self._b_provisional(leg, response)
            elif response.status < 300:
                self._b_success(leg, response)
            elif response.status not in FAILOVER_STATUSES or not self._retry(leg, response):
                self._b_failure(leg, response)
        elif isinstance(event, TransactionTimeout):
            timeout = make_response(leg.invite, 408)
            if not self._retry(leg, timeout, f"no response (Timer {event.timer})"):
                self._b_failure(leg, timeout)

    def _retry(self, leg: BLeg, response: Response, why: str | None = None) -> bool:
        """A 503, 408 or no response (``why``): the next address or destination (:func:`retry_leg`)."""
        new = retry_leg(self.ctx, self.a_invite, leg, response, why) if self.state is CallState.CALLING else None
        if new is None:
            return False
        self._drop_early(leg)
        self._start_leg(new)
        return True

    def _b_provisional(self, leg: BLeg, response: Response) -> None:
        first = not leg.provisional
        leg.provisional = True
        if leg.result is not None or leg.cancel_wanted:
            if leg.cancel_wanted and first:
                self._cancel_leg(leg)
            return
        if leg.timer_c is None:
            self._arm_timer_c(leg)
        else:
            leg.restart_timer_c(self.ctx.timer_c)
        if response.status == 100 or self.state is not CallState.CALLING:
            return
        tag = response.to.tag
        if tag is not None and tag not in leg.early and creates_dialog(leg.invite, response):
            try:
                leg.early[tag] = self.owner.add_dialog(Dialog.from_uac(leg.invite, response), self, leg)
            except (ProtocolError, SIPParseError) as exc:
                log.info("call %s: %d creates no usable dialog: %s", self.a_invite.call_id, response.status, exc)
        elif tag in leg.early:
            leg.early[tag].update_from_response(response)
        assert self.media is not None
        body = self.media.from_b(response, early=True)
        a_tag = self.forks.tag_for(leg, tag if tag in leg.early else None)
        a_response = self._a_response(response.status, response.reason, body, a_tag)
        self.forks.sent(a_response, self)
        self.reliable.send(leg, response, a_response)

    def _b_success(self, leg: BLeg, response: Response) -> None:
        tag = response.to.tag
        if self.winner is None and self.state is CallState.CALLING and leg.result is None:
            self.winner, leg.result = leg, response
            leg.stop_timers()
            dialog = leg.early.pop(tag, None) if tag is not None else None
            try:
                if dialog is not None:
                    dialog.update_from_response(response)
                else:
                    dialog = self.owner.add_dialog(Dialog.from_uac(leg.invite, response), self, leg)
            except (ProtocolError, SIPParseError) as exc:
                log.info("call %s: unusable 2xx from the destination: %s", self.a_invite.call_id, exc)
                self._ack_and_bye(leg, response)
                self.fail_a(502, "Bad Gateway")
                return
            leg.dialog = dialog
            self._drop_early(leg)
            for other in self.legs:
                if other is not leg and other.result is None:
                    self._cancel_leg(other, COMPLETED_ELSEWHERE)
            self._answer_a(leg, response)
        elif leg is self.winner and leg.dialog is not None and tag == leg.dialog.remote_tag:
            leg.send_ack_again()  # a retransmitted 2xx: our ACK was lost (nothing before the caller's ACK)
        else:  # a late 2xx: another leg, another fork of this leg, or the caller has given up
            self._ack_and_bye(leg, response)
            if leg.result is None:
                leg.result = response
                leg.stop_timers()
                self._drop_early(leg)
                self.maybe_finish()

    def _b_failure(self, leg: BLeg, response: Response) -> None:
        if leg.result is not None:  # e.g. the 487 after Timer C gave up on it
            leg.stop_timers()
            return
        self._leg_failed(leg, response)

    def _leg_failed(self, leg: BLeg, response: Response) -> None:
        leg.result = response
        leg.stop_timers(keep_abandon=leg.cancel_sent)
        self._drop_early(leg)
        if self.state is CallState.CALLING:
            if response.status >= 600:
                self.relay_failure(response)
            elif all(other.result is not None for other in self.legs):
                self.relay_failure(final_failure(self.legs))
        self.maybe_finish()

    # -- answering the caller -----------------------------------------------------------------------
    def _a_response(self, status: int, reason: str, body: bytes, to_tag: str,
                    extra: list[tuple[str, str]] | None = None) -> Response:
        return self.ctx.response(self.a_invite, status, reason, to_tag=to_tag, copy_record_route=True,
                                 headers=[("Contact", self.ctx.contact(self.a_endpoint)), ("Allow", ALLOW),
                                          *(extra or ())], body=body, content_type=SDP)

    def _answer_a(self, leg: BLeg, response: Response) -> None:
        assert self.media is not None
        body = self.media.from_b(response)
        self.media.answered()
        self.reliable.final()
        tag = self.forks.tag_for(leg, response.to.tag)
        ok = self._a_response(response.status, response.reason, body, tag, self.timer.answer_headers(response))
        self.forks.sent(ok, self)
        self.forks.keep_only(tag)
        self.a_status, self.state = response.status, CallState.ANSWERED
        self.owner.forget_invite(self)
        self.a_endpoint.send_response(ok, self.a_transaction)
        self.ok_retransmit = Reliable2xx(self.a_endpoint, ok, self.a_transaction.addr, self.ctx.timers,
                                         self._no_ack, clock=self.ctx.clock)

    def relay_failure(self, response: Response) -> None:
        """The destination's final error to the caller: same status and phrase, with a Reason (as the
        B2BUA's hangup policy says: the spec's behaviour unless it was built otherwise)."""
        policy = self.ctx.hangup_policy
        reason = response.headers.get("Reason")
        if reason is None and policy.q850_reason:
            cause = cause_for_status(response.status)
            reason = None if cause is None else reason_header(cause)
        if not policy.relay_status:
            self.fail_a(500, "Server Internal Error", reason)
            return
        extra = [(n, v) for n in ("Retry-After", "Min-SE") for v in response.headers.get_all(n)]  # Min-SE: a 422
        self.fail_a(response.status, response.reason, reason, extra)

    def fail_a(self, status: int, reason: str, reason_value: str | None = None,
               extra: list[tuple[str, str]] | None = None) -> None:
        """Send the caller a final error (once) and cancel what is still ringing."""
        if self.a_status is not None:
            self.maybe_finish()
            return
        self.a_status, self.state = status, CallState.FAILED
        self.reliable.final()
        headers = list(extra or [])
        if reason_value is not None:
            headers.append(("Reason", reason_value))
        response = self.ctx.response(self.a_invite, status, reason, to_tag=self.a_tag, headers=headers)
        self.forks.end_all(response)
        self.owner.forget_invite(self)
        for leg in self.legs:
            if leg.result is None:
                self._cancel_leg(leg)
        self.a_endpoint.send_response(response, self.a_transaction)
        self.maybe_finish()

    def cancel(self, reason_value: str | None) -> None:
        """The caller's CANCEL (already answered 200): 487 for its INVITE, CANCEL on every B leg."""
        self.cancel_reason = reason_value
        self.fail_a(487, "Request Terminated")

    # -- ACKs ---------------------------------------------------------------------------------------
    def on_a_ack(self, ack: Request) -> None:
        """The caller's ACK for the relayed 2xx: ACK the winning leg (with the caller's late answer)."""
        if self.state is not CallState.ANSWERED or ack.cseq.seq != self.a_invite.cseq.seq:
            return
        if self.ok_retransmit is not None:
            self.ok_retransmit.stop()
        self.state = CallState.CONFIRMED
        assert self.media is not None
        self.ack_winner(self.media.from_a(ack))

    def ack_winner(self, body: bytes = b"") -> None:
        if self.winner is not None:
            self.winner.send_ack(self.ctx.ids, body)

    def _no_ack(self) -> None:
        """64*T1 without the caller's ACK for the 2xx: confirm the B leg and end the session."""
        if self.state is CallState.ANSWERED:
            log.info("call %s: no ACK for the 2xx; hanging up", self.a_invite.call_id)
            self.ack_winner()
            self.owner.hang_up(self, "no ACK from the caller")

    # -- cancelling and ending legs -----------------------------------------------------------------
    def _cancel_leg(self, leg: BLeg, reason: str | None = None) -> None:
        leg.cancel(reason or self.cancel_reason, 64 * self.ctx.timers.t1, lambda: self._abandon(leg))

    def _abandon(self, leg: BLeg) -> None:
        """64*T1 after the CANCEL without a final response: give the INVITE transaction up (§9.1)."""
        leg.abandon = None
        if leg.transaction is not None and not leg.transaction.terminated:
            leg.endpoint.abandon(leg.transaction)  # its Proceeding state has no timer of its own
        if leg.result is None:
            self._leg_failed(leg, make_response(leg.invite, 408))

    def _drop_early(self, leg: BLeg) -> None:
        for dialog in leg.early.values():
            self.owner.remove_dialog(dialog)
        leg.early.clear()

    def _ack_and_bye(self, leg: BLeg, response: Response) -> None:
        try:
            leg.ack_and_bye(response, self.ctx.ids)
        except (ProtocolError, SIPParseError) as exc:
            log.info("call %s: cannot ACK a stray 2xx: %s", self.a_invite.call_id, exc)

    def maybe_finish(self) -> None:
        """End the call once the caller has its final error and every B leg has finished (and the relay
        is no longer being opened: ``_setup`` calls this again when it is)."""
        if (self.state is CallState.FAILED and not self.opening
                and all(leg.result is not None for leg in self.legs)):
            self.finish()

    def finish(self) -> None:
        """Release everything the call holds (idempotent) and log it."""
        if self.state is CallState.ENDED:
            return
        if self.state is not CallState.FAILED and self.a_status is None:
            self.a_status = 500
        self.state = CallState.ENDED
        self.timer.stop()
        self.reliable.final()
        if self.ok_retransmit is not None:
            self.ok_retransmit.stop()
            self.ok_retransmit = None
        for leg in self.legs:  # an abandon timer still forgets a cancelled INVITE transaction
            leg.stop_timers(keep_abandon=leg.cancel_sent and leg.transaction is not None
                            and not leg.transaction.terminated)
            self._drop_early(leg)
            if leg.dialog is not None:
                self.owner.remove_dialog(leg.dialog)
        self.forks.end_all()
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.ctx.relays.close(self.key)
        self.owner.call_finished(self)
        for leg in self.legs:  # INVITE transactions lingering after their final response stop holding the call
            transaction = leg.transaction
            if (transaction is not None and leg.result is not None and leg.abandon is None
                    and transaction.state in (State.COMPLETED, State.ACCEPTED)):
                ended = EndedLeg(leg, winner=leg is self.winner, ids=self.ctx.ids, call_id=self.a_invite.call_id)
                leg.endpoint.replace_handler(transaction, ended.on_event)
        log.info("call call-id=%s trunk=%s caller=%s callee=%s status=%s duration=%.3fs",
                 self.a_invite.call_id, self.trunk, self.caller, self.callee, self.a_status,
                 self.ctx.clock.time() - self.started)

