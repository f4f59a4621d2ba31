"""What the simulated UA and destination share: a SIP endpoint that records every message, an RTP
socket per call that records its first packet, and the routing of incoming requests to calls.

Routing: a request with a To tag (ACK for a 2xx, BYE, re-INVITE) goes to the call registered under
(Call-ID, local tag); a CANCEL goes to the call that owns the INVITE server transaction it cancels; a
new INVITE goes to :meth:`Agent.on_invite`. Anything unmatched is answered as RFC 3261 says (481, 405).

Time: every timer and timed wait of an agent (its transactions, ring timeouts, 2xx retransmissions, hold
times, registration refreshes) runs on the agent's :class:`~sipcore.aio.clock.Clock`, the event loop's
unless another is given, and so does its record's timestamps.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any, Protocol

from sipcore.aio.clock import LOOP_CLOCK, Clock
from sipcore.aio.endpoint import SipEndpoint
from sipcore.aio.tls import TlsError, TlsOptions
from sipcore.dialog import Dialog
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.ids import IdGenerator
from sipcore.message import Request, Response, make_response
from sipcore.parser import parse_message
from sipcore.timers import TimerConfig
from sipcore.transaction import (
    Event,
    RequestReceived,
    ServerTransaction,
    TransactionTerminated,
    TransactionTimeout,
)
from sipcore.uri import SipURI

from .record import Record
from .settings import Addr, SettingsError

__all__ = ["Agent", "CallUser", "SimEndpoint", "next_hop", "wait_any", "wait_until"]

log = logging.getLogger(__name__)
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"


async def wait_any(events: Sequence[asyncio.Event], timeout: float, clock: Clock = LOOP_CLOCK) -> bool:
    """True as soon as one of ``events`` is set, False after ``timeout`` seconds on ``clock``."""
    if any(e.is_set() for e in events):
        return True
    if timeout <= 0:
        return False
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await clock.wait_for(asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), timeout)
    except TimeoutError:
        return False
    finally:
        for waiter in waiters:
            waiter.cancel()
    return True


async def wait_until(predicate: Callable[[], bool], timeout: float, poll: float = 0.01,
                     clock: Clock = LOOP_CLOCK) -> bool:
    """Poll ``predicate`` every ``poll`` seconds; True once it holds, False after ``timeout`` (on
    ``clock``)."""
    deadline = clock.time() + timeout
    while not predicate():
        remaining = deadline - clock.time()
        if remaining <= 0:
            return False
        await clock.sleep(min(poll, remaining))
    return True


def next_hop(dialog: Dialog | None, fallback: Addr) -> Addr:
    """Where an in-dialog request goes: the first route, else the remote target, when it names an IP
    address; otherwise ``fallback`` (the address the dialog's first request came from)."""
    if dialog is None:
        return fallback
    uri = dialog.route_set[0].uri if dialog.route_set else dialog.remote_target
    if not isinstance(uri, SipURI):
        return fallback
    host = (uri.params.get("maddr") or uri.host).strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return fallback
    return host, uri.port or 5060


class SimEndpoint(SipEndpoint):
    """A :class:`SipEndpoint` whose every sent and received message lands in a :class:`Record`."""

    @classmethod
    async def open_recorded(cls, transport: str, listen: Addr, on_event: Any, record: Record,
                            **kwargs: Any) -> SimEndpoint:
        """Bind ``listen``; a port in use (or an address not on this host) is a :class:`SettingsError`."""
        name = transport.upper()

        def sent(data: bytes, addr: Addr) -> None:  # retransmissions included
            try:
                message = parse_message(data, validate_headers=False)
            except SIPParseError as exc:
                record.add("note", f"sent {len(data)} bytes that do not parse: {exc}", peer=f"{addr[0]}:{addr[1]}")
            else:
                record.sip("sip-sent", message, addr, name, data)

        def received(message: Request | Response, addr: Addr) -> None:
            record.sip("sip-received", message, addr, name)

        try:
            endpoint = await cls.open(transport, listen[0], listen[1], on_event, on_sent=sent,
                                      on_received=received, **kwargs)
        except OSError as exc:
            raise SettingsError(f"listen address {listen[0]}:{listen[1]} ({transport}) cannot be bound: "
                                f"{exc.strerror or exc}") from None
        except TlsError as exc:
            raise SettingsError(f"tls: {exc}") from None
        assert isinstance(endpoint, SimEndpoint)
        return endpoint


class CallUser(Protocol):
    """A call that receives the requests of its dialog and the CANCEL of its INVITE."""

    def on_in_dialog(self, event: RequestReceived) -> None: ...
    def on_cancel(self, event: RequestReceived) -> None: ...
    def on_no_ack(self) -> None: ...


class Agent:
    """A SIP agent on one endpoint: the part of the UA and the destination that is the same."""

    allow = ALLOW

    def __init__(self, record: Record, timers: TimerConfig, clock: Clock = LOOP_CLOCK) -> None:
        self.record = record
        self.timers = timers
        self.clock = clock
        self.ids = IdGenerator(random.SystemRandom())
        self.endpoint: SimEndpoint | None = None
        self._dialog_users: dict[tuple[str, str], CallUser] = {}
        self._invite_users: dict[int, CallUser] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.closed = False
        self.answer_options = True
        """False: out-of-dialog OPTIONS go unanswered (a peer whose SIP service stopped: keep-alive tests)."""
        self.options_received: list[float] = []
        """Clock time of each out-of-dialog OPTIONS received (a new transaction: no retransmissions)."""

    async def _open(self, transport: str, listen: Addr, *, auto_100_delay: float | None,
                    tls: TlsOptions | None = None) -> None:
        """Bind the endpoint; its Warning headers name it by host:port (RFC 3261 §20.43)."""
        self.endpoint = await SimEndpoint.open_recorded(
            transport, listen, self._on_event, self.record, timers=self.timers,
            auto_100_delay=auto_100_delay, clock=self.clock, tls=tls)

    @property
    def ep(self) -> SimEndpoint:
        if self.endpoint is None or self.closed:
            raise RuntimeError("the agent is not running (start it first; it was maybe stopped)")
        return self.endpoint

    @property
    def local_addr(self) -> Addr:
        return self.ep.local_addr

    @property
    def transport_name(self) -> str:
        return self.ep.transport_name

    def contact(self, user: str) -> str:
        host, port = self.local_addr
        host = f"[{host}]" if ":" in host else host
        suffix = f";transport={self.transport_name.lower()}" if self.transport_name != "UDP" else ""
        return f"<sip:{user}@{host}:{port}{suffix}>"

    @property
    def transaction_bound(self) -> float:
        """How long any transaction may take: 64*T1 (Timer B/F), plus a second of slack."""
        return 64 * self.timers.t1 + 1.0

    # -- tasks and call registry ----------------------------------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulator task failed", exc_info=task.exception())
            self.record.add("note", f"internal error: {task.exception()!r}")

    def add_dialog_user(self, call_id: str, local_tag: str, user: CallUser) -> None:
        self._dialog_users[(call_id, local_tag)] = user

    def remove_dialog_user(self, call_id: str, local_tag: str) -> None:
        self._dialog_users.pop((call_id, local_tag), None)

    def add_invite_user(self, transaction: ServerTransaction, user: CallUser) -> None:
        self._invite_users[id(transaction)] = user

    # -- sending ------------------------------------------------------------------------------------
    def respond(self, request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None,
                headers: Iterable[tuple[str, str]] = (), body: bytes = b"",
                contact: str | None = None) -> Response | None:
        """Answer ``request`` through its server transaction; None (and a note) if its state refuses."""
        # RFC 3261 §12.1.1: a UAS copies Record-Route into every dialog-forming response.
        dialog_forming = request.method == "INVITE" and 100 < status < 300
        response = make_response(request, status, reason, to_tag=to_tag, copy_record_route=dialog_forming)
        if contact is not None:
            response.headers.add("Contact", contact)
        if status in (405, 501) or (request.method == "OPTIONS" and status < 300):
            response.headers.add("Allow", self.allow)
        if request.method == "OPTIONS" and status < 300:  # RFC 3261 §11.2: what it takes and supports
            response.headers.add("Accept", "application/sdp")
            response.headers.add("Supported", "")
        for name, value in headers:
            response.headers.add(name, value)
        response.set_body(body, "application/sdp" if body else None)
        try:
            self.ep.send_response(response)
        except ProtocolError as exc:
            self.record.add("note", f"did not send {status} to {request.method}: {exc}", request.call_id)
            return None
        return response

    # -- receiving ----------------------------------------------------------------------------------
    def _on_event(self, event: Event, endpoint: SipEndpoint) -> None:
        if isinstance(event, RequestReceived):
            self._on_request(event)
        elif isinstance(event, TransactionTimeout):
            tx = event.transaction
            self.record.add("timeout", f"no ACK for the final response to {tx.method} (Timer {event.timer})",
                            tx.request.call_id, timer=event.timer)
            user = self._invite_users.get(id(tx))
            if user is not None:
                user.on_no_ack()
        elif isinstance(event, TransactionTerminated):
            self._invite_users.pop(id(event.transaction), None)

    def _on_request(self, event: RequestReceived) -> None:
        request = event.request
        method = request.method
        to_tag = request.to.tag
        if method == "ACK":
            user = self._dialog_users.get((request.call_id, to_tag)) if to_tag else None
            if user is not None:
                user.on_in_dialog(event)
            return
        if method == "CANCEL":
            invite = event.invite_transaction
            user = self._invite_users.get(id(invite)) if invite is not None else None
            if user is None:
                self.respond(request, 481)
            else:
                user.on_cancel(event)
            return
        if to_tag is not None:
            user = self._dialog_users.get((request.call_id, to_tag))
            if user is None:
                self.respond(request, 481)
            else:
                user.on_in_dialog(event)
            return
        if method == "INVITE":
            self.on_invite(event)
        elif method == "OPTIONS":
            self.options_received.append(self.clock.time())
            if self.answer_options:
                self.respond(request, 200)
            else:
                self.record.add("note", "OPTIONS left unanswered (answer_options is off)", request.call_id)
        elif method == "BYE":
            self.respond(request, 481)
        else:
            self.respond(request, 405)

    def on_invite(self, event: RequestReceived) -> None:
        """A new INVITE (no To tag). The base agent takes no calls."""
        self.respond(event.request, 480)

    # -- teardown -----------------------------------------------------------------------------------
    async def _close(self, grace: float = 2.0) -> None:
        """Cancel the running calls (each cleans up its RTP), wait for them (bounded in real time: this
        is the process stopping, whatever the agent's clock), close the socket."""
        if self.closed:
            return
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        self.closed = True
        if self.endpoint is not None:
            self.endpoint.close()
