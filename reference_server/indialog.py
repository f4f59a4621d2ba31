"""Requests inside a call's dialogs, relayed leg to leg: BYE, re-INVITE, UPDATE, INFO, OPTIONS ...

Each request is checked against the dialog it arrived in (RFC 3261 §12.2.2: 481, or 500 for a CSeq out of
order), then sent as a new request in the other leg's dialog (its own CSeq, Via, tags), and the final
response is relayed back. SDP is re-anchored on the relay in both directions. A re-INVITE's ACK is end to
end like the initial one: the server ACKs the other leg's 2xx when the ACK for the relayed 2xx arrives.
One re-INVITE at a time per call; another one meanwhile gets 491 Request Pending (RFC 3261 §14.2).

BYE from either side ends both legs: the server sends BYE on the other leg and answers 200 when that BYE
is answered (so the caller's 200 follows the destination's, as in the spec's ladder), or after a short
bound if the other side is silent.
"""

from __future__ import annotations

import logging

from sipcore.aio.endpoint import SipEndpoint
from sipcore.builders import make_cancel
from sipcore.dialog import Dialog, DialogState
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response
from sipcore.transaction import (
    ClientTransaction,
    Event,
    RequestReceived,
    ResponseReceived,
    TransactionTimeout,
)
from sipcore.uri import SipURI

from .call import Call, CallState
from .legs import BLeg
from .sides import ReInvite, Side
from .sip_util import SDP, Reliable2xx

log = logging.getLogger("reference_server.call")

__all__ = ["a_side", "b_side", "cancel_reinvite", "hang_up", "on_reinvite_ack", "relay_request"]

#: Header fields copied onto a relayed in-dialog request.
_COPIED = ("Reason", "Info-Package", "Recv-Info", "Event", "Subscription-State", "Content-Disposition",
           "Session-Expires", "Min-SE", "Supported", "Require")
#: Header fields copied onto a relayed response (Session-Expires, Require: a refresh's 2xx, RFC 4028).
_COPIED_BACK = ("Reason", "Retry-After", "Session-Expires", "Min-SE", "Require")
BYE_WAIT = 2.0  # longest wait for the other leg's answer to a relayed BYE before answering 200 anyway


def a_side(call: Call, leg: BLeg | None = None, b_dialog: Dialog | None = None) -> Side | None:
    """The caller's dialog; before a 2xx, the early one paired with ``b_dialog`` of ``leg`` when given
    (a forked call: reference_server.caller_dialogs), else the most recent. It is reached where the caller's
    requests came from (the connection it opened, its NAT binding), not at its Contact: a softphone over TLS
    or behind NAT listens nowhere else."""
    paired = call.forks.a_dialog_of(leg, b_dialog) if leg is not None and b_dialog is not None else None
    dialog = paired or call.a_dialog
    if dialog is None:
        return None
    addr = call.a_addr
    target = dialog.remote_target
    if not call.ctx.hangup_policy.caller_flow and isinstance(target, SipURI):  # the test-only fault dial-contact
        addr = (target.host.strip("[]"), target.port or (5061 if call.a_endpoint.transport_name == "TLS" else 5060))
    return Side("A", call.a_endpoint, addr, dialog)


def b_side(call: Call, a_dialog: Dialog | None = None) -> Side | None:
    """The winning leg's dialog; before a 2xx, the early dialog paired with ``a_dialog`` when given, else
    the most recent early dialog of any leg."""
    fork = call.forks.fork_of(a_dialog) if call.winner is None and a_dialog is not None else None
    if fork is not None:
        return Side("B", fork[0].endpoint, fork[0].addr, fork[1])
    legs: list[BLeg] = [call.winner] if call.winner is not None else list(reversed(call.legs))
    for leg in legs:
        dialog = leg.dialog or next(reversed(leg.early.values()), None)
        if dialog is not None:
            return Side("B", leg.endpoint, leg.addr, dialog)
    return None


