"""SIP transactions (RFC 3261 §17, RFC 6026): states, inputs, events and the machinery every machine shares.

Rules of this module family (h11's ``_state.py`` style):

* Each machine's behaviour is one table, ``_transitions``, keyed by (state, input) and giving
  (action, next state). Nothing else changes a transaction's state.
* An input with no entry is handled by its origin: a *local* input (the TU sending a response) raises
  :class:`~sipcore.errors.ProtocolError` naming the machine, the state and the input; a *remote* input
  (a stray response, an early ACK) is absorbed; a *timer* that fires in a state that no longer uses it is
  ignored.
* Time is a parameter ``now`` (seconds); timers are deadlines in ``Transaction.timers``. A timer of zero
  duration (D, I, J, K on a reliable transport) fires before the input that armed it returns.
* Transactions never do I/O: what they send and the events they raise wait in an outbox the
  :class:`~sipcore.transaction_layer.TransactionLayer` drains (:meth:`Transaction.take_output`).

The machines themselves are in :mod:`sipcore.transaction_client` and :mod:`sipcore.transaction_server`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import ProtocolError, SIPParseError
from .message import Request, Response
from .timers import TimerConfig
from .transport_address import Address

"""A transport address: (host, port)."""


class State(enum.Enum):
    """Transaction states, named as in RFC 3261 §17 and RFC 6026."""

    # Members are singletons compared by identity: hash them by identity too (a C slot) instead of
    # Enum's Python-level __hash__, since every input looks up (state, input) in a transition table.
    __hash__ = object.__hash__

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(enum.Enum):
    """Everything that can happen to a transaction."""

    __hash__ = object.__hash__  # as State's: identity, hashed in C

    # from the TU (local): an input the state does not allow raises ProtocolError
    SEND_1XX = "send a 1xx response"
    SEND_2XX = "send a 2xx response"
    SEND_300_699 = "send a 300-699 response"
    # from the network (remote): an input the state does not expect is absorbed
    RECV_REQUEST = "receive a retransmission of the request"
    RECV_ACK = "receive an ACK"
    RECV_1XX = "receive a 1xx response"
    RECV_2XX = "receive a 2xx response"
    RECV_300_699 = "receive a 300-699 response"
    # timers: one firing in a state that does not use it is ignored
    TIMER_A = "Timer A fires"
    TIMER_B = "Timer B fires"
    TIMER_D = "Timer D fires"
    TIMER_E = "Timer E fires"
    TIMER_F = "Timer F fires"
    TIMER_G = "Timer G fires"
    TIMER_H = "Timer H fires"
    TIMER_I = "Timer I fires"
    TIMER_J = "Timer J fires"
    TIMER_K = "Timer K fires"
    TIMER_L = "Timer L fires"
    TIMER_M = "Timer M fires"
    TIMER_100 = "the 100 Trying timer fires"


LOCAL_INPUTS = frozenset({Input.SEND_1XX, Input.SEND_2XX, Input.SEND_300_699})
REMOTE_INPUTS = frozenset({Input.RECV_REQUEST, Input.RECV_ACK, Input.RECV_1XX, Input.RECV_2XX,
                           Input.RECV_300_699})
TIMER_INPUTS: dict[str, Input] = {
    "A": Input.TIMER_A, "B": Input.TIMER_B, "D": Input.TIMER_D, "E": Input.TIMER_E, "F": Input.TIMER_F,
    "G": Input.TIMER_G, "H": Input.TIMER_H, "I": Input.TIMER_I, "J": Input.TIMER_J, "K": Input.TIMER_K,
    "L": Input.TIMER_L, "M": Input.TIMER_M, "100": Input.TIMER_100,
}


LINGERING_STATES = frozenset({State.COMPLETED, State.CONFIRMED, State.ACCEPTED})
"""States after the final response, kept only to absorb retransmissions (RFC 3261 §17, RFC 6026)."""

TIMER_NAMES: dict[Input, str] = {input_: name for name, input_ in TIMER_INPUTS.items()}


def response_input(status: int, *, sending: bool) -> Input:
    """The input a response of ``status`` is: sent by the TU (``sending``) or received."""
    if status < 200:
        return Input.SEND_1XX if sending else Input.RECV_1XX
    if status < 300:
        return Input.SEND_2XX if sending else Input.RECV_2XX
    return Input.SEND_300_699 if sending else Input.RECV_300_699


def _check_message(input_: Input, message: Request | Response | None) -> None:
    """Refuse an input paired with the wrong kind of message (a programming error, not a protocol one)."""
    if input_ in TIMER_NAMES:
        ok = message is None
    elif input_ in (Input.RECV_REQUEST, Input.RECV_ACK):
        ok = isinstance(message, Request) and (message.method == "ACK") == (input_ is Input.RECV_ACK)
    else:
        ok = (isinstance(message, Response)
              and response_input(message.status, sending=input_ in LOCAL_INPUTS) is input_)
    if not ok:
        raise ValueError(f"input {input_.value!r} cannot carry {message!r}")


# --- events ------------------------------------------------------------------------------------------


class Event:
    """Base class of what the transaction layer reports to the TU (:meth:`TransactionLayer.next_event`)."""


@dataclass
class RequestReceived(Event):
    """A request for the TU: a new server transaction, an ACK for a 2xx, or a CANCEL."""

    request: Request
    """The request, its top Via stamped with received/rport (RFC 3261 §18.2.1, RFC 3581)."""
    addr: Address
    """The source address it came from."""
    transaction: ServerTransaction | None
    """The new server transaction to answer through; None for an ACK (to a 2xx, or matching nothing)."""
    invite_transaction: ServerTransaction | None = None
    """For a CANCEL: the INVITE server transaction it cancels (same branch and sent-by, method INVITE; or
    the RFC 2543 rules); None if there is none (answer the CANCEL 481)."""


@dataclass
class ResponseReceived(Event):
    """A response a client transaction passes to the TU (retransmissions of a non-2xx final are absorbed;
    every 2xx is passed up, RFC 6026)."""

    response: Response
    """The response as received."""
    transaction: ClientTransaction
    """The client transaction it belongs to."""


@dataclass
class TransactionTimeout(Event):
    """A transaction gave up: no final response (Timer B, F) or no ACK (Timer H)."""

    transaction: Transaction
    """The transaction; a TransactionTerminated event for it follows."""
    timer: str
    """The timer that fired: "B", "F" or "H"."""


@dataclass
class TransactionTerminated(Event):
    """A transaction reached the Terminated state; the layer has forgotten it."""

    transaction: Transaction
    """The terminated transaction."""


# --- the shared machinery ----------------------------------------------------------------------------

Action = Callable[[Any, float, Any], None]
"""An action: called as ``action(transaction, now, message)``; message is the input's message or None."""
Transitions = Mapping[tuple[State, Input], tuple[Action, State]]


