"""A call's outgoing legs: where each goes (:class:`Target`), its INVITE and what came back (:class:`BLeg`),
and what the B2BUA does to one leg on its own: send it, CANCEL it (RFC 3261 §9.1: only after a
provisional response; the INVITE transaction is given up 64*T1 after the CANCEL if no final response
came), ACK its 2xx, and ACK-and-BYE a 2xx nobody wants.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sipcore.aio.clock import LOOP_CLOCK, Clock, TimerHandle
from sipcore.aio.endpoint import SipEndpoint
from sipcore.builders import make_cancel, new_request, with_new_branch
from sipcore.dialog import Dialog
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.ids import IdGenerator
from sipcore.message import Request, Response
from sipcore.transaction import ClientTransaction, Event, ResponseReceived

from .sip_util import ALLOW, SDP, SUPPORTED, Addr, contact_uri, local_addr

log = logging.getLogger("reference_server.call")

__all__ = ["BLeg", "EndedLeg", "Locate", "Target", "best_failure"]


@dataclass(frozen=True)
class Target:
    """Where one B leg goes: its Request-URI, To and From, and the transport address to send to;
    ``alternates``: the next addresses of an RFC 3263 list, tried in turn when this one fails; ``srtp``:
    whether its media is offered as SRTP (None: as the caller's is; reference_server.srtp_media);
    ``headers``: more header fields of its INVITE (P-Asserted-Identity, Privacy: the trunk's identity
    policy); ``fallback``: the trunk's next destinations, each a target of its own, tried in turn when this one and
    its alternates have failed; ``timeout``: seconds without any response before the INVITE is given up
    as if Timer B had fired (None: Timer B itself); both reference_server.failover."""

    request_uri: str
    to_uri: str
    from_uri: str
    from_display: str | None
    addr: Addr
    endpoint: SipEndpoint
    alternates: tuple[Target, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    srtp: bool | None = False
    fallback: tuple[Target, ...] = ()
    timeout: float | None = None
    failover: bool = False  # one of a trunk's several destinations (the caller gets 503 when all fail)

    def ips(self) -> list[str]:
        """The IP of this address and of every alternate: where the leg's signalling may go."""
        return [self.addr[0], *(alternate.addr[0] for alternate in self.alternates)]

    def next(self) -> Target | None:
        """The next address to try, carrying the ones after it; None when this was the last."""
        if not self.alternates:
            return None
        return dataclasses.replace(self.alternates[0], alternates=self.alternates[1:], fallback=self.fallback,
                                   timeout=self.timeout, failover=self.failover)


Locate = Callable[[], Awaitable[list[Target]]]
"""Finds a call's targets (a destination named by host name: RFC 3263 through DNS); LocateError if none."""


@dataclass(eq=False)
class BLeg:
    """One outgoing INVITE of a call and what came back on it."""

    target: Target
    invite: Request
    local: Addr  # the server's address on the leg's endpoint (Via, Contact)
    transaction: ClientTransaction | None = None
    early: dict[str, Dialog] = field(default_factory=dict)  # early dialogs by the remote To tag
    dialog: Dialog | None = None  # the dialog its winning 2xx confirmed
    provisional: bool = False  # a provisional response came: CANCEL may be sent
    result: Response | None = None  # its final response (synthetic 408 on Timer B / Timer C)
    cancel_wanted: bool = False
    cancel_sent: bool = False
    ack: Request | None = None  # the ACK sent for its 2xx, resent when the 2xx is
    clock: Clock = LOOP_CLOCK  # what its timers run on
    timer_c: TimerHandle | None = None
    timer_c_due: float = 0.0  # clock time Timer C expires at (moved by every provisional response)
    abandon: TimerHandle | None = None
    no_response: TimerHandle | None = None  # the target's shorter Timer B (reference_server.failover)
    cancel_reason: str | None = None  # the Reason its CANCEL carries (RFC 3326)
    superseded: bool = False  # failed, and its INVITE went on to the target's next address (RFC 3263 §4.3)

    @classmethod
    def build(cls, target: Target, a_invite: Request, ids: IdGenerator, *, fallback_host: str, user_agent: str,
              body: bytes, clock: Clock, extra_headers: Sequence[tuple[str, str]] = ()) -> BLeg:
        """A new INVITE (RFC 3261 §8.1.1) for ``target``: own Call-ID, From tag, branch and CSeq, the server's
        Contact, Max-Forwards one less than the caller's, ``body`` as the offer, the option tags the server
        supports, then ``extra_headers`` (the session timer's)."""
        endpoint = target.endpoint
        local = local_addr(endpoint, fallback_host)
        max_forwards = a_invite.max_forwards
        invite = new_request(
            "INVITE", target.request_uri, from_uri=target.from_uri, to_uri=target.to_uri, local_addr=local,
            transport=endpoint.transport_name, from_display=target.from_display, from_tag=ids.tag(),
            call_id=ids.call_id(local[0]), cseq=1, branch=ids.branch(),
            contact=contact_uri(endpoint, fallback_host),
            max_forwards=(70 if max_forwards is None else max_forwards) - 1,
            extra_headers=[("Allow", ALLOW), ("Supported", SUPPORTED), *target.headers, *extra_headers], body=body,
            content_type=SDP if body else None,
            user_agent=user_agent or None)
        return cls(target, invite, local, clock=clock)

    def fail_over(self, response: Response, ids: IdGenerator) -> BLeg | None:
        """RFC 3263 §4.3: when the target has a next address and this leg is neither over nor being
        cancelled, the leg ends with ``response`` (superseded) and its INVITE goes on, the same request as
        a new transaction (only the branch changes), to that address on the same endpoint: the new leg,
        not yet sent. None otherwise."""
        target = self.target.next()
        if target is None or self.result is not None or self.cancel_wanted or self.cancel_sent:
            return None
        if target.endpoint is not self.endpoint:
            raise ValueError("the next address must be reached through the same endpoint (its Via is kept)")
        self.result, self.superseded = response, True
        self.stop_timers()
        return BLeg(target, with_new_branch(self.invite, ids.branch()), self.local, clock=self.clock)

    @property
    def endpoint(self) -> SipEndpoint:
        return self.target.endpoint

    @property
    def addr(self) -> Addr:
        return self.target.addr

    @property
    def transport(self) -> str:
        return self.endpoint.transport_name

    def send(self, on_event: Callable[[Event], None]) -> None:
        self.transaction = self.endpoint.send_request(self.invite, self.addr, on_event)

    def arm_timer_c(self, delay: float, on_fire: Callable[[], None]) -> None:
        """Timer C (RFC 3261 §16.6 step 11): ``on_fire`` after ``delay`` seconds, or later when
        ``restart_timer_c`` has moved its due time meanwhile."""
        if self.timer_c is not None:
            self.timer_c.cancel()
        self.timer_c_due = self.clock.time() + delay
        self.timer_c = self.clock.call_at(self.timer_c_due, self._timer_c_expired, on_fire)

    def restart_timer_c(self, delay: float) -> None:
        """A provisional response: Timer C starts over (RFC 3261 §16.7 step 2). Only its due time moves
        (no cancel and new timer per response); the armed timer, when it fires, waits for the rest."""
        self.timer_c_due = self.clock.time() + delay

    def _timer_c_expired(self, on_fire: Callable[[], None]) -> None:
        handle = self.timer_c
        if handle is not None and self.timer_c_due > handle.when():  # restarted since it was armed
            self.timer_c = self.clock.call_at(self.timer_c_due, self._timer_c_expired, on_fire)
            return
        on_fire()

    def cancel(self, reason: str | None, give_up_after: float, on_give_up: Callable[[], None]) -> None:
        """CANCEL the INVITE once a provisional response has come (else as soon as one does)."""
        if self.cancel_sent:
            return
        if reason is not None:
            self.cancel_reason = reason
        if not self.provisional:
            self.cancel_wanted = True
            return
        self.cancel_sent = True
        cancel = make_cancel(self.invite)
        if self.cancel_reason is not None:
            cancel.headers.add("Reason", self.cancel_reason)
        self.endpoint.send_request(cancel, self.addr)
        self.abandon = self.clock.call_later(give_up_after, on_give_up)

    def stop_timers(self, *, keep_abandon: bool = False) -> None:
        if self.no_response is not None:
            self.no_response.cancel()
            self.no_response = None
        if self.timer_c is not None:
            self.timer_c.cancel()
            self.timer_c = None
        if self.abandon is not None and not keep_abandon:
            self.abandon.cancel()
            self.abandon = None

    def send_ack(self, ids: IdGenerator, body: bytes = b"") -> None:
        """ACK the winning 2xx (RFC 3261 §13.2.2.4), once; ``send_ack_again`` repeats it."""
        if self.dialog is None or self.ack is not None:
            return
        self.ack = self.dialog.create_ack(self.invite.cseq.seq, ids.branch(), self.local, body,
                                          transport=self.transport, content_type=SDP if body else None)
        self.endpoint.send_stateless(self.ack, self.addr)

    def send_ack_again(self) -> None:
        if self.ack is not None:
            self.endpoint.send_stateless(self.ack, self.addr)

    def ack_and_bye(self, response: Response, ids: IdGenerator) -> None:
        """A 2xx nobody wants (another leg won, or the caller gave up): ACK it and hang up. Raises
        ProtocolError / SIPParseError when the 2xx creates no usable dialog."""
        _ack_and_bye(self.invite, response, ids, self.local, self.endpoint, self.addr)


def _ack_and_bye(invite: Request, response: Response, ids: IdGenerator, local: Addr, endpoint: SipEndpoint,
                 addr: Addr) -> None:
    dialog = Dialog.from_uac(invite, response)
    transport = endpoint.transport_name
    ack = dialog.create_ack(invite.cseq.seq, ids.branch(), local, transport=transport)
    endpoint.send_stateless(ack, addr)
    bye = dialog.create_bye(branch=ids.branch(), local_addr=local, transport=transport)
    endpoint.send_request(bye, addr)


def best_failure(legs: list[BLeg]) -> Response:
    """The final response for the caller when every leg failed: RFC 3261 §16.7 step 6, simplified: a 6xx
    if any, else the lowest 4xx/5xx status, among the legs not superseded by a next address."""
    failures = [leg.result for leg in legs
                if leg.result is not None and leg.result.status >= 300 and not leg.superseded]
    six = [r for r in failures if r.status >= 600]
    return six[0] if six else min(failures, key=lambda r: r.status)


class EndedLeg:
    """What a B leg's INVITE client transaction still needs once its call has ended and the leg has its
    final response: the transaction lingers (Timer D, or RFC 6026 Timer M after a 2xx) and may still pass
    up a retransmitted or forked 2xx. The winning 2xx gets the leg's ACK again; any other 2xx is ACKed and
    hung up (as :class:`~reference_server.call.Call` does). Holding only this, not the call, lets the
    call's messages, dialogs and media be freed when the call ends instead of when the transaction does.
    """

    __slots__ = ("invite", "ack", "local", "endpoint", "addr", "remote_tag", "ids", "call_id")

    def __init__(self, leg: BLeg, *, winner: bool, ids: IdGenerator, call_id: str) -> None:
        # without dialogs, responses, parsed header views, or the leg and its target (objects that would
        # otherwise outlive the call by the transaction's linger, for the cyclic GC to scan)
        self.invite = leg.invite.unparsed_copy()
        self.ack = leg.ack.unparsed_copy() if leg.ack is not None else None
        self.local, self.endpoint, self.addr = leg.local, leg.endpoint, leg.addr
        self.remote_tag = leg.dialog.remote_tag if winner and leg.dialog is not None else None
        self.ids = ids
        self.call_id = call_id

    def on_event(self, event: Event) -> None:
        if not isinstance(event, ResponseReceived) or not 200 <= event.response.status < 300:
            return
        response = event.response
        if self.remote_tag is not None and response.to.tag == self.remote_tag:
            if self.ack is not None:  # the winning 2xx again: our ACK was lost
                self.endpoint.send_stateless(self.ack, self.addr)
            return
        try:
            _ack_and_bye(self.invite, response, self.ids, self.local, self.endpoint, self.addr)
        except (ProtocolError, SIPParseError) as exc:
            log.info("call %s: cannot ACK a stray 2xx: %s", self.call_id, exc)