def relay_request(call: Call, leg: BLeg | None, dialog: Dialog, event: RequestReceived,
                  endpoint: SipEndpoint) -> None:
    """A request (not ACK, not CANCEL) that arrived in one of the call's dialogs."""
    request, ctx = event.request, call.ctx
    status = dialog.receive_request(request)
    if status is not None:
        ctx.respond(endpoint, event, status)
        return
    this = Side("A" if leg is None else "B", endpoint, event.addr, dialog)
    if request.method == "BYE":
        _on_bye(call, this, event)
        return
    other = b_side(call, dialog) if leg is None else a_side(call, leg, dialog)
    if other is None or call.state in (CallState.ENDED, CallState.FAILED, CallState.CLEARING):
        ctx.respond(endpoint, event, 481)
        return
    if request.max_forwards == 0:
        ctx.respond(endpoint, event, 483)
        return
    if request.method == "INVITE" and call.reinvite is not None:
        ctx.respond(endpoint, event, 491)  # glare: one re-INVITE at a time (RFC 3261 §14.1, §14.2)
        return
    directions = call.media.snapshot() if call.media is not None and request.method == "INVITE" else None
    forwarded = _forward(call, this, other, request)
    assert event.transaction is not None
    reinvite = None
    if request.method == "INVITE":
        reinvite = call.reinvite = ReInvite(this, request, event.transaction, other, forwarded,
                                            directions=directions)
        call.owner.watch_reinvite(call, event.transaction)

    def on_response(ev: Event) -> None:
        _relay_response(call, this, other, event, ev, reinvite)

    transaction = other.endpoint.send_request(forwarded, other.addr, on_response)
    if reinvite is not None:
        reinvite.transaction = transaction


def _body_for(call: Call, side: Side, message: Request | Response) -> tuple[bytes, str | None]:
    """The body to relay from ``side``: SDP re-anchored on the relay, anything else as it is."""
    if message.content_type == SDP and call.media is not None:
        body = call.media.from_a(message) if side.name == "A" else call.media.from_b(message)
        return body, SDP if body else None
    if message.body:
        return message.body, message.headers.get("Content-Type")
    return b"", None


def _forward(call: Call, this: Side, other: Side, request: Request) -> Request:
    body, content_type = _body_for(call, this, request)
    extra = [(name, value) for name in _COPIED for value in request.headers.get_all(name)]
    forwarded = other.dialog.create_request(request.method, branch=call.ctx.ids.branch(),
                                            local_addr=other.local(call.ctx), transport=other.endpoint.transport_name,
                                            body=body, content_type=content_type, extra_headers=extra)
    forwarded.headers.set("Max-Forwards", str((request.max_forwards or 70) - 1))
    return forwarded


def _relay_response(call: Call, this: Side, other: Side, received: RequestReceived, event: Event,
                    reinvite: ReInvite | None) -> None:
    """The other leg's answer (``event``) to the request relayed from ``received``: relayed back."""
    ctx, request = call.ctx, received.request
    if reinvite is not None and reinvite.ack is not None:  # a 2xx retransmission: our ACK was lost
        if isinstance(event, ResponseReceived) and 200 <= event.response.status < 300:
            other.endpoint.send_stateless(reinvite.ack, other.addr)
        return
    if isinstance(event, TransactionTimeout):
        response_status: tuple[int, str] | None = (408, "Request Timeout")
        response = None
    elif isinstance(event, ResponseReceived):
        response, response_status = event.response, None
        if response.status == 100:
            return
        try:
            other.dialog.update_from_response(response)
        except ProtocolError as exc:
            log.info("call %s: %s", call.a_invite.call_id, exc)
    else:
        return
    if response is None:
        assert response_status is not None
        out = ctx.response(request, *response_status)
    else:
        headers = [("Contact", ctx.contact(this.endpoint))] if (
            200 <= response.status < 300 and request.method in ("INVITE", "UPDATE")) else []
        headers += [(name, value) for name in _COPIED_BACK for value in response.headers.get_all(name)]
        if 200 <= response.status < 300 and request.method in ("INVITE", "UPDATE"):
            headers += call.timer.refreshed(request, response)  # RFC 4028: the session starts over
        body, content_type = _body_for(call, other, response)
        out = ctx.response(request, response.status, response.reason, headers=headers, body=body,
                           content_type=content_type)
    if reinvite is not None and out.status >= 200:
        if 200 <= out.status < 300 and response is not None:
            _reinvite_answered(call, reinvite, out)
        else:
            _reinvite_failed(call, reinvite)
    try:
        this.endpoint.send_response(out, received.transaction)
    except ProtocolError as exc:  # the upstream transaction has gone (e.g. a 2xx retransmission)
        log.debug("call %s: response not relayed: %s", call.a_invite.call_id, exc)


def _reinvite_answered(call: Call, reinvite: ReInvite, out: Response) -> None:
    if reinvite.retransmit is not None:  # a retransmitted 2xx from downstream: resend our ACK
        if reinvite.ack is not None:
            reinvite.downstream.endpoint.send_stateless(reinvite.ack, reinvite.downstream.addr)
        return
    reinvite.retransmit = Reliable2xx(reinvite.upstream.endpoint, out, reinvite.server_transaction.addr,
                                      call.ctx.timers, lambda: on_reinvite_ack(call, None), clock=call.ctx.clock)