class Transaction:
    """One transaction: a request, its peer address, a state, timers, and an outbox."""

    kind: ClassVar[str] = "transaction"
    initial_state: ClassVar[State] = State.TERMINATED
    states: ClassVar[frozenset[State]] = frozenset()
    _transitions: ClassVar[Transitions] = {}

    def __init__(self, request: Request, addr: Address, config: TimerConfig) -> None:
        #: The request that created the transaction.
        self.request = request
        #: Where this transaction sends: the request's destination (client) or the response address
        #: (server, RFC 3261 §18.2.2).
        self.addr = addr
        self.config = config
        #: The top Via branch ("" when the request has none).
        self.branch = request.top_via.branch or ""
        self.method = request.method
        self.state = self.initial_state
        #: Armed timers: name ("A" ... "M", "100") -> deadline.
        self.timers: dict[str, float] = {}
        self._started = False
        self._lingering = False
        self._outbox: list[tuple[bytes, Address]] = []
        self._events: list[Event] = []

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.method} {self.branch} {self.state.value}>"

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    # -- output -------------------------------------------------------------------------------------
    def take_output(self) -> tuple[list[tuple[bytes, Address]], list[Event]]:
        """Return and forget what the transaction sent and the events it raised, in order."""
        out, events = self._outbox, self._events
        self._outbox, self._events = [], []
        return out, events

    def _send(self, data: bytes) -> None:
        self._outbox.append((data, self.addr))

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    # -- timers -------------------------------------------------------------------------------------
    def get_timer(self) -> float | None:
        """The earliest armed deadline, or None."""
        return min(self.timers.values(), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire every timer whose deadline is at or before ``now``, earliest first."""
        timers = self.timers
        while timers:
            deadline = min(timers.values())
            if deadline > now:  # the usual case: nothing due
                return
            name = min(name for name, when in timers.items() if when == deadline)  # ties by name
            del timers[name]
            self._handle(TIMER_INPUTS[name], now, None)

    def _arm(self, name: str, duration: float, now: float) -> None:
        self.timers[name] = now + duration

    def _cancel(self, *names: str) -> None:
        for name in names:
            self.timers.pop(name, None)

    def start(self, now: float) -> None:
        """Begin the transaction (the client sends its request); call once."""
        raise NotImplementedError

    # -- dispatch -----------------------------------------------------------------------------------
    def _begin(self, now: float) -> None:
        if self._started:
            raise ProtocolError(f"{self.kind} transaction in state {self.state.value} was already started")
        self._started = True

    def process_input(self, input_: Input, now: float, message: Request | Response | None = None) -> None:
        """Feed one input (h2's ``process_input``) with the message that carries it (None for a timer:
        the timer is taken as fired), then fire the timers it left due (the zero-duration ones).

        The typed methods (:meth:`ClientTransaction.receive_response`, :meth:`ServerTransaction.send_response`
        ...) do the same through :meth:`_process_message`; tests call this to drive every (state, input) pair.
        """
        _check_message(input_, message)
        if not self._started:
            raise ProtocolError(f"{self.kind} transaction was not started: cannot {input_.value}")
        timer = TIMER_NAMES.get(input_)
        if timer is not None:
            self.timers.pop(timer, None)
        self._handle(input_, now, message)
        self.handle_timer(now)

    def _process_message(self, input_: Input, now: float, message: Request | Response) -> None:
        """process_input for the typed methods: they derive ``input_`` from ``message`` (so the pair is
        right, and it is no timer), which spares the checks a caller of process_input needs."""
        if not self._started:
            raise ProtocolError(f"{self.kind} transaction was not started: cannot {input_.value}")
        self._handle(input_, now, message)
        self.handle_timer(now)

    def _handle(self, input_: Input, now: float, message: Request | Response | None) -> None:
        transition = self._transitions.get((self.state, input_))
        if transition is None:
            if input_ in LOCAL_INPUTS:
                raise ProtocolError(f"{self.kind} transaction in state {self.state.value} "
                                    f"cannot {input_.value}")
            return  # remote junk absorbed, stale timer ignored
        action, next_state = transition
        action(self, now, message)
        if next_state is not self.state:
            self.state = next_state
            if next_state is State.TERMINATED:
                self.timers.clear()
                self._emit(TransactionTerminated(self))
            elif next_state in LINGERING_STATES and not self._lingering:
                self._lingering = True
                self._linger()

    def _linger(self) -> None:
        """The final response is settled and the transaction only absorbs retransmissions until its last
        timer: keep unparsed copies of its messages instead of the TU's (see Request.unparsed_copy)."""
        self.request = self.request.unparsed_copy()

    # -- actions shared by several machines ---------------------------------------------------------
    def _terminate(self, now: float, message: object) -> None:
        """Nothing to do: the next state is Terminated."""

    def _absorb(self, now: float, message: object) -> None:
        """Nothing to do: the input is consumed and the state kept."""


class ClientTransaction(Transaction):
    """A client transaction: sends a request, passes the responses that matter to the TU."""

    def __init__(self, request: Request, addr: Address, config: TimerConfig) -> None:
        super().__init__(request, addr, config)
        self._request_bytes = request.to_bytes()

    def start(self, now: float) -> None:
        """Send the request and arm the timers of the initial state."""
        self._begin(now)
        self._send(self._request_bytes)
        self._arm_initial(now)
        self.handle_timer(now)

    def _arm_initial(self, now: float) -> None:
        raise NotImplementedError

    def receive_response(self, response: Response, now: float) -> None:
        """A response that matched this transaction (RFC 3261 §17.1.3)."""
        self._process_message(response_input(response.status, sending=False), now, response)

    def _retransmit(self) -> None:
        self._send(self._request_bytes)

    def _pass_response(self, now: float, response: Response) -> None:
        self._emit(ResponseReceived(response, self))


class ServerTransaction(Transaction):
    """A server transaction: answers a request through the TU's responses, absorbs retransmissions."""

    def __init__(self, request: Request, addr: Address, config: TimerConfig, *,
                 source: Address | None = None) -> None:
        super().__init__(request, addr, config)
        #: Where the request came from (``addr`` is where responses go).
        self.source: Address = addr if source is None else source
        #: The last response sent, provisional or final.
        self.last_response: Response | None = None
        self._last_bytes: bytes | None = None
        self._last_source = self.source  # of the last request matched (an ACK in Accepted)
        #: The key the transaction layer files it under (branch, sent-by, method), None for RFC 2543 ones.
        self.layer_key: tuple[str, str, int, str] | None = None

    def start(self, now: float) -> None:
        """Begin: the layer has passed the request to the TU."""
        self._begin(now)
        self._on_start(now)
        self.handle_timer(now)

    def _on_start(self, now: float) -> None:
        """What the machine does when created (the INVITE server arms the 100 Trying timer)."""

    def receive_request(self, request: Request, source: Address, now: float) -> None:
        """A request that matched this transaction (§17.2.3): a retransmission, or an ACK."""
        self._last_source = source
        self._process_message(Input.RECV_ACK if request.method == "ACK" else Input.RECV_REQUEST, now, request)

    def send_response(self, response: Response, now: float) -> None:
        """Send a response from the TU; ProtocolError if the state does not allow it."""
        try:
            method = response.cseq.method
        except SIPParseError as exc:
            raise ProtocolError(f"{self.kind} transaction cannot send a response with {exc}") from exc
        if method != self.method:
            raise ProtocolError(f"{self.kind} transaction in state {self.state.value} cannot send a "
                                f"response for CSeq method {method}")
        self._process_message(response_input(response.status, sending=True), now, response)

    def _linger(self) -> None:
        super()._linger()
        if self.last_response is not None:
            self.last_response = self.last_response.unparsed_copy()

    def _transmit(self, response: Response) -> None:
        self.last_response = response.unparsed_copy() if self._lingering else response
        self._last_bytes = response.to_bytes()
        self._send(self._last_bytes)

    def _resend_last(self, now: float, message: object) -> None:
        """Resend the last response (absorbing a retransmitted request); nothing if none was sent."""
        if self._last_bytes is not None:
            self._send(self._last_bytes)
