"""Client transactions: INVITE (RFC 3261 §17.1.1 with RFC 6026's Accepted state) and non-INVITE (§17.1.2).

Each machine is its table at the end of this module; the methods above it are the table's actions.
"""

from __future__ import annotations

from .builders import ack_for_final
from .message import Request, Response
from .timers import TimerConfig
from .transaction import ClientTransaction, Input, State, TransactionTimeout, Transitions
from .transport_address import Address


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): the INVITE's Request-URI, a single Via
    equal to the INVITE's top Via (same branch), its From, Call-ID, CSeq number with method ACK and Route
    header fields; the To of the response (with its tag)."""
    return ack_for_final(invite, response.headers.get("To") or "")


class InviteClientTransaction(ClientTransaction):
    """INVITE client transaction: Calling, Proceeding, Completed, Accepted, Terminated.

    Timer A retransmits the INVITE (UDP only) at T1, 2*T1, 4*T1 ... after the first send; Timer B (64*T1)
    gives up in Calling. A 300-699 response is acknowledged here (the ACK is resent for every
    retransmission of it) and Timer D keeps absorbing them. A 2xx moves to Accepted (RFC 6026), where
    every further 2xx (retransmissions, other forks) goes to the TU until Timer M; the TU sends their ACKs.
    """

    kind = "INVITE client"
    initial_state = State.CALLING
    states = frozenset({State.CALLING, State.PROCEEDING, State.COMPLETED, State.ACCEPTED, State.TERMINATED})

    def __init__(self, request: Request, addr: Address, config: TimerConfig) -> None:
        super().__init__(request, addr, config)
        self._interval_a = config.timer_a
        #: The ACK sent for the non-2xx final response, once there is one.
        self.ack: Request | None = None
        self._ack_bytes = b""

    def _arm_initial(self, now: float) -> None:
        if self.config.retransmits:
            self._arm("A", self._interval_a, now)
        self._arm("B", self.config.timer_b, now)

    def _timer_a(self, now: float, message: None) -> None:
        self._retransmit()
        self._interval_a = self.config.next_interval(self._interval_a, capped=False)
        self._arm("A", self._interval_a, now)

    def _timer_b(self, now: float, message: None) -> None:
        self._emit(TransactionTimeout(self, "B"))

    def _provisional(self, now: float, response: Response) -> None:
        self._cancel("A", "B")
        self._pass_response(now, response)

    def _accepted(self, now: float, response: Response) -> None:
        self._cancel("A", "B")
        self._pass_response(now, response)
        self._arm("M", self.config.timer_m, now)

    def _completed(self, now: float, response: Response) -> None:
        self._cancel("A", "B")
        self._pass_response(now, response)
        self.ack = build_ack(self.request, response)
        self._ack_bytes = self.ack.to_bytes()
        self._send(self._ack_bytes)
        self._arm("D", self.config.timer_d, now)

    def _resend_ack(self, now: float, response: Response) -> None:
        self._send(self._ack_bytes)

    def _linger(self) -> None:
        super()._linger()
        if self.ack is not None:
            self.ack = self.ack.unparsed_copy()


class NonInviteClientTransaction(ClientTransaction):
    """Non-INVITE client transaction: Trying, Proceeding, Completed, Terminated.

    Timer E retransmits the request (UDP only) at intervals T1, 2*T1 ... capped at T2, and at T2 once a
    provisional response came (Proceeding); Timer F (64*T1) gives up; Timer K absorbs retransmitted finals.
    """

    kind = "non-INVITE client"
    initial_state = State.TRYING
    states = frozenset({State.TRYING, State.PROCEEDING, State.COMPLETED, State.TERMINATED})

    def __init__(self, request: Request, addr: Address, config: TimerConfig) -> None:
        super().__init__(request, addr, config)
        self._interval_e = config.timer_e

    def _arm_initial(self, now: float) -> None:
        if self.config.retransmits:
            self._arm("E", self._interval_e, now)
        self._arm("F", self.config.timer_f, now)

    def _timer_e_trying(self, now: float, message: None) -> None:
        self._retransmit()
        self._interval_e = self.config.next_interval(self._interval_e, capped=True)
        self._arm("E", self._interval_e, now)

    def _timer_e_proceeding(self, now: float, message: None) -> None:
        self._retransmit()
        self._interval_e = self.config.t2
        self._arm("E", self._interval_e, now)

    def _timer_f(self, now: float, message: None) -> None:
        self._emit(TransactionTimeout(self, "F"))

    def _provisional(self, now: float, response: Response) -> None:
        self._pass_response(now, response)

    def _completed(self, now: float, response: Response) -> None:
        self._cancel("E", "F")
        self._pass_response(now, response)
        self._arm("K", self.config.timer_k, now)


_ICT = InviteClientTransaction
INVITE_CLIENT_TRANSITIONS: Transitions = {
    (State.CALLING, Input.TIMER_A): (_ICT._timer_a, State.CALLING),
    (State.CALLING, Input.TIMER_B): (_ICT._timer_b, State.TERMINATED),
    (State.CALLING, Input.RECV_1XX): (_ICT._provisional, State.PROCEEDING),
    (State.CALLING, Input.RECV_2XX): (_ICT._accepted, State.ACCEPTED),
    (State.CALLING, Input.RECV_300_699): (_ICT._completed, State.COMPLETED),
    (State.PROCEEDING, Input.RECV_1XX): (_ICT._provisional, State.PROCEEDING),
    (State.PROCEEDING, Input.RECV_2XX): (_ICT._accepted, State.ACCEPTED),
    (State.PROCEEDING, Input.RECV_300_699): (_ICT._completed, State.COMPLETED),
    (State.COMPLETED, Input.RECV_300_699): (_ICT._resend_ack, State.COMPLETED),
    (State.COMPLETED, Input.TIMER_D): (_ICT._terminate, State.TERMINATED),
    (State.ACCEPTED, Input.RECV_2XX): (_ICT._pass_response, State.ACCEPTED),
    (State.ACCEPTED, Input.TIMER_M): (_ICT._terminate, State.TERMINATED),
}
InviteClientTransaction._transitions = INVITE_CLIENT_TRANSITIONS

_NICT = NonInviteClientTransaction
NON_INVITE_CLIENT_TRANSITIONS: Transitions = {
    (State.TRYING, Input.TIMER_E): (_NICT._timer_e_trying, State.TRYING),
    (State.TRYING, Input.TIMER_F): (_NICT._timer_f, State.TERMINATED),
    (State.TRYING, Input.RECV_1XX): (_NICT._provisional, State.PROCEEDING),
    (State.TRYING, Input.RECV_2XX): (_NICT._completed, State.COMPLETED),
    (State.TRYING, Input.RECV_300_699): (_NICT._completed, State.COMPLETED),
    (State.PROCEEDING, Input.TIMER_E): (_NICT._timer_e_proceeding, State.PROCEEDING),
    (State.PROCEEDING, Input.TIMER_F): (_NICT._timer_f, State.TERMINATED),
    (State.PROCEEDING, Input.RECV_1XX): (_NICT._provisional, State.PROCEEDING),
    (State.PROCEEDING, Input.RECV_2XX): (_NICT._completed, State.COMPLETED),
    (State.PROCEEDING, Input.RECV_300_699): (_NICT._completed, State.COMPLETED),
    (State.COMPLETED, Input.TIMER_K): (_NICT._terminate, State.TERMINATED),
}
NonInviteClientTransaction._transitions = NON_INVITE_CLIENT_TRANSITIONS