def on_reinvite_ack(call: Call, ack: Request | None) -> None:
    """The ACK for a relayed re-INVITE 2xx (None: it never came): ACK the other leg, end to end."""
    reinvite = call.reinvite
    if reinvite is None or reinvite.retransmit is None or reinvite.ack is not None:
        return
    reinvite.retransmit.stop()
    body, content_type = _body_for(call, reinvite.upstream, ack) if ack is not None else (b"", None)
    down = reinvite.downstream
    try:
        reinvite.ack = down.dialog.create_ack(reinvite.forwarded.cseq.seq, call.ctx.ids.branch(), down.local(call.ctx),
                                              body, transport=down.endpoint.transport_name,
                                              content_type=content_type)
    except ProtocolError as exc:
        log.info("call %s: cannot ACK the re-INVITE: %s", call.a_invite.call_id, exc)
    else:
        down.endpoint.send_stateless(reinvite.ack, down.addr)
    _reinvite_done(call, reinvite)


def _reinvite_failed(call: Call, reinvite: ReInvite) -> None:
    """A re-INVITE answered with an error: the session stays as it was before its offer (RFC 3264 §8)."""
    if reinvite.directions is not None and call.media is not None:
        call.media.restore(reinvite.directions)
    _reinvite_done(call, reinvite)


def _reinvite_done(call: Call, reinvite: ReInvite) -> None:
    if call.reinvite is reinvite:
        call.reinvite = None
    call.owner.unwatch_reinvite(reinvite.server_transaction)


def cancel_reinvite(call: Call) -> None:
    """The upstream CANCELled its re-INVITE: CANCEL the relayed one (its 487 is relayed back)."""
    reinvite = call.reinvite
    if reinvite is not None and reinvite.transaction is not None and not reinvite.transaction.terminated:
        reinvite.downstream.endpoint.send_request(make_cancel(reinvite.forwarded), reinvite.downstream.addr)


# -- BYE ---------------------------------------------------------------------------------------------


def _ignore(event: Event) -> None:
    pass


def _on_bye(call: Call, this: Side, received: RequestReceived) -> None:
    ctx, bye = call.ctx, received.request
    if call.state in (CallState.ANSWERED, CallState.CONFIRMED):
        if call.ok_retransmit is not None:
            call.ok_retransmit.stop()
        call.ack_winner()  # a BYE before the caller's ACK: the winning leg still needs its ACK
        call.state = CallState.CLEARING
        other = b_side(call) if this.name == "A" else a_side(call)
        answered = False

        def answer(event: Event | None = None) -> None:
            nonlocal answered
            if isinstance(event, ResponseReceived) and event.response.status < 200 or answered:
                return
            answered = True
            timer.cancel()
            ctx.respond(this.endpoint, received, 200, quiet=True)
            call.finish()
            # its last responses need nothing: stop holding the call
            if bye_transaction is not None and other is not None:
                other.endpoint.replace_handler(bye_transaction, _ignore)

        bye_transaction: ClientTransaction | None = None
        timer = ctx.clock.call_later(min(BYE_WAIT, 64 * ctx.timers.t1), answer)
        if other is None or other.dialog.state is DialogState.TERMINATED:
            answer()
            return
        reasons = [("Reason", value) for value in bye.headers.get_all("Reason")]
        request = other.dialog.create_bye(branch=ctx.ids.branch(), local_addr=other.local(ctx),
                                          transport=other.endpoint.transport_name, extra_headers=reasons)
        bye_transaction = other.endpoint.send_request(request, other.addr, answer)
    elif this.name == "A" and call.state in (CallState.SETUP, CallState.CALLING):
        ctx.respond(this.endpoint, received, 200)  # the caller gave up on an early dialog: as a CANCEL
        call.cancel(bye.headers.get("Reason"))
    else:
        ctx.respond(this.endpoint, received, 200)


def hang_up(call: Call, why: str, reason: str | None = None) -> None:
    """The server ends a call itself (no ACK came, the session expired): BYE on both legs (with a Reason
    header when given), then release the call."""
    log.info("call %s: hanging up: %s", call.a_invite.call_id, why)
    for side in (a_side(call), b_side(call)):
        if side is None or side.dialog.state is not DialogState.CONFIRMED:
            continue
        try:
            request = side.dialog.create_bye(branch=call.ctx.ids.branch(), local_addr=side.local(call.ctx),
                                             transport=side.endpoint.transport_name,
                                             extra_headers=[("Reason", reason)] if reason else [])
        except (ProtocolError, SIPParseError) as exc:
            log.info("call %s: no BYE on leg %s: %s", call.a_invite.call_id, side.name, exc)
            continue
        side.endpoint.send_request(request, side.addr)
    call.finish()

