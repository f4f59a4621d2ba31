"""Server transactions: INVITE (RFC 3261 §17.2.1 with RFC 6026's Accepted state) and non-INVITE (§17.2.2),
and the RFC 2543 matching rules (§17.2.3) for requests whose branch lacks the magic cookie.

Each machine is its table at the end of this module; the methods above it are the table's actions.
"""

from __future__ import annotations

from .errors import SIPParseError
from .headers import Via
from .message import Request, Response, make_response
from .timers import TimerConfig
from .transaction import (
    Input,
    RequestReceived,
    ServerTransaction,
    State,
    TransactionTimeout,
    Transitions,
)
from .transport_address import Address

DEFAULT_AUTO_100_DELAY = 0.2
"""Send 100 Trying unless the TU answers within 200 ms (RFC 3261 §17.2.1)."""


def trying_response(request: Request) -> Response:
    """The 100 Trying for ``request``: no To tag, Timestamp copied (RFC 3261 §8.2.6.1)."""
    response = make_response(request, 100)
    timestamp = request.headers.get("Timestamp")
    if timestamp is not None:
        response.headers.add("Timestamp", timestamp)
    response.headers.add("Content-Length", "0")
    return response


class InviteServerTransaction(ServerTransaction):
    """INVITE server transaction: Proceeding, Completed, Confirmed, Accepted, Terminated.

    The 100 Trying goes out ``auto_100_delay`` seconds after the INVITE unless the TU has responded by
    then (0: at once; None: never). A retransmitted INVITE gets the last provisional again. A 300-699
    final is retransmitted by Timer G (UDP only) until an ACK (-> Confirmed, Timer I) or Timer H. After a
    2xx (RFC 6026 Accepted, Timer L) retransmitted INVITEs are absorbed, the TU's own 2xx
    retransmissions are sent, and an ACK that matches (RFC 2543 rules, or a peer reusing the INVITE's
    branch) is passed to the TU without a transaction.
    """

    kind = "INVITE server"
    initial_state = State.PROCEEDING
    states = frozenset({State.PROCEEDING, State.COMPLETED, State.CONFIRMED, State.ACCEPTED,
                        State.TERMINATED})

    def __init__(self, request: Request, addr: Address, config: TimerConfig, *,
                 source: Address | None = None,
                 auto_100_delay: float | None = DEFAULT_AUTO_100_DELAY) -> None:
        super().__init__(request, addr, config, source=source)
        self.auto_100_delay = auto_100_delay
        self._interval_g = config.timer_g

    def _on_start(self, now: float) -> None:
        if self.auto_100_delay is None:
            return
        if self.auto_100_delay <= 0:
            self._send_100(now, None)
        else:
            self._arm("100", self.auto_100_delay, now)

    def _send_100(self, now: float, message: None) -> None:
        self._transmit(trying_response(self.request))

    def _provisional(self, now: float, response: Response) -> None:
        self._cancel("100")
        self._transmit(response)

    def _accepted(self, now: float, response: Response) -> None:
        self._cancel("100")
        self._transmit(response)
        self._arm("L", self.config.timer_l, now)

    def _retransmit_2xx(self, now: float, response: Response) -> None:
        self._transmit(response)

    def _completed(self, now: float, response: Response) -> None:
        self._cancel("100")
        self._transmit(response)
        if self.config.retransmits:
            self._arm("G", self._interval_g, now)
        self._arm("H", self.config.timer_h, now)

    def _timer_g(self, now: float, message: None) -> None:
        self._resend_last(now, None)
        self._interval_g = self.config.next_interval(self._interval_g, capped=True)
        self._arm("G", self._interval_g, now)

    def _timer_h(self, now: float, message: None) -> None:
        self._emit(TransactionTimeout(self, "H"))

    def _confirmed(self, now: float, ack: Request) -> None:
        self._cancel("G", "H")
        self._arm("I", self.config.timer_i, now)

    def _ack_to_tu(self, now: float, ack: Request) -> None:
        self._emit(RequestReceived(ack, self._last_source, None))


class NonInviteServerTransaction(ServerTransaction):
    """Non-INVITE server transaction: Trying, Proceeding, Completed, Terminated.

    Retransmitted requests get the last response again (none in Trying); Timer J keeps the final
    response for retransmissions (UDP only; 0 on reliable transports).
    """

    kind = "non-INVITE server"
    initial_state = State.TRYING
    states = frozenset({State.TRYING, State.PROCEEDING, State.COMPLETED, State.TERMINATED})

    def _provisional(self, now: float, response: Response) -> None:
        self._transmit(response)

    def _completed(self, now: float, response: Response) -> None:
        self._transmit(response)
        self._arm("J", self.config.timer_j, now)


