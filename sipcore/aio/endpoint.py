"""The asyncio shell around the transaction layer: one transport, one TransactionLayer, one timer.

Like aioquic's protocol adapter it only moves bytes and re-arms a single timer: everything that arrives
is fed to :class:`~sipcore.transaction_layer.TransactionLayer` with ``now`` read from the endpoint's
:class:`~sipcore.aio.clock.Clock` (the event loop's unless another is given), then the datagrams it wants
sent are sent, its events are dispatched, and the timer is re-armed on that clock for its next deadline.
Events for a client transaction go to the handler given with that request, the rest to the endpoint's
``on_event``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from ..errors import SIPParseError
from ..message import Request, Response, make_response
from ..stateless import error_response_bytes
from ..timers import TimerConfig
from ..transaction import (
    ClientTransaction,
    Event,
    ResponseReceived,
    ServerTransaction,
    State,
    Transaction,
    TransactionTerminated,
    TransactionTimeout,
)
from ..transaction_layer import TransactionLayer
from ..transport_address import bracketed
from .clock import LOOP_CLOCK, Clock, LoopClock, TimerHandle
from .tls import TlsError, TlsOptions, TlsTransport
from .transport import (
    Addr,
    ErrorHandler,
    MessageHandler,
    TcpTransport,
    Transport,
    UdpTransport,
    UnreachableHandler,
)

log = logging.getLogger(__name__)

EventHandler = Callable[[Event, "SipEndpoint"], None]
ParseErrorHandler = Callable[[bytes, Addr, SIPParseError], None]
SentObserver = Callable[[bytes, Addr], None]
#: Builds an endpoint's transport from the endpoint's callbacks (message, parse error, unreachable peer).
TransportFactory = Callable[[MessageHandler, ErrorHandler, UnreachableHandler], Awaitable[Transport]]
ReceivedObserver = Callable[[Request | Response, Addr], None]


class SipEndpoint:
    """A SIP transport endpoint (UDP, TCP or TLS on one address) with its transaction layer."""

    def __init__(self, on_event: EventHandler, *, timers: TimerConfig | None = None,
                 auto_100_delay: float | None = 0.2, agent: str | None = None,
                 on_parse_error: ParseErrorHandler | None = None, on_sent: SentObserver | None = None,
                 on_received: ReceivedObserver | None = None, clock: Clock = LOOP_CLOCK) -> None:
        """``on_sent(data, addr)`` sees every datagram or stream write (retransmissions included) and
        ``on_received(message, addr)`` every parsed message before the transaction layer does: recording
        and tracing hooks, which must not send. ``agent`` is the warn-agent of the Warning header in the
        answer to a malformed request (RFC 3261 §20.43: host:port or a token); None names the endpoint's
        own address. ``clock`` times the transactions and ``request``'s bound."""
        self._on_event = on_event
        self.on_sent = on_sent
        self.on_received = on_received
        self._timers = timers
        self._auto_100_delay = auto_100_delay
        self.agent = agent
        self.clock = clock
        self._time = clock.time  # the running loop's own time() once open() knows the loop (see there)
        self.on_parse_error = on_parse_error
        self.transport: Transport | None = None
        self.layer: TransactionLayer | None = None
        self._timer: TimerHandle | None = None
        self._timer_at = 0.0  # when self._timer is due
        self._handlers: dict[int, Callable[[Event], None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pumping = False
        self.parse_errors = 0

    @classmethod
    async def open(cls, transport: str, host: str, port: int, on_event: EventHandler, *,
                   tls: TlsOptions | None = None, **kwargs: object) -> SipEndpoint:
        """Bind ``transport`` ("UDP", "TCP" or "TLS", the latter with ``tls``: certificate, key, CA ...) on
        host:port (port 0 picks one)."""
        self = cls(on_event, **kwargs)  # type: ignore[arg-type]
        self._bind_loop()
        kind = transport.upper()
        if kind == "UDP":
            self.transport = await UdpTransport.listen(host, port, self._received, self._malformed,
                                                       self._unreachable)
        elif kind == "TCP":
            self.transport = await TcpTransport.listen(host, port, self._received, self._malformed,
                                                       self._unreachable, clock=self.clock)
        elif kind == "TLS":
            if tls is None:
                raise TlsError("a TLS endpoint needs its TLS options (certificate, key, CA file)")
            if not tls.accept:
                self.transport = TlsTransport.connect_only(host, port, self._received, self._malformed,
                                                           self._unreachable, options=tls, clock=self.clock)
            else:
                self.transport = await TlsTransport.listen(host, port, self._received, self._malformed,
                                                           self._unreachable, options=tls, clock=self.clock)
        else:
            raise ValueError(f"unsupported transport {transport!r}: use UDP, TCP or TLS")
        self.layer = TransactionLayer(reliable=self.transport.reliable, timers=self._timers,
                                      auto_100_delay=self._auto_100_delay)
        return self

    @classmethod
    async def over(cls, make_transport: TransportFactory, on_event: EventHandler, *,
                   reliable: bool = False, **kwargs: object) -> SipEndpoint:
        """An endpoint over a transport built by ``await make_transport(on_message, on_error,
        on_unreachable)`` (the endpoint's own callbacks, as :meth:`UdpTransport.listen` takes them): a
        listener that screens what it receives first, or one fed by another process. ``reliable`` must
        match the transport's."""
        self = cls(on_event, **kwargs)  # type: ignore[arg-type]
        self._bind_loop()
        self.transport = await make_transport(self._received, self._malformed, self._unreachable)
        self.layer = TransactionLayer(reliable=reliable, timers=self._timers, auto_100_delay=self._auto_100_delay)
        return self

    def _bind_loop(self) -> None:
        """The endpoint runs on the running loop; on its clock (a LoopClock) it reads that loop's time()
        directly: LOOP_CLOCK finds the loop through asyncio.get_running_loop(), which on CPython 3.11 makes
        a getpid() system call each time, and the endpoint reads its clock ~30 times a call."""
        self._loop = asyncio.get_running_loop()
        if type(self.clock) is LoopClock:
            self._time = self._loop.time

    @property
    def local_addr(self) -> Addr:
        assert self.transport is not None
        return self.transport.local_addr

    @property
    def transport_name(self) -> str:
        assert self.transport is not None
        return self.transport.name

    @property
    def warn_agent(self) -> str:
        """The warn-agent of this endpoint's Warning headers: ``agent``, else its own host:port."""
        host, port = self.local_addr[:2]
        return self.agent or f"{bracketed(host)}:{port}"

    def _now(self) -> float:
        return self._time()

    # -- what the TU calls ----------------------------------------------------------------------------
    def send_request(self, request: Request, addr: Addr,
                     on_response: Callable[[Event], None] | None = None) -> ClientTransaction:
        """Start a client transaction. Its ResponseReceived, TransactionTimeout and
        TransactionTerminated events go to ``on_response`` when given."""
        assert self.layer is not None
        transaction = self.layer.send_request(request, addr, self._time())
        if on_response is not None:
            self._handlers[id(transaction)] = on_response
        self._pump()
        return transaction

    def replace_handler(self, transaction: ClientTransaction, on_response: Callable[[Event], None]) -> None:
        """Route a live client transaction's further events to ``on_response`` instead of the handler given
        to :meth:`send_request` (e.g. a smaller one once the TU has released the state the first one
        closed over). Nothing happens for a transaction that has no handler or has terminated."""
        if id(transaction) in self._handlers and not transaction.terminated:
            self._handlers[id(transaction)] = on_response

    async def request(self, request: Request, addr: Addr, *, timeout: float = 40.0,
                      on_provisional: Callable[[Response], None] | None = None) -> Response:
        """Send a request and wait for its final response. Raises TimeoutError on Timer B/F (or after
        ``timeout`` seconds, a bound in case the peer keeps the transaction in Proceeding)."""
        assert self._loop is not None
        done: asyncio.Future[Response] = self._loop.create_future()

        def handler(event: Event) -> None:
            if done.done():
                return
            if isinstance(event, ResponseReceived):
                if event.response.status < 200:
                    if on_provisional is not None:
                        on_provisional(event.response)
                else:
                    done.set_result(event.response)
            elif isinstance(event, TransactionTimeout):
                done.set_exception(TimeoutError(
                    f"no final response to {request.method} from {addr[0]}:{addr[1]} (Timer {event.timer})"))

        self.send_request(request, addr, handler)
        return await self.clock.wait_for(done, timeout)

    def send_response(self, response: Response, transaction: ServerTransaction | None = None) -> None:
        """Send a response through ``transaction`` (that of the RequestReceived it answers; without it
        the layer finds the transaction from the response's Via and CSeq, see TransactionLayer)."""
        assert self.layer is not None
        self.layer.send_response(response, self._time(), transaction)
        self._pump()

    def send_stateless(self, message: Request | Response, addr: Addr) -> None:
        """Send outside any transaction (ACK for a 2xx, 2xx retransmissions by the TU)."""
        assert self.layer is not None
        self.layer.send_stateless(message, addr)
        self._pump()

    def abandon(self, transaction: ClientTransaction) -> None:
        """Give up a client transaction that has no timer left (see TransactionLayer.abandon)."""
        assert self.layer is not None
        self.layer.abandon(transaction)
        self._pump()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.close()

    # -- transport callbacks --------------------------------------------------------------------------
    def _send(self, data: bytes, addr: Addr, transport: Transport) -> None:
        if self.on_sent is not None:
            self.on_sent(data, addr)
        transport.send(data, addr)

    def _received(self, message: Request | Response, addr: Addr, transport: Transport) -> None:
        assert self.layer is not None
        if self.on_received is not None:
            self.on_received(message, addr)
        try:
            self.layer.receive(message, addr, self._time())
        except SIPParseError as exc:  # e.g. a Via the layer cannot use
            self._malformed(message.to_bytes(), addr, exc, transport)
            return
        self._pump()

    def _malformed(self, data: bytes, addr: Addr, error: SIPParseError, transport: Transport) -> None:
        self.parse_errors += 1
        log.info("malformed message from %s:%d (%d bytes): %s", addr[0], addr[1], len(data), error)
        if self.on_parse_error is not None:
            self.on_parse_error(data, addr, error)
        answer = error_response_bytes(data, error, agent=self.warn_agent)
        if answer is not None:
            self._send(answer, addr, transport)

    def _unreachable(self, addr: Addr, error: OSError) -> None:
        """RFC 3261 §8.1.3.1: a transport error is a 503 for every transaction waiting on that peer."""
        assert self.layer is not None
        for transaction in list(self.layer.transactions):
            if (isinstance(transaction, ClientTransaction) and transaction.addr == addr
                    and transaction.state in (State.CALLING, State.TRYING)):
                reason = f"Service Unavailable (transport error: {error.strerror or error})"
                response = make_response(transaction.request, 503, reason)
                self.layer.receive(response, addr, self._now())
        self._pump()

    # -- the pump ---------------------------------------------------------------------------------------
    def _pump(self) -> None:
        """Send what the layer queued, dispatch its events, re-arm the timer. Not re-entrant: a handler
        that sends while events are being dispatched only queues; the outer pump drains it, so handlers
        run one at a time and in order. (It reads the layer's queues directly: datagrams_to_send() and
        next_event() cost a call, and a new list, per event.)"""
        if self._pumping:
            return
        layer, transport = self.layer, self.transport
        assert layer is not None and transport is not None and self._loop is not None
        self._pumping = True
        events = layer._events
        try:
            while True:
                if layer._datagrams:
                    datagrams, layer._datagrams = layer._datagrams, []
                    on_sent, send = self.on_sent, transport.send
                    for data, addr in datagrams:
                        if on_sent is not None:
                            on_sent(data, addr)
                        send(data, addr)
                if not events:
                    break
                self._dispatch(events.popleft())
        finally:
            self._pumping = False
        self._arm()

    def _dispatch(self, event: Event) -> None:
        transaction: Transaction | None = getattr(event, "transaction", None)
        handler = self._handlers.get(id(transaction)) if transaction is not None else None
        if isinstance(event, TransactionTerminated):
            self._handlers.pop(id(transaction), None)
        try:
            if handler is not None:
                handler(event)
            else:
                self._on_event(event, self)
        except Exception:  # a TU bug must not stop the endpoint
            log.exception("event handler failed on %r", event)

    def _arm(self) -> None:
        """Make sure the loop wakes us by the layer's next deadline. A timer already armed for that time or
        earlier is left alone (cancelling and re-arming an asyncio timer for every transaction that starts
        or ends is most of this adapter's cost under load); one that fires early finds nothing due and
        re-arms for what is left."""
        assert self.layer is not None
        deadline = self.layer.get_timer()
        if deadline is None:
            return
        timer = self._timer
        if timer is not None:
            if self._timer_at <= deadline:  # timer.when(), without the call
                return
            timer.cancel()
        self._timer = self.clock.call_at(deadline, self._on_timer)
        self._timer_at = deadline

    def _on_timer(self) -> None:
        assert self.layer is not None
        self._timer = None
        self.layer.handle_timer(self._time())
        self._pump()
