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
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    ServerTransaction,
    TransactionTimeout,
)

from .call import Call, CallState
from .legs import BLeg
from .sip_util import SDP, Addr, Reliable2xx, build_response, contact_uri, local_addr

if TYPE_CHECKING:
    from .b2bua import B2BUA

log = logging.getLogger("reference_server.call")

__all__ = ["ReInvite", "Side", "a_side", "b_side", "cancel_reinvite", "hang_up", "on_reinvite_ack",
           "relay_request"]

#: Header fields copied onto a relayed in-dialog request.
_COPIED = ("Reason", "Info-Package", "Recv-Info", "Event", "Subscription-State", "Content-Disposition")
BYE_WAIT = 2.0  # longest wait for the other leg's answer to a relayed BYE before answering 200 anyway


@dataclass(frozen=True)
class Side:
    """One leg of the call as the in-dialog relay sees it."""

    name: str  # "A" (the caller) or "B" (the destination)
    endpoint: SipEndpoint
    addr: Addr
    dialog: Dialog

    def local(self, b2bua: B2BUA) -> Addr:
        return local_addr(self.endpoint, b2bua.fallback_host)


@dataclass(eq=False)
class ReInvite:
    """A re-INVITE relayed from ``upstream`` to ``downstream``, until its ACK has crossed."""

    upstream: Side
    request: Request
    server_transaction: ServerTransaction
    downstream: Side
    forwarded: Request
    transaction: ClientTransaction | None = None
    ack: Request | None = None
    retransmit: Reliable2xx | None = None


def a_side(call: Call) -> Side | None:
    if call.a_dialog is None:
        return None
    return Side("A", call.a_endpoint, call.a_addr, call.a_dialog)


def b_side(call: Call) -> Side | None:
    """The winning leg's dialog; before a 2xx, the most recent early dialog of any leg."""
    legs: list[BLeg] = [call.winner] if call.winner is not None else list(reversed(call.legs))
    for leg in legs:
        dialog = leg.dialog or next(reversed(leg.early.values()), None)
        if dialog is not None:
            return Side("B", leg.endpoint, leg.addr, dialog)
    return None


def _respond(side: Side | SipEndpoint, event: RequestReceived, status: int, reason: str | None = None,
             server: str = "", headers: list[tuple[str, str]] | None = None) -> None:
    """Answer the request of ``event`` through its own server transaction."""
    endpoint = side.endpoint if isinstance(side, Side) else side
    endpoint.send_response(build_response(event.request, status, reason, server=server, headers=headers or []),
                           event.transaction)


def relay_request(b2bua: B2BUA, call: Call, leg: BLeg | None, dialog: Dialog, event: RequestReceived,
                  endpoint: SipEndpoint) -> None:
    """A request (not ACK, not CANCEL) that arrived in one of the call's dialogs."""
    request, server = event.request, b2bua.user_agent
    status = dialog.receive_request(request)
    if status is not None:
        _respond(endpoint, event, status, server=server)
        return
    this = Side("A" if leg is None else "B", endpoint, event.addr, dialog)
    if request.method == "BYE":
        _on_bye(b2bua, call, this, event)
        return
    other = b_side(call) if leg is None else a_side(call)
    if other is None or call.state in (CallState.ENDED, CallState.FAILED, CallState.CLEARING):
        _respond(endpoint, event, 481, server=server)
        return
    if request.max_forwards == 0:
        _respond(endpoint, event, 483, server=server)
        return
    if request.method == "INVITE" and call.reinvite is not None:
        _respond(endpoint, event, 491, server=server)
        return
    forwarded = _forward(b2bua, call, this, other, request)
    assert event.transaction is not None
    reinvite = None
    if request.method == "INVITE":
        reinvite = call.reinvite = ReInvite(this, request, event.transaction, other, forwarded)
        b2bua.watch_reinvite(call, event.transaction)

    def on_response(ev: Event) -> None:
        _relay_response(b2bua, call, this, other, event, ev, reinvite)

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


def _forward(b2bua: B2BUA, call: Call, this: Side, other: Side, request: Request) -> Request:
    body, content_type = _body_for(call, this, request)
    extra = [(name, value) for name in _COPIED for value in request.headers.get_all(name)]
    forwarded = other.dialog.create_request(request.method, branch=b2bua.ids.branch(),
                                            local_addr=other.local(b2bua), transport=other.endpoint.transport_name,
                                            body=body, content_type=content_type, extra_headers=extra)
    forwarded.headers.set("Max-Forwards", str((request.max_forwards or 70) - 1))
    return forwarded


