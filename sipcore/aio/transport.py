"""asyncio transports: UDP and TCP sockets that turn bytes into parsed messages and back.

They only move bytes. Every received message is handed to ``on_message(message, addr, transport)``;
input that does not parse goes to ``on_error(data, addr, error, transport)`` (the endpoint decides
whether a 400 can be addressed). Nothing here knows about transactions.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any, Protocol, cast

from ..errors import SIPParseError
from ..message import Request, Response
from ..parser import StreamFramer, parse_message
from ..transport_address import Address
from .clock import LOOP_CLOCK, Clock, TimerHandle
from .tap import report_datagram, report_stream

log = logging.getLogger(__name__)

Addr = Address  # (host, port), as the sockets give it
MAX_DATAGRAM = 65535
CONNECT_TIMEOUT = 5.0
# How long a TCP connection may hold part of a message: 64*T1, the longest a transaction waits for its
# answer (Timer B/F), so no peer still waiting for an answer to it is cut off (a message over loopback or a
# WAN arrives in milliseconds); a peer trickling bytes (slowloris) holds a connection no longer than this.
INCOMPLETE_TIMEOUT = 32.0


class Transport(Protocol):
    name: str  # "UDP" or "TCP"
    reliable: bool
    local_addr: Addr

    def send(self, data: bytes, addr: Addr) -> None: ...
    def close(self) -> None: ...


MessageHandler = Callable[[Request | Response, Addr, "Transport"], None]
ErrorHandler = Callable[[bytes, Addr, SIPParseError, "Transport"], None]
UnreachableHandler = Callable[[Addr, OSError], None]


def deliver_datagram(data: bytes, peer: Addr, on_message: MessageHandler, on_error: ErrorHandler,
                     transport: Transport) -> None:
    """One datagram to its handler: a keep-alive (CRLF only, or empty) is dropped, a message parsed and handed
    on, a datagram that does not parse given to ``on_error`` (every UDP transport, the dispatched ones too)."""
    if data[:1] in b"\r\n" and not data.strip(b"\r\n"):
        return
    try:
        message = parse_message(data)
    except SIPParseError as exc:
        on_error(data, peer, exc, transport)
        return
    on_message(message, peer, transport)
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)  # Linux: report ICMP errors with the destination


def _log_error(data: bytes, addr: Addr, error: SIPParseError, transport: Transport) -> None:
    log.info("dropped %d bytes from %s:%d over %s: %s", len(data), addr[0], addr[1], transport.name, error)


class UdpTransport:
    """One UDP socket. A datagram carries one message; trailing octets are ignored by the parser.

    The socket is read directly from the event loop's reader callback, up to READ_BATCH datagrams per
    wake-up (asyncio's datagram transport reads one per loop pass, so under load retransmission timers
    fire while answers wait unread). ICMP errors (port unreachable ...) are read from the socket's error
    queue (Linux IP_RECVERR), so ``on_unreachable(addr, error)`` names the destination that could not be
    reached (RFC 3261 §8.1.3.1 treats that as a 503 for the transaction).
    """

    name = "UDP"
    reliable = False
    READ_BATCH = 64
    # Ask for a 1 MiB receive buffer (the kernel doubles it for overhead and caps it at net.core.rmem_max):
    # the Linux default (~200 KB, about 100 SIP datagrams with their overhead) overflows during a GC pause
    # or a burst at a few hundred calls per second, and every datagram dropped there costs a retransmission
    # 500 ms later. A much bigger buffer would only hold messages until their retransmissions arrive.
    RECEIVE_BUFFER = 1024 * 1024

    def __init__(self, on_message: MessageHandler, on_error: ErrorHandler | None = None,
                 on_unreachable: UnreachableHandler | None = None) -> None:
        self._on_message = on_message
        self._on_error = on_error or _log_error
        self.on_unreachable = on_unreachable
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.local_addr: Addr = ("0.0.0.0", 0)

    @classmethod
    async def listen(cls, host: str, port: int, on_message: MessageHandler,
                     on_error: ErrorHandler | None = None,
                     on_unreachable: UnreachableHandler | None = None) -> UdpTransport:
        self = cls(on_message, on_error, on_unreachable)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if family == socket.AF_INET:
                try:
                    sock.setsockopt(socket.SOL_IP, IP_RECVERR, 1)
                except OSError:  # not Linux: ICMP errors go unreported, Timer B/F still bound the wait
                    pass
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cls.RECEIVE_BUFFER)
            except OSError:  # refused: keep the default
                pass
            sock.bind((host, port))
            sock.setblocking(False)
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(sock.fileno(), self._read_ready)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        sockname = sock.getsockname()
        self.local_addr = (sockname[0], sockname[1])
        return self

    def _read_ready(self) -> None:
        sock = self._sock
        if sock is None:
            return
        ipv6 = sock.family == socket.AF_INET6
        recvfrom, on_message, on_error = sock.recvfrom, self._on_message, self._on_error
        for _ in range(self.READ_BATCH):
            try:
                data, addr = recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # an ICMP error queued by IP_RECVERR
                self._drain_errors(exc)
                continue
            peer = (addr[0], addr[1]) if ipv6 else addr
            report_datagram(self.local_addr, peer, data, sent=False, loop=self._loop)
            deliver_datagram(data, peer, on_message, on_error, self)  # what _datagram_received does

    def _datagram_received(self, data: bytes, peer: Addr) -> None:
        deliver_datagram(data, peer, self._on_message, self._on_error, self)

    def _drain_errors(self, exc: OSError) -> None:
        assert self._sock is not None
        for _ in range(64):  # bounded drain of the error queue
            try:
                _, _, _, addr = self._sock.recvmsg(1, 512, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
            except OSError:
                return
            peer = (str(addr[0]), int(addr[1]))
            log.info("UDP %s:%d unreachable: %s", peer[0], peer[1], exc)
            if self.on_unreachable is not None:
                self.on_unreachable(peer, exc)

    def send(self, data: bytes, addr: Addr) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto(data, addr)
            report_datagram(self.local_addr, addr, data, sent=True, loop=self._loop)
        except (BlockingIOError, InterruptedError):
            # Send buffer full: UDP may lose a datagram; the transaction layer retransmits.
            log.warning("UDP send buffer full; dropped %d bytes to %s:%d", len(data), *addr)
        except OSError as exc:  # a pending ICMP error is reported here and this datagram not sent
            self._drain_errors(exc)
            try:
                self._sock.sendto(data, addr)
                report_datagram(self.local_addr, addr, data, sent=True, loop=self._loop)
            except OSError as again:
                log.info("UDP send to %s:%d failed: %s", addr[0], addr[1], again)

    def close(self) -> None:
        if self._sock is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None


class TcpConnection(asyncio.Protocol):
    """One TCP connection: bytes in, framed messages out (RFC 3261 §18.3: Content-Length frames them).

    A framed message that fails validation goes to ``on_error`` (a 400 for it) and the stream goes on. A
    stream that cannot be framed (no or a bad Content-Length, limits exceeded, garbage for a start line)
    cannot be resynchronised: ``on_error`` (a 400 or 513 where a Via addresses one), a log line, close.
    """

    def __init__(self, owner: TcpTransport, accepted: bool = True) -> None:
        self._owner = owner
        self.accepted = accepted
        self._framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: Addr = ("", 0)
        self._partial_since: float | None = None  # clock time the first byte of an unfinished message came
        self._last_activity = owner.clock.time()  # a byte read or written
        self._timer: TimerHandle | None = None
        self._timed_out = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = (str(peer[0]), int(peer[1]))
        if self.accepted:  # an outgoing one is registered by _connect once it is usable
            self._owner._connections[self.peer] = self
        self._arm()

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            report_stream(self.transport.get_extra_info("sockname"), self.peer, data, sent=True)
            self.transport.write(data)
            self._last_activity = self._owner.clock.time()

    def data_received(self, data: bytes) -> None:
        if self.transport is not None:
            report_stream(self.transport.get_extra_info("sockname"), self.peer, data, sent=False)
        framer, owner = self._framer, self._owner
        if framer.broken:  # closing: what still arrives cannot be framed either
            return
        while True:
            try:
                messages = framer.feed(data)
            except SIPParseError as exc:
                self._deliver(framer.drain())  # the messages before the bad one, in order
                owner._on_error(framer.rejected, self.peer, exc, owner)
                if framer.broken:
                    log.info("closing TCP connection from %s:%d: cannot frame the stream: %s", *self.peer, exc)
                    if self.transport is not None:
                        self.transport.close()
                    return
                data = b""  # the bad message is consumed: frame what follows it
                continue
            self._deliver(messages)
            self._track(bool(messages))
            return

    def _track(self, framed: bool) -> None:
        """Note when the message now held began: a message framed in this read ends the previous one, so
        what is left started in it; bytes added to the same message (one at a time) do not move it."""
        now = self._owner.clock.time()
        self._last_activity = now
        if not self._framer.unfinished:
            self._partial_since = None
        elif framed or self._partial_since is None:
            self._partial_since = now
        self._arm()

    def _deadline(self) -> float | None:
        owner = self._owner
        if self._partial_since is not None:
            return self._partial_since + owner.incomplete_timeout
        if owner.idle_timeout is not None:
            return self._last_activity + owner.idle_timeout
        return None

    def _arm(self) -> None:
        """One timer per connection, armed for the earliest deadline; a later deadline is checked when it
        fires (so reading a message costs no timer operation)."""
        deadline = self._deadline()
        if deadline is None or self.transport is None or self.transport.is_closing():
            return
        if self._timer is not None:
            if self._timer.when() <= deadline:
                return
            self._timer.cancel()
        self._timer = self._owner.clock.call_at(deadline, self._expired)

    def _expired(self) -> None:
        self._timer = None
        deadline = self._deadline()
        if deadline is None or self.transport is None or self.transport.is_closing():
            return
        if self._owner.clock.time() < deadline:
            self._arm()
            return
        self._timed_out = True
        if self._partial_since is not None:
            log.info("closing TCP connection from %s:%d: incomplete message (%d bytes) for %g s", *self.peer,
                     self._framer.unfinished, self._owner.incomplete_timeout)
            self.transport.abort()  # a peer that does not read must not hold the close open either
        else:
            log.info("closing TCP connection from %s:%d: idle for %g s", *self.peer, self._owner.idle_timeout)
            self.transport.close()

    def _deliver(self, messages: list[Request | Response]) -> None:
        for message in messages:
            self._owner._on_message(message, self.peer, self._owner)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._owner._connections.get(self.peer) is self:
            del self._owner._connections[self.peer]
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        unfinished = 0 if self._framer.broken or self._timed_out else self._framer.unfinished
        if unfinished:
            log.info("TCP connection from %s:%d closed%s with %d bytes of an unfinished message", *self.peer,
                     f" ({exc})" if exc else "", unfinished)


class TcpTransport:
    """A TCP listener plus the connections it accepted or opened, keyed by the peer's address.

    ``send`` reuses a connection to that address (RFC 3261 §18: responses go back on the connection the
    request came in on) or opens one, bounded by CONNECT_TIMEOUT.

    A connection holding part of a message for ``incomplete_timeout`` seconds on ``clock`` (counted from
    the message's first byte) is closed. An idle connection (nothing pending) stays open unless
    ``idle_timeout`` is given: peers reuse connections (RFC 5923) and keep flows up with CRLF pings (RFC
    5626), and requests within a dialog may have no other way to reach a peer behind NAT.
    """

    name = "TCP"
    reliable = True

    def __init__(self, on_message: MessageHandler, on_error: ErrorHandler | None = None,
                 on_unreachable: UnreachableHandler | None = None, *, clock: Clock = LOOP_CLOCK,
                 incomplete_timeout: float = INCOMPLETE_TIMEOUT, idle_timeout: float | None = None) -> None:
        if incomplete_timeout <= 0 or (idle_timeout is not None and idle_timeout <= 0):
            raise ValueError(f"TCP timeouts must be positive (incomplete {incomplete_timeout:g} s, "
                             f"idle {idle_timeout} s)")
        self._on_message = on_message
        self._on_error = on_error or _log_error
        self.on_unreachable = on_unreachable
        self.clock = clock
        self.incomplete_timeout = incomplete_timeout
        self.idle_timeout = idle_timeout
        self._connections: dict[Addr, TcpConnection] = {}
        self._server: asyncio.Server | None = None
        self._pending: dict[Addr, list[bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.local_addr: Addr = ("0.0.0.0", 0)

    @classmethod
    async def listen(cls, host: str, port: int, on_message: MessageHandler,
                     on_error: ErrorHandler | None = None,
                     on_unreachable: UnreachableHandler | None = None, *, clock: Clock = LOOP_CLOCK,
                     incomplete_timeout: float = INCOMPLETE_TIMEOUT,
                     idle_timeout: float | None = None) -> TcpTransport:
        self = cls(on_message, on_error, on_unreachable, clock=clock, incomplete_timeout=incomplete_timeout,
                   idle_timeout=idle_timeout)
        await self._bind(host, port)
        return self

    async def _bind(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: TcpConnection(self), host, port,
                                                reuse_address=True, **self._server_options())
        sockname = self._server.sockets[0].getsockname()
        self.local_addr = (sockname[0], sockname[1])

    def send(self, data: bytes, addr: Addr) -> None:
        conn = self._connections.get(addr)
        if conn is not None and conn.transport is not None and not conn.transport.is_closing():
            conn.write(data)
            return
        queue = self._pending.setdefault(addr, [])
        queue.append(data)
        if len(queue) == 1:
            task = asyncio.get_running_loop().create_task(self._connect(addr))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _server_options(self) -> dict[str, Any]:
        """Extra keyword arguments of ``create_server`` (the TLS transport's ssl context)."""
        return {}

    def _client_options(self, addr: Addr) -> dict[str, Any]:
        """Extra keyword arguments of ``create_connection`` towards ``addr``."""
        return {}

    def _check_connection(self, conn: TcpConnection, addr: Addr) -> OSError | None:
        """Whether a connection just opened to ``addr`` may carry messages (TLS: the peer's identity)."""
        return None

    def _connect_failure(self, addr: Addr, exc: BaseException) -> OSError:
        """The error to report for a connection to ``addr`` that could not be opened."""
        return exc if isinstance(exc, OSError) else OSError(str(exc) or "timeout")

    async def _connect(self, addr: Addr) -> None:
        loop = asyncio.get_running_loop()
        conn: TcpConnection | None = None
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: TcpConnection(self, accepted=False), addr[0], addr[1],
                                       local_addr=(self.local_addr[0], 0),
                                       **self._client_options(addr)),
                CONNECT_TIMEOUT)
            problem = self._check_connection(conn, addr) if conn is not None else None
        except (TimeoutError, OSError) as exc:
            problem, conn = self._connect_failure(addr, exc), None
        if problem is not None or conn is None or conn.transport is None or conn.transport.is_closing():
            problem = problem or OSError("connection closed by the peer")
            dropped = self._pending.pop(addr, [])
            log.info("%s connect to %s:%d failed (%s); %d message(s) not sent", self.name, *addr,
                     problem.strerror or problem, len(dropped))
            if conn is not None and conn.transport is not None:
                conn.transport.abort()
            if self.on_unreachable is not None:
                self.on_unreachable(addr, problem)
            return
        self._connections[conn.peer] = conn
        for data in self._pending.pop(addr, []):
            conn.write(data)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections.values()):
            if conn.transport is not None:
                conn.transport.close()
        for task in self._tasks:
            task.cancel()
