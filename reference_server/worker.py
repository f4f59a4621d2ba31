"""One worker process of a multi-worker server (:mod:`reference_server.workers` starts and feeds them).

A worker is a :class:`~reference_server.server.ReferenceServer` with three kinds of listeners:

* the shared UDP listen addresses (5060 ...): it does not read their socket -- the dispatcher does, and
  hands it the datagrams of the calls it owns over the worker's channel (a socketpair) -- but it sends
  from that socket (inherited), so every response leaves from the address its request was sent to
  (RFC 3581 §4: NATs let only that through);
* its own UDP port on each listen host (``--worker-port-base`` + index, else one the kernel picks): the
  Via and Contact of everything it sends name it, so the rest of a call (responses from the destination,
  ACK, BYE, re-INVITEs from either side) comes straight to the worker that owns the call;
* the TCP listeners, on worker 0 only (a connection carries its calls to one worker anyway).

Its media relay takes ports from its own slice of the relay range. Registrar and lockout updates go to
and come from the other workers over the channel (:mod:`reference_server.shared_state`). When the
channel closes (the dispatcher is gone) the worker stops.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sipcore import parse_message
from sipcore.aio import deliver_datagram
from sipcore.aio.endpoint import EventHandler, SipEndpoint
from sipcore.aio.tap import report_datagram
from sipcore.aio.transport import Addr
from sipcore.errors import SIPParseError

from .admission import Admission
from .config import ListenAddress, ServerConfig
from .front_door import OVERLOAD, overload_update
from .listeners import MessageHandler, Screen, screened
from .server import ReferenceServer
from .shared_state import SharedFailureLimiter, SharedRegistrar, apply_update, share_health, share_keepalive

log = logging.getLogger("reference_server")

__all__ = ["DATAGRAM", "HELLO", "ChannelReader", "DispatchedUdpTransport", "WorkerServer", "pack_datagram", "unpack_datagram"]

DATAGRAM, HELLO = b"D", b"H"
_HEADER = struct.Struct("!dBH")  # received at (monotonic), listen index, source port; then host NUL data
CHANNEL_BUFFER = 4 * 1024 * 1024
READ_BATCH = 64
READ_AHEAD, BACKLOG_LIMIT = 1024, 8192
"""While saturated: channel messages read per wake-up, and datagrams read ahead at most (the rest wait in the channel)."""


class ChannelReader:
    """Reads a channel's messages (each at most CHANNEL_BUFFER bytes) through one buffer kept for the purpose:
    ``socket.recv(CHANNEL_BUFFER)`` would allocate (and shrink) a CHANNEL_BUFFER-sized bytes object for every
    message, ~15 us each where the message itself is a datagram of a few hundred bytes (measured)."""

    def __init__(self, size: int = CHANNEL_BUFFER) -> None:
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)

    def recv(self, channel: socket.socket) -> bytes:
        """The next message (b"" at the end of the channel); what ``channel.recv`` raises."""
        return bytes(self._view[:channel.recv_into(self._buffer)])


def pack_datagram(received_at: float, listen: int, peer: Addr, data: bytes) -> bytes:
    return b"".join((DATAGRAM, _HEADER.pack(received_at, listen, peer[1]), peer[0].encode(), b"\0", data))


def unpack_datagram(message: bytes) -> tuple[float, int, Addr, bytes]:
    received_at, listen, port = _HEADER.unpack_from(message, 1)
    start = 1 + _HEADER.size
    end = message.index(b"\0", start)
    return received_at, listen, (message[start:end].decode(), port), message[end + 1:]


class DispatchedUdpTransport:
    """A shared UDP listen address as a worker sees it: datagrams come from the dispatcher
    (:meth:`deliver`), responses leave through the shared socket. ``admission`` hears how long each
    datagram waited for the worker."""

    name = "UDP"
    reliable = False

    def __init__(self, sock: socket.socket, on_message: MessageHandler,
                 on_error: Callable[[bytes, Addr, SIPParseError, Any], None],
                 admission: Admission | None) -> None:
        self._sock: socket.socket | None = sock
        self._on_message, self._on_error, self.admission = on_message, on_error, admission
        name = sock.getsockname()
        self.local_addr: Addr = (name[0], name[1])
        self.on_unreachable = None

    def deliver(self, data: bytes, peer: Addr, received_at: float, *, reported: bool = False) -> None:
        if not reported:
            report_datagram(self.local_addr, peer, data, sent=False)
        if self.admission is not None:
            now = time.monotonic()
            self.admission.note_delay(now - received_at, now)
        deliver_datagram(data, peer, self._on_message, self._on_error, self)

    def send(self, data: bytes, addr: Addr) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto(data, addr)
            report_datagram(self.local_addr, addr, data, sent=True)
        except OSError as exc:  # a full buffer, an ICMP error: UDP may lose it, transactions retransmit
            log.info("UDP send to %s:%d from %s:%d failed: %s", *addr, *self.local_addr, exc)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class WorkerServer(ReferenceServer):
    """A worker: see the module docstring. ``hello`` is what the dispatcher told it (index, sockets, ports,
    the secret key every worker's nonces share); ``channel`` its end of the socketpair."""

    def __init__(self, config: ServerConfig, hello: dict[str, Any], channel: socket.socket, **kwargs: Any) -> None:
        self.index: int = hello["index"]
        self.public = [(ListenAddress("udp", p["host"], p["port"]), p["fd"]) for p in hello["public"]]
        own = [ListenAddress(a["transport"], a["host"], a["port"]) for a in hello["own"]]
        media = dataclasses.replace(config.media, port_min=hello["relay"][0], port_max=hello["relay"][1])
        listen = (*(a for a, _ in self.public), *own)
        super().__init__(dataclasses.replace(config, listen=listen, media=media),
                         secret_key=bytes.fromhex(hello["secret"]), **kwargs)
        self.channel = channel
        self._reader = ChannelReader()
        self._backlog: deque[tuple[float, int, Addr, bytes, bool]] = deque()  # read off the channel, not yet handled
        self._draining = False
        self.stopped = asyncio.Event()
        self._dispatched: list[DispatchedUdpTransport] = []
        self._public_endpoints: dict[int, SipEndpoint] = {}
        registrar = SharedRegistrar(self.registrar.min_expires, self.registrar.default_expires,
                                    self.registrar.max_expires, self.registrar.max_contacts,
                                    aor_exists=self.registrar.aor_exists)
        registrar.publish = self.publish
        self.registrar = registrar
        old = self.auth.limiter
        limiter = SharedFailureLimiter(old.max_failures, old.window, old.block_duration, max_sources=old.max_sources)
        limiter.publish = self.publish
        self.auth.limiter = self.limiter = limiter
        share_health(self.b2bua.ctx.health, self.publish)
        share_keepalive(self.destinations, self.publish, pinging=self.index == 0)
        if self.admission is not None:  # the dispatcher refuses new calls itself while this worker is delayed
            retry_after = self.admission.config.retry_after
            self.admission.on_change = lambda delayed, cause: self.publish(
                OVERLOAD, overload_update(delayed, cause, retry_after))

    # -- listeners ----------------------------------------------------------------------------------
    async def _open(self, listen: ListenAddress, shared_port: int | None) -> SipEndpoint:
        fd = next((fd for a, fd in self.public if a == listen), None)
        if fd is None:
            return await super()._open(listen, shared_port)
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        # new calls are admitted or refused when read off the channel (_at_door): count those taken
        screen: Screen | None = None if self.admission is None else self.admission.count

        async def make(on_message: MessageHandler, on_error: Any, on_unreachable: Any) -> DispatchedUdpTransport:
            transport = DispatchedUdpTransport(sock, screened(on_message, screen), on_error, self.admission)
            self._dispatched.append(transport)
            return transport

        handler: EventHandler = self._on_event
        endpoint = await SipEndpoint.over(make, handler, timers=self.timers, on_parse_error=self._parse_error,
                                          clock=self.clock)
        self._public_endpoints[id(endpoint)] = endpoint
        return endpoint

    async def start(self) -> None:
        await super().start()
        for endpoint in self._public_endpoints.values():  # a Contact names the worker's own port
            own = self._own_for(endpoint)
            if own is not None:
                self.b2bua.ctx.contact_endpoints[id(endpoint)] = own
        asyncio.get_running_loop().add_reader(self.channel.fileno(), self._read_channel)
        own_addresses = [str(a) for a in self.local_addresses if (a.transport, a.host, a.port) not in
                         {(p.transport, p.host, p.port) for p, _ in self.public}]
        self._send(HELLO + json.dumps({"listening": own_addresses}).encode())

    async def stop(self) -> None:
        try:
            asyncio.get_running_loop().remove_reader(self.channel.fileno())
        except (ValueError, OSError):
            pass
        self._backlog.clear()  # datagrams read ahead and not handled: lost, as in a socket's buffer
        await super().stop()

    def _own_for(self, endpoint: SipEndpoint) -> SipEndpoint | None:
        host = endpoint.local_addr[0]
        return next((ep for ep in self.endpoints if id(ep) not in self._public_endpoints
                     and ep.transport_name == "UDP" and ep.local_addr[0] == host), None)

    def _endpoint_for(self, transport: str, prefer: SipEndpoint) -> SipEndpoint | None:
        """Calls leave from the worker's own port, never the shared one: their answers must come here."""
        if id(prefer) in self._public_endpoints:
            own = self._own_for(prefer)
            if own is not None and transport.upper() == "UDP":
                return own
        found = super()._endpoint_for(transport, prefer)
        if found is not None and id(found) in self._public_endpoints:
            return self._own_for(found) or found
        return found

    # -- the channel --------------------------------------------------------------------------------
    def publish(self, kind: bytes, payload: bytes) -> None:
        self._send(kind + payload)

    def _send(self, message: bytes) -> None:
        try:
            self.channel.send(message)
        except BlockingIOError:
            log.warning("worker %d: channel to the dispatcher full; an update was lost", self.index)
        except OSError:
            self.stopped.set()

    def _read_channel(self) -> None:
        """Reads a batch off the channel and handles it. While the worker is saturated it reads ahead (up to
        READ_AHEAD messages, BACKLOG_LIMIT datagrams waiting), refusing new calls as it reads them when it is
        at its pending limits (its delay is the dispatcher's to refuse on: :mod:`admission`), then handles a
        batch of the backlog: a refusal is sent when its INVITE is read, not after the calls queued before
        it. Otherwise it reads no more than it handles, so what it takes it takes at the pace it can carry."""
        admission = self.admission
        ahead = admission is not None and admission.may_refuse(admission.clock.time())
        limit = BACKLOG_LIMIT if ahead else READ_BATCH
        for _ in range(READ_AHEAD if ahead else READ_BATCH):
            if len(self._backlog) >= limit:
                break
            try:
                message = self._reader.recv(self.channel)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                message = b""
            if not message:  # the dispatcher is gone
                asyncio.get_running_loop().remove_reader(self.channel.fileno())
                self.stopped.set()
                return
            kind = message[:1]
            if kind == DATAGRAM:
                received_at, listen, peer, data = unpack_datagram(message)
                if listen < len(self._dispatched):
                    reported = self._at_door(data, peer, listen)
                    if reported is not None:
                        self._backlog.append((received_at, listen, peer, data, reported))
            elif not apply_update(kind, message[1:], self.registrar, self.limiter, self.b2bua.ctx.health,
                                  self.destinations):
                log.warning("worker %d: unknown message %r from the dispatcher", self.index, kind)
        if not self._draining:
            self._drain()

    def _at_door(self, data: bytes, peer: Addr, listen: int) -> bool | None:
        """None when ``data`` is a new INVITE refused now (admission control's pending limits: its 503 was
        sent); else whether it was already reported to the tap (it was, when it had to be read here)."""
        admission = self.admission
        if admission is None or data[:7] != b"INVITE " or not admission.at_limit():
            return False
        transport = self._dispatched[listen]
        report_datagram(transport.local_addr, peer, data, sent=False)
        try:
            message = parse_message(data)
        except SIPParseError:  # the worker's own checks answer it, in turn
            return True
        return None if admission.refuse(message, peer, transport, on_delay=False) else True

    def _drain(self) -> None:
        """Handles up to READ_BATCH datagrams of the backlog; the rest on the event loop's next pass."""
        self._draining = False
        backlog = self._backlog
        for _ in range(READ_BATCH):
            if not backlog:
                return
            received_at, listen, peer, data, reported = backlog.popleft()
            self._dispatched[listen].deliver(data, peer, received_at, reported=reported)
        if backlog:
            self._draining = True
            asyncio.get_running_loop().call_soon(self._drain)
