"""Reliable provisional responses (RFC 3262) on one call through the B2BUA.

The INVITE to the destination always says ``Supported: 100rel``. What happens to a provisional response
depends on the two ends:

- the destination sent it reliably (``Require: 100rel``, ``RSeq``) and the caller supports 100rel: it
  reaches the caller reliably too, under the server's own RSeq (one sequence per call, starting at
  random), retransmitted after T1, 2*T1 ... until the caller's PRACK (RFC 3262 §3); that PRACK is relayed
  to the destination in its early dialog, its RAck naming the destination's RSeq and CSeq, and the
  destination's answer goes back to the caller: PRACK end to end.
- the destination sent it reliably and the caller does not support 100rel: RFC 3262 lets nothing
  reliable reach that caller, so the server absorbs it: it PRACKs the destination itself and relays the
  response unreliably (no Require, no RSeq; the SDP, and so early media, unchanged).
- the destination sent it unreliably and the caller *requires* 100rel: the server sends it reliably and
  answers the caller's PRACK itself.
- otherwise it is relayed as it came, unreliably.

One reliable response is outstanding toward the caller at a time (§3); later ones wait their turn. A
response unacknowledged for 64*T1 ends the call with 500 (§3: "SHOULD reject the original request with
a 5xx"). The final response stops the retransmissions. A PRACK that matches no unacknowledged response
gets 481.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Protocol

from sipcore.aio.clock import TimerHandle
from sipcore.aio.endpoint import SipEndpoint
from sipcore.dialog import Dialog
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response
from sipcore.session_timer import MAX_RSEQ, RAck, has_option_tag, is_reliable, parse_rack, parse_rseq
from sipcore.transaction import (
    Event,
    RequestReceived,
    ResponseReceived,
    ServerTransaction,
    TransactionTimeout,
)

from .call_context import CallContext
from .legs import BLeg
from .media import MediaAnchor
from .sip_util import SDP

log = logging.getLogger("reference_server.call")

__all__ = ["Call", "ReliableProvisionals"]


class Call(Protocol):
    """What the reliable provisionals read of their call (:class:`reference_server.call.Call`)."""

    a_invite: Request
    ctx: CallContext
    a_endpoint: SipEndpoint
    a_transaction: ServerTransaction
    media: MediaAnchor | None

    def fail_a(self, status: int, reason: str, reason_value: str | None = None,
               extra: list[tuple[str, str]] | None = None) -> None: ...


@dataclass(frozen=True)
class _Downstream:
    """The destination's reliable response a caller's PRACK acknowledges: where its PRACK goes."""

    leg: BLeg
    dialog: Dialog
    rack: RAck


class ReliableProvisionals:
    """RFC 3262 for one call; see the module docstring."""

    def __init__(self, call: Call) -> None:
        self._call = weakref.ref(call)  # no cycle: an ended call is freed at once
        invite = call.a_invite
        self.caller_supports = has_option_tag(invite, "100rel")
        self.caller_requires = has_option_tag(invite, "100rel", "Require")
        self.next_rseq = int(call.ctx.ids.token(4), 16) % (MAX_RSEQ // 2) + 1
        self.unacked: dict[int, _Downstream | None] = {}  # caller-side RSeq -> what its PRACK does
        self.queue: list[tuple[Response, _Downstream | None]] = []
        self.seen: set[tuple[int, str | None, int]] = set()  # (leg, To tag, RSeq) from the destination
        self.outstanding: int | None = None  # the RSeq being retransmitted to the caller
        self._handle: TimerHandle | None = None
        self._interval = 0.0
        self._give_up_at = 0.0

    # -- provisional responses ------------------------------------------------------------------------

    @property
    def call(self) -> Call:
        call = self._call()
        if call is None:
            raise ReferenceError("the call has been released")
        return call

    def send(self, leg: BLeg, b_response: Response, a_response: Response) -> None:
        """Relay the destination's provisional ``b_response`` to the caller as ``a_response``."""
        call = self.call
        downstream = None
        if is_reliable(b_response):
            try:
                rseq = parse_rseq(b_response)
            except SIPParseError as exc:
                log.info("call %s: a reliable %d with a bad RSeq: %s", call.a_invite.call_id, b_response.status, exc)
                rseq = None
            tag = b_response.to.tag
            dialog = leg.early.get(tag) if tag is not None else None
            if rseq is not None and dialog is not None:
                key = (id(leg), tag, rseq)
                if key in self.seen:
                    return  # a retransmission: the PRACK is on its way
                self.seen.add(key)
                downstream = _Downstream(leg, dialog, RAck(rseq, b_response.cseq.seq, b_response.cseq.method))
        if downstream is not None and not self.caller_supports:
            self._prack(downstream, None)  # absorbed: the caller gets it unreliably
        elif self.caller_supports and (downstream is not None or self.caller_requires):
            self.queue.append((a_response, downstream))
            if self.outstanding is None:
                self._next()
            return
        call.a_endpoint.send_response(a_response, call.a_transaction)

    def _next(self) -> None:
        if not self.queue:
            return
        response, downstream = self.queue.pop(0)
        rseq, self.next_rseq = self.next_rseq, self.next_rseq % MAX_RSEQ + 1
        response.headers.add("Require", "100rel")
        response.headers.add("RSeq", str(rseq))
        self.unacked[rseq] = downstream
        self.outstanding = rseq
        timers, clock = self.call.ctx.timers, self.call.ctx.clock
        self._interval = timers.t1
        self._give_up_at = clock.time() + 64 * timers.t1
        self._send(response)

    def _send(self, response: Response) -> None:
        call = self.call
        try:
            call.a_endpoint.send_response(response, call.a_transaction)
        except ProtocolError as exc:  # the INVITE has its final response
            log.debug("call %s: reliable %d not sent: %s", call.a_invite.call_id, response.status, exc)
            return
        clock = call.ctx.clock
        self._handle = clock.call_at(min(clock.time() + self._interval, self._give_up_at), self._resend, response)

    def _resend(self, response: Response) -> None:
        self._handle = None
        call = self.call
        if call.ctx.clock.time() >= self._give_up_at:
            log.info("call %s: no PRACK for the reliable %d within 64*T1", call.a_invite.call_id, response.status)
            self.final()
            call.fail_a(500, "Server Internal Error", "SIP;cause=500;text=\"no PRACK (RFC 3262)\"")
            return
        self._interval *= 2  # RFC 3262 §3: T1, doubling, without T2's cap
        self._send(response)

    def final(self) -> None:
        """The INVITE has its final response (or the call ends): no more retransmissions (§3)."""
        self.queue.clear()
        self.outstanding = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    # -- PRACK ------------------------------------------------------------------------------------------
    def on_prack(self, event: RequestReceived, endpoint: SipEndpoint, dialog: Dialog) -> None:
        """The caller's PRACK in its early dialog: acknowledges one reliable response, relayed onwards."""
        call, prack = self.call, event.request
        status = dialog.receive_request(prack)
        if status is not None:
            call.ctx.respond(endpoint, event, status)
            return
        rack = parse_rack(prack)
        if (rack is None or rack.rseq not in self.unacked or rack.method != "INVITE"
                or rack.cseq != call.a_invite.cseq.seq):
            call.ctx.respond(endpoint, event, 481, "No Such Provisional Response" if rack else "PRACK without RAck")
            return
        downstream = self.unacked.pop(rack.rseq)
        if self.outstanding == rack.rseq:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            self.outstanding = None
            self._next()
        if downstream is None:
            call.ctx.respond(endpoint, event, 200)
            return
        self._prack(downstream, event, endpoint)

    def _prack(self, downstream: _Downstream, upstream: RequestReceived | None,
               endpoint: SipEndpoint | None = None) -> None:
        """PRACK the destination's reliable response; with ``upstream`` (the caller's PRACK) its answer is
        relayed back, else the server is acknowledging on its own."""
        call, leg = self.call, downstream.leg
        body, content_type = b"", None
        if upstream is not None and upstream.request.content_type == SDP and call.media is not None:
            body, content_type = call.media.from_a(upstream.request), SDP
        try:
            prack = downstream.dialog.create_request(
                "PRACK", branch=call.ctx.ids.branch(), local_addr=leg.local, transport=leg.transport, body=body,
                content_type=content_type, extra_headers=[("RAck", str(downstream.rack))])
        except ProtocolError as exc:
            log.info("call %s: no PRACK to the destination: %s", call.a_invite.call_id, exc)
            if upstream is not None and endpoint is not None:
                call.ctx.respond(endpoint, upstream, 481)
            return

        def answered(event: Event) -> None:
            if isinstance(event, ResponseReceived) and event.response.status < 200:
                return
            status, reason = ((event.response.status, event.response.reason) if isinstance(event, ResponseReceived)
                              else (408, "Request Timeout") if isinstance(event, TransactionTimeout) else (0, ""))
            if status == 0:
                return
            if upstream is None or endpoint is None:
                if status >= 300:
                    log.info("call %s: the destination answered our PRACK %d", call.a_invite.call_id, status)
                return
            try:
                endpoint.send_response(call.ctx.response(upstream.request, status, reason),
                                                      upstream.transaction)
            except ProtocolError as exc:
                log.debug("call %s: PRACK answer not relayed: %s", call.a_invite.call_id, exc)

        leg.endpoint.send_request(prack, leg.addr, answered)
