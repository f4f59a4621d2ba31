"""The SIP transaction layer (RFC 3261 §17, §18; RFC 3581; RFC 6026), sans-IO in aioquic's shape.

One :class:`TransactionLayer` per transport endpoint. The caller feeds it what arrives
(:meth:`~TransactionLayer.receive`) and what the TU sends (:meth:`~TransactionLayer.send_request`,
:meth:`~TransactionLayer.send_response`, :meth:`~TransactionLayer.send_stateless`), then collects the
datagrams to send, the next timer deadline and the events for the TU. Time is always a parameter.

Matching: responses by top Via branch and CSeq method (§17.1.3); requests by branch, sent-by and method
with ACK matching its INVITE (§17.2.3), or by the RFC 2543 rules when the branch lacks the magic cookie.
Responses that match no client transaction are discarded (RFC 6026's change to RFC 3261 §18.1.2); an ACK that
matches no transaction (the ACK for a 2xx) goes to the TU as a request without a transaction.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
from collections import deque
from dataclasses import replace

from .errors import ProtocolError, SIPParseError
from .headers import Via, split_list
from .ids import has_magic_cookie
from .message import Request, Response
from .params import param_get
from .timers import TimerConfig
from .transaction import (
    ClientTransaction,
    Event,
    RequestReceived,
    ServerTransaction,
    State,
    Transaction,
    TransactionTerminated,
)
from .transaction_client import InviteClientTransaction, NonInviteClientTransaction
from .transaction_server import (
    DEFAULT_AUTO_100_DELAY,
    InviteServerTransaction,
    NonInviteServerTransaction,
    matches_rfc2543,
    response_matches_rfc2543,
)
from .transport_address import Address
from .via import new_via

ServerKey = tuple[str, str, int, str]
"""(branch, sent-by host in lower case, sent-by port, method with ACK counted as INVITE)."""


def _default_port(via: Via) -> int:
    return 5061 if via.transport in ("TLS", "WSS") else 5060


def server_key(via: Via, method: str) -> ServerKey:
    """The §17.2.3 key of a request whose branch carries the magic cookie."""
    return (via.branch or "", via.host.lower(), via.port or _default_port(via),
            "INVITE" if method == "ACK" else method)


def _same_host(a: str, b: str) -> bool:
    if a == b:
        return True
    a, b = a.strip("[]"), b.strip("[]")
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a.lower() == b.lower()


def stamp_via(request: Request, source: Address) -> Via:
    """Add ``received`` to the top Via when the sent-by host is not the source address, and when the
    request asks for ``rport`` fill it (and ``received``, always) with the source (RFC 3261 §18.2.1,
    RFC 3581 §4). The header is rewritten in place; other header fields keep their bytes and order.
    Returns the top Via as it is now (stamped or not)."""
    via = request.top_via
    host, port = source
    params = via.params
    rport_key: str | None = None
    received_key: str | None = None
    for key in params:  # the first of each name, in any case
        lower = key.lower()
        if lower == "rport":
            rport_key = rport_key or key
        elif lower == "received":
            received_key = received_key or key
    received_key = received_key or "received"
    fill_rport = rport_key is not None and not params[rport_key]
    if not fill_rport and (_same_host(via.host, host) or params.get(received_key) == host):
        return via
    # Filling rport sets received too (RFC 3581 §4); else received is added because the hosts differ.
    params = dict(params)
    if fill_rport:
        assert rport_key is not None
        params[rport_key] = str(port)
    params[received_key] = host
    stamped = new_via(via.transport, via.host, via.port, params, via.protocol)
    headers = request.headers
    vias = request.via
    first_field = headers.get("Via") or ""
    rest = split_list(first_field)[1:] if "," in first_field else []
    headers.replace_first_value("Via", ", ".join([str(stamped), *rest]))
    # The other headers' parsed views stay cached; the Via list is the stamped top Via and the others.
    headers._cache["via"] = [stamped, *vias[1:]]
    return stamped


def response_address(via: Via, source: Address, reliable: bool) -> Address:
    """Where responses to a request go (RFC 3261 §18.2.2, RFC 3581 §4): over a reliable transport the
    source (the connection); else maddr, else received (with rport when present), else sent-by."""
    if reliable:
        return source
    params = via.params
    for key, value in params.items():  # the first maddr with a value, the name in any case
        if value and key.lower() == "maddr":
            return (value.strip("[]"), via.port or _default_port(via))
    received = params["received"] if "received" in params else param_get(params, "received")  # via.received
    rport = via.rport if received is not None else None
    host = received or via.host
    port = rport if rport is not None else via.port or _default_port(via)
    return (host.strip("[]"), port)


class TransactionLayer:
    """Client and server transactions of one transport endpoint.

    ``timers`` gives T1, T2, T4; ``reliable`` (default: ``timers.reliable``) says the transport is TCP,
    TLS or SCTP: no retransmissions, Timers D, I, J, K zero, responses back to the source address.
    ``auto_100_delay`` is how long an INVITE server transaction waits for the TU before it sends
    100 Trying itself (0: at once, None: never).
    """

    def __init__(self, *, reliable: bool | None = None, timers: TimerConfig | None = None,
                 auto_100_delay: float | None = DEFAULT_AUTO_100_DELAY) -> None:
        config = timers if timers is not None else TimerConfig()
        if reliable is not None and reliable != config.reliable:
            config = replace(config, reliable=reliable)
        self.timers = config
        self.auto_100_delay = auto_100_delay
        self._clients: dict[tuple[str, str], ClientTransaction] = {}
        self._servers: dict[ServerKey, ServerTransaction] = {}
        self._servers_2543: list[ServerTransaction] = []
        self._datagrams: list[tuple[bytes, Address]] = []
        self._events: deque[Event] = deque()
        # Timer index: a heap of (deadline, sequence, transaction) with lazy deletion; ``_armed`` holds each
        # live transaction's current earliest deadline, and an entry is valid only while it matches. Every
        # change to a transaction's timers goes through _collect, which re-indexes it, so get_timer and
        # handle_timer cost O(log n) instead of a scan of every transaction per call.
        self._timer_heap: list[tuple[float, int, Transaction]] = []
        self._armed: dict[Transaction, float] = {}
        self._sequence = itertools.count()

    @property
    def reliable(self) -> bool:
        return self.timers.reliable

    @property
    def transactions(self) -> list[Transaction]:
        """Every live transaction, clients first."""
        return [*self._clients.values(), *self._servers.values(), *self._servers_2543]

    # -- input from the network ---------------------------------------------------------------------
    def table_sizes(self) -> dict[str, int]:
        """Lengths of the layer's tables (diagnostics): transactions by kind, armed timers, timer-heap
        entries (stale ones included until they surface)."""
        return {"clients": len(self._clients), "servers": len(self._servers) + len(self._servers_2543),
                "armed": len(self._armed), "timer_heap": len(self._timer_heap)}

    def receive(self, message: Request | Response, addr: Address, now: float) -> None:
        """A message parsed from the transport, ``addr`` its source. Messages whose Via, CSeq, Call-ID,
        From or To cannot be parsed are dropped (validate with :func:`sipcore.parser.parse_message`)."""
        if isinstance(message, Response):
            self._receive_response(message, now)
        else:
            self._receive_request(message, addr, now)

    def _receive_response(self, response: Response, now: float) -> None:
        try:
            key = (response.top_via.branch or "", response.cseq.method)
        except SIPParseError:
            return
        transaction = self._clients.get(key)
        if transaction is None:
            return  # a stray response: discarded (RFC 6026)
        transaction.receive_response(response, now)
        self._collect(transaction)

    def _receive_request(self, request: Request, addr: Address, now: float) -> None:
        method = request.method
        try:
            via = stamp_via(request, addr)
            # The §17.2.3 key, computed once: it finds a retransmission and files a new transaction.
            key = server_key(via, method) if has_magic_cookie(via.branch) else None
            transaction = self._match_request(request, via, key)
            invite = self._find_invite(request) if transaction is None and method == "CANCEL" else None
            response_addr = response_address(via, addr, self.reliable)
        except SIPParseError:
            return
        if transaction is not None:
            transaction.receive_request(request, addr, now)
            self._collect(transaction)
            return
        if method == "ACK":
            self._events.append(RequestReceived(request, addr, None))
            return
        new: ServerTransaction
        if method == "INVITE":
            new = InviteServerTransaction(request, response_addr, self.timers, source=addr,
                                          auto_100_delay=self.auto_100_delay)
        else:
            new = NonInviteServerTransaction(request, response_addr, self.timers, source=addr)
        if key is not None:  # the branch has the magic cookie (and the method is not ACK: key as computed)
            new.layer_key = key
            self._servers[key] = new
        else:
            self._servers_2543.append(new)
        self._events.append(RequestReceived(request, addr, new, invite))
        new.start(now)
        self._collect(new)

    def _match_request(self, request: Request, via: Via, key: ServerKey | None) -> ServerTransaction | None:
        """The server transaction ``request`` (top Via ``via``, §17.2.3 ``key`` if its branch has the
        magic cookie) belongs to."""
        if key is not None:
            return self._servers.get(key)
        return next((t for t in self._servers_2543 if matches_rfc2543(t, request)), None)

    def _find_invite(self, cancel: Request) -> ServerTransaction | None:
        """The INVITE server transaction a CANCEL cancels (RFC 3261 §9.2)."""
        via = cancel.top_via
        if has_magic_cookie(via.branch):
            return self._servers.get(server_key(via, "INVITE"))
        return next((t for t in self._servers_2543 if matches_rfc2543(t, cancel, as_method="INVITE")), None)

    # -- input from the TU --------------------------------------------------------------------------
    def send_request(self, request: Request, addr: Address, now: float) -> ClientTransaction:
        """Start a client transaction for ``request`` (sent unchanged: the caller built its Via and
        branch) towards ``addr``."""
        method = request.method
        if method == "ACK":
            raise ProtocolError("ACK is not sent through a client transaction: the INVITE client "
                                "transaction sends the ACK for a non-2xx, send_stateless() the ACK for a 2xx")
        try:
            branch = request.top_via.branch
            cseq_method = request.cseq.method
        except SIPParseError as exc:
            raise ProtocolError(f"cannot send {method}: {exc}") from exc
        if not has_magic_cookie(branch):
            raise ProtocolError(f"cannot send {method}: the top Via branch {branch!r} is not 'z9hG4bK' "
                                "followed by a unique identifier")
        if cseq_method != method:
            raise ProtocolError(f"cannot send {method}: its CSeq method is {cseq_method}")
        key = (branch or "", method)
        if key in self._clients:
            raise ProtocolError(f"a {method} client transaction with branch {branch} already exists")
        transaction: ClientTransaction
        if method == "INVITE":
            transaction = InviteClientTransaction(request, addr, self.timers)
        else:
            transaction = NonInviteClientTransaction(request, addr, self.timers)
        self._clients[key] = transaction
        transaction.start(now)
        self._collect(transaction)
        return transaction

    def send_response(self, response: Response, now: float, transaction: ServerTransaction | None = None) -> None:
        """Send a response from the TU through ``transaction``, the server transaction of the
        RequestReceived it answers. Without one, the transaction is found from the response's top Via
        and CSeq (§17.2.3); that cannot tell apart RFC 2543 transactions whose requests differ only in
        what a response does not carry (the Request-URI), so several matching is a ProtocolError, as is
        none matching, or a state that forbids the response."""
        if transaction is None:
            transaction = self._match_response(response)
        transaction.send_response(response, now)
        self._collect(transaction)

    def _match_response(self, response: Response) -> ServerTransaction:
        try:
            via = response.top_via
            method = response.cseq.method
            if has_magic_cookie(via.branch):
                transaction = self._servers.get(server_key(via, method))
            else:
                matches = [t for t in self._servers_2543 if response_matches_rfc2543(t, response)]
                if len(matches) > 1:
                    raise ProtocolError(f"the {response.status} response to {method} matches {len(matches)} "
                                        "RFC 2543 server transactions (their Request-URIs differ): name the "
                                        "transaction to send it through")
                transaction = matches[0] if matches else None
        except SIPParseError as exc:
            raise ProtocolError(f"cannot send the {response.status} response: {exc}") from exc
        if transaction is None:
            raise ProtocolError(f"no server transaction for the {response.status} response to {method} "
                                f"(branch {via.branch}, sent-by {via.sent_by()})")
        return transaction

    def send_stateless(self, message: Request | Response, addr: Address) -> None:
        """Send outside any transaction: the ACK for a 2xx, the TU's 2xx retransmissions, a stateless
        error response."""
        self._datagrams.append((message.to_bytes(), addr))

    # -- output -------------------------------------------------------------------------------------
    def datagrams_to_send(self, now: float | None = None) -> list[tuple[bytes, Address]]:
        """What to send now, in order, as (bytes, address). The datagrams were queued by the inputs and
        timers that produced them, so ``now`` is not needed (accepted for callers that pass it)."""
        datagrams, self._datagrams = self._datagrams, []
        return datagrams

    def get_timer(self) -> float | None:
        """The earliest timer deadline of all transactions, or None."""
        heap = self._timer_heap
        while heap:
            deadline, _, transaction = heap[0]
            if self._armed.get(transaction) == deadline:
                return deadline
            heapq.heappop(heap)  # stale: the transaction re-armed, fired or ended since
        return None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``, earliest first (ties in the order they were armed)."""
        heap, due = self._timer_heap, []
        while heap and heap[0][0] <= now:
            deadline, _, transaction = heapq.heappop(heap)
            if self._armed.get(transaction) == deadline:
                del self._armed[transaction]
                due.append(transaction)
        for transaction in due:
            transaction.handle_timer(now)
            self._collect(transaction)

    def _index_timer(self, transaction: Transaction) -> None:
        timers = transaction.timers
        deadline = min(timers.values()) if timers else None  # transaction.get_timer(), without the call
        if deadline is None:
            self._armed.pop(transaction, None)
        elif self._armed.get(transaction) != deadline:
            self._armed[transaction] = deadline
            heapq.heappush(self._timer_heap, (deadline, next(self._sequence), transaction))

    def abandon(self, transaction: Transaction) -> None:
        """The TU gives up on a transaction the RFC leaves without a timer: an INVITE client transaction
        in Proceeding whose CANCEL got no final response within 64*T1 (RFC 3261 §9.1). It is terminated
        now, reported with TransactionTerminated, and forgotten; nothing more is sent for it."""
        if transaction.terminated:
            return
        transaction.state = State.TERMINATED
        self._events.append(TransactionTerminated(transaction))
        self._forget(transaction)

    def next_event(self) -> Event | None:
        """The next event for the TU, or None."""
        return self._events.popleft() if self._events else None

    def _collect(self, transaction: Transaction) -> None:
        # transaction.take_output(), without the two new lists per call: most calls find nothing to take.
        datagrams, events = transaction._outbox, transaction._events
        if datagrams:
            self._datagrams.extend(datagrams)
            transaction._outbox = []
        if events:
            self._events.extend(events)
            transaction._events = []
        if transaction.state is State.TERMINATED:
            self._forget(transaction)
        else:
            self._index_timer(transaction)

    def _forget(self, transaction: Transaction) -> None:
        self._armed.pop(transaction, None)
        if isinstance(transaction, ClientTransaction):
            self._clients.pop((transaction.branch, transaction.method), None)
        elif isinstance(transaction, ServerTransaction):
            if transaction.layer_key is not None:
                self._servers.pop(transaction.layer_key, None)
            elif transaction in self._servers_2543:
                self._servers_2543.remove(transaction)