_IST = InviteServerTransaction
INVITE_SERVER_TRANSITIONS: Transitions = {
    (State.PROCEEDING, Input.RECV_REQUEST): (_IST._resend_last, State.PROCEEDING),
    (State.PROCEEDING, Input.SEND_1XX): (_IST._provisional, State.PROCEEDING),
    (State.PROCEEDING, Input.SEND_2XX): (_IST._accepted, State.ACCEPTED),
    (State.PROCEEDING, Input.SEND_300_699): (_IST._completed, State.COMPLETED),
    (State.PROCEEDING, Input.TIMER_100): (_IST._send_100, State.PROCEEDING),
    (State.COMPLETED, Input.RECV_REQUEST): (_IST._resend_last, State.COMPLETED),
    (State.COMPLETED, Input.RECV_ACK): (_IST._confirmed, State.CONFIRMED),
    (State.COMPLETED, Input.TIMER_G): (_IST._timer_g, State.COMPLETED),
    (State.COMPLETED, Input.TIMER_H): (_IST._timer_h, State.TERMINATED),
    (State.CONFIRMED, Input.RECV_REQUEST): (_IST._absorb, State.CONFIRMED),
    (State.CONFIRMED, Input.RECV_ACK): (_IST._absorb, State.CONFIRMED),
    (State.CONFIRMED, Input.TIMER_I): (_IST._terminate, State.TERMINATED),
    (State.ACCEPTED, Input.RECV_REQUEST): (_IST._absorb, State.ACCEPTED),
    (State.ACCEPTED, Input.RECV_ACK): (_IST._ack_to_tu, State.ACCEPTED),
    (State.ACCEPTED, Input.SEND_2XX): (_IST._retransmit_2xx, State.ACCEPTED),
    (State.ACCEPTED, Input.TIMER_L): (_IST._terminate, State.TERMINATED),
}
InviteServerTransaction._transitions = INVITE_SERVER_TRANSITIONS

_NIST = NonInviteServerTransaction
NON_INVITE_SERVER_TRANSITIONS: Transitions = {
    (State.TRYING, Input.RECV_REQUEST): (_NIST._absorb, State.TRYING),
    (State.TRYING, Input.SEND_1XX): (_NIST._provisional, State.PROCEEDING),
    (State.TRYING, Input.SEND_2XX): (_NIST._completed, State.COMPLETED),
    (State.TRYING, Input.SEND_300_699): (_NIST._completed, State.COMPLETED),
    (State.PROCEEDING, Input.RECV_REQUEST): (_NIST._resend_last, State.PROCEEDING),
    (State.PROCEEDING, Input.SEND_1XX): (_NIST._provisional, State.PROCEEDING),
    (State.PROCEEDING, Input.SEND_2XX): (_NIST._completed, State.COMPLETED),
    (State.PROCEEDING, Input.SEND_300_699): (_NIST._completed, State.COMPLETED),
    (State.COMPLETED, Input.RECV_REQUEST): (_NIST._resend_last, State.COMPLETED),
    (State.COMPLETED, Input.TIMER_J): (_NIST._terminate, State.TERMINATED),
}
NonInviteServerTransaction._transitions = NON_INVITE_SERVER_TRANSITIONS


# --- RFC 2543 matching (§17.2.3, for a top Via branch without the magic cookie) -----------------------


def _via_identity(via: Via) -> tuple[object, ...]:
    params = frozenset((k.lower(), None if v is None else v.lower()) for k, v in via.params.items())
    return (via.protocol.upper(), via.transport.upper(), via.host.lower(), via.port, params)


def _same_request_uri(a: Request, b: Request) -> bool:
    try:
        return bool(a.uri_parsed == b.uri_parsed)
    except SIPParseError:
        return a.uri == b.uri


def matches_rfc2543(transaction: ServerTransaction, request: Request, *, as_method: str | None = None) -> bool:
    """Whether ``request`` belongs to ``transaction`` by the RFC 2543 rules: Request-URI, From tag,
    Call-ID, CSeq number and top Via equal to the creating request's; then for an ACK, the To tag equal
    to that of the final response the transaction sent; for other requests the To tag and the CSeq method.
    ``as_method="INVITE"`` matches a CANCEL against the INVITE it cancels (RFC 3261 §9.2)."""
    original = transaction.request
    try:
        method = as_method or request.cseq.method
        if (request.call_id != original.call_id or request.cseq.seq != original.cseq.seq
                or request.from_.tag != original.from_.tag
                or _via_identity(request.top_via) != _via_identity(original.top_via)
                or not _same_request_uri(request, original)):
            return False
        if request.method == "ACK" and as_method is None:
            final = transaction.last_response
            return (transaction.method == "INVITE" and final is not None and final.status >= 200
                    and request.to.tag == final.to.tag)
        return transaction.method == method and request.to.tag == original.to.tag
    except SIPParseError:
        return False


def response_matches_rfc2543(transaction: ServerTransaction, response: Response) -> bool:
    """Whether a response from the TU answers ``transaction`` (created by an RFC 2543 request): top Via,
    Call-ID, CSeq and From tag equal to the request's."""
    original = transaction.request
    try:
        return (response.call_id == original.call_id and response.cseq == original.cseq
                and response.from_.tag == original.from_.tag
                and _via_identity(response.top_via) == _via_identity(original.top_via))
    except SIPParseError:
        return False