def _relay_response(b2bua: B2BUA, call: Call, this: Side, other: Side, received: RequestReceived, event: Event,
                    reinvite: ReInvite | None) -> None:
    """The other leg's answer (``event``) to the request relayed from ``received``: relayed back."""
    request = received.request
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
        out = build_response(request, *response_status, server=b2bua.user_agent)
    else:
        headers = [("Contact", contact_uri(this.endpoint, b2bua.fallback_host))] if (
            200 <= response.status < 300 and request.method in ("INVITE", "UPDATE")) else []
        headers += [(name, value) for name in ("Reason", "Retry-After") for value in response.headers.get_all(name)]
        body, content_type = _body_for(call, other, response)
        out = build_response(request, response.status, response.reason, server=b2bua.user_agent, headers=headers,
                             body=body, content_type=content_type)
    if reinvite is not None and out.status >= 200:
        if 200 <= out.status < 300 and response is not None:
            _reinvite_answered(b2bua, call, reinvite, response, out)
        else:
            _reinvite_done(b2bua, call, reinvite)
    try:
        this.endpoint.send_response(out, received.transaction)
    except ProtocolError as exc:  # the upstream transaction has gone (e.g. a 2xx retransmission)
        log.debug("call %s: response not relayed: %s", call.a_invite.call_id, exc)


def _reinvite_answered(b2bua: B2BUA, call: Call, reinvite: ReInvite, response: Response, out: Response) -> None:
    if reinvite.retransmit is not None:  # a retransmitted 2xx from downstream: resend our ACK
        if reinvite.ack is not None:
            reinvite.downstream.endpoint.send_stateless(reinvite.ack, reinvite.downstream.addr)
        return
    reinvite.retransmit = Reliable2xx(reinvite.upstream.endpoint, out, reinvite.server_transaction.addr,
                                      b2bua.timers, lambda: on_reinvite_ack(b2bua, call, None))


def on_reinvite_ack(b2bua: B2BUA, call: Call, ack: Request | None) -> None:
    """The ACK for a relayed re-INVITE 2xx (None: it never came): ACK the other leg, end to end."""
    reinvite = call.reinvite
    if reinvite is None or reinvite.retransmit is None or reinvite.ack is not None:
        return
    reinvite.retransmit.stop()
    body, content_type = _body_for(call, reinvite.upstream, ack) if ack is not None else (b"", None)
    down = reinvite.downstream
    try:
        reinvite.ack = down.dialog.create_ack(reinvite.forwarded.cseq.seq, b2bua.ids.branch(), down.local(b2bua),
                                              body, transport=down.endpoint.transport_name,
                                              content_type=content_type)
    except ProtocolError as exc:
        log.info("call %s: cannot ACK the re-INVITE: %s", call.a_invite.call_id, exc)
    else:
        down.endpoint.send_stateless(reinvite.ack, down.addr)
    _reinvite_done(b2bua, call, reinvite)


def _reinvite_done(b2bua: B2BUA, call: Call, reinvite: ReInvite) -> None:
    if call.reinvite is reinvite:
        call.reinvite = None
    b2bua.unwatch_reinvite(reinvite.server_transaction)


def cancel_reinvite(b2bua: B2BUA, call: Call) -> None:
    """The upstream CANCELled its re-INVITE: CANCEL the relayed one (its 487 is relayed back)."""
    reinvite = call.reinvite
    if reinvite is not None and reinvite.transaction is not None and not reinvite.transaction.terminated:
        reinvite.downstream.endpoint.send_request(make_cancel(reinvite.forwarded), reinvite.downstream.addr)


# -- BYE ---------------------------------------------------------------------------------------------


def _ignore(event: Event) -> None:
    pass


def _on_bye(b2bua: B2BUA, call: Call, this: Side, received: RequestReceived) -> None:
    server, bye = b2bua.user_agent, received.request
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
            try:
                _respond(this, received, 200, server=server)
            except ProtocolError:
                pass
            call.finish()
            # its last responses need nothing: stop holding the call
            if bye_transaction is not None and other is not None:
                other.endpoint.replace_handler(bye_transaction, _ignore)

        bye_transaction: ClientTransaction | None = None
        timer = call.loop.call_later(min(BYE_WAIT, 64 * b2bua.timers.t1), answer)
        if other is None or other.dialog.state is DialogState.TERMINATED:
            answer()
            return
        reasons = [("Reason", value) for value in bye.headers.get_all("Reason")]
        request = other.dialog.create_bye(branch=b2bua.ids.branch(), local_addr=other.local(b2bua),
                                          transport=other.endpoint.transport_name, extra_headers=reasons)
        bye_transaction = other.endpoint.send_request(request, other.addr, answer)
    elif this.name == "A" and call.state in (CallState.SETUP, CallState.CALLING):
        _respond(this, received, 200, server=server)  # the caller gave up on an early dialog: as a CANCEL
        call.cancel(bye.headers.get("Reason"))
    else:
        _respond(this, received, 200, server=server)


def hang_up(b2bua: B2BUA, call: Call, why: str) -> None:
    """The server ends a call itself (no ACK came): BYE on both legs, then release the call."""
    log.info("call %s: hanging up: %s", call.a_invite.call_id, why)
    for side in (a_side(call), b_side(call)):
        if side is None or side.dialog.state is not DialogState.CONFIRMED:
            continue
        try:
            request = side.dialog.create_bye(branch=b2bua.ids.branch(), local_addr=side.local(b2bua),
                                             transport=side.endpoint.transport_name)
        except (ProtocolError, SIPParseError) as exc:
            log.info("call %s: no BYE on leg %s: %s", call.a_invite.call_id, side.name, exc)
            continue
        side.endpoint.send_request(request, side.addr)
    call.finish()

