"""A worker of ``--workers N`` reads its channel (datagrams from the dispatcher) without a channel-sized
allocation per message: the messages are datagrams of a few hundred bytes, the channel's limit is 4 MiB."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc

import pytest

from reference_server.admission import Admission, AdmissionConfig
from reference_server.listeners import screened
from reference_server.worker import (
    CHANNEL_BUFFER,
    READ_BATCH,
    DispatchedUdpTransport,
    WorkerServer,
    pack_datagram,
)
from sipcore import parse_message
from sipcore.aio.transport import Addr, Transport
from sipcore.message import Message, Response

from ..addresses import loopback
from .support import make_config


def _worker(channel: socket.socket) -> WorkerServer:
    hello = {"index": 0, "public": [], "own": [], "relay": [20000, 20999], "secret": "00" * 32}
    return WorkerServer(make_config((loopback(2), 5080)), hello, channel)


def test_the_worker_reads_datagrams_off_its_channel_without_a_channel_sized_buffer_each() -> None:
    dispatcher, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with dispatcher, worker_end:
        worker_end.setblocking(False)
        worker = _worker(worker_end)
        received = _listening(worker)
        datagrams = [b"OPTIONS sip:x SIP/2.0\r\n" + bytes([65 + i]) * 300 for i in range(8)]
        for data in datagrams:
            dispatcher.send(pack_datagram(1.0, 0, ("192.0.2.1", 5060), data))
        tracemalloc.start()
        try:
            worker._read_channel()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert [data for data, _, _ in received] == datagrams  # each datagram whole, in order
        assert not worker.stopped.is_set()
        assert peak < CHANNEL_BUFFER // 8, f"reading 8 small datagrams allocated up to {peak} bytes at once"


def _listening(worker: WorkerServer) -> list[tuple[bytes, tuple[str, int], float]]:
    received: list[tuple[bytes, tuple[str, int], float]] = []

    class Listener:
        def deliver(self, data: bytes, peer: tuple[str, int], at: float, *, reported: bool = False) -> None:
            received.append((data, peer, at))

    worker._dispatched = [Listener()]  # type: ignore[list-item]
    return received


def test_a_datagram_as_large_as_udp_allows_crosses_the_channel_whole() -> None:
    dispatcher, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with dispatcher, worker_end:
        dispatcher.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHANNEL_BUFFER)
        worker_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHANNEL_BUFFER)
        worker_end.setblocking(False)
        worker = _worker(worker_end)
        received = _listening(worker)
        big = bytes(range(256)) * 255 + b"end"  # 65283 bytes
        dispatcher.send(pack_datagram(2.5, 0, ("2001:db8::1", 5062), big))
        dispatcher.send(pack_datagram(3.5, 0, ("192.0.2.7", 5070), b"small"))
        worker._read_channel()
        assert received == [(big, ("2001:db8::1", 5062), 2.5), (b"small", ("192.0.2.7", 5070), 3.5)]


def _invite(call_id: str) -> bytes:
    return (f"INVITE sip:15550100@example.trunk.voipbin.net SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {loopback(3)}:5070;branch=z9hG4bK-{call_id}\r\n"
            f"From: <sip:alice@example.trunk.voipbin.net>;tag=a1\r\nTo: <sip:15550100@example.trunk.voipbin.net>\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:alice@{loopback(3)}:5070>\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def _saturable_worker(channel: socket.socket, shared: socket.socket) -> tuple[WorkerServer, list[bytes]]:
    """A worker with admission control whose shared listen address is ``shared``; returns it and the list of
    datagrams its transport hands on (refused INVITEs never reach it)."""
    worker = WorkerServer(make_config((loopback(2), 5080)), {"index": 0, "public": [], "own": [],
                          "relay": [20000, 20999], "secret": "00" * 32}, channel, admission=AdmissionConfig())
    assert worker.admission is not None
    handed: list[bytes] = []

    def on_message(message: Message, addr: Addr, transport: Transport) -> None:
        handed.append(message.headers.get("Call-ID") or "")

    worker._dispatched = [DispatchedUdpTransport(shared, screened(on_message, worker.admission.count),
                                                 lambda *_: None, worker.admission)]
    return worker, handed  # type: ignore[return-value]


def _delayed(admission: Admission | None, delayed: bool, *, delay: float = 0.2) -> None:
    assert admission is not None
    admission.delayed, admission.delay, admission.cause = delayed, delay, "test: saturated"
    admission._interval_end = admission.clock.time() + 3600.0  # the state holds for the test


def _in_dialog(i: int) -> bytes:
    return (f"BYE sip:bob@{loopback(3)} SIP/2.0\r\nVia: SIP/2.0/UDP {loopback(3)}:5070;branch=z9hG4bK-b{i}\r\n"
            f"From: <sip:alice@x>;tag=a\r\nTo: <sip:bob@x>;tag=b\r\nCall-ID: backlog-{i}\r\nCSeq: 2 BYE\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def _pair() -> tuple[socket.socket, socket.socket, socket.socket, socket.socket]:
    dispatcher, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    dispatcher.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHANNEL_BUFFER)  # as the dispatcher's
    worker_end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CHANNEL_BUFFER)
    dispatcher.settimeout(2.0)
    worker_end.setblocking(False)
    shared = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    shared.bind((loopback(2), 0))
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind((loopback(3), 0))
    caller.settimeout(0.5)
    return dispatcher, worker_end, shared, caller


def _at_limit(admission: Admission | None, pending: int) -> None:
    assert admission is not None
    admission.pending = lambda: pending


def test_a_worker_at_its_pending_limit_refuses_a_new_invite_when_it_arrives_not_after_the_backlog_before_it() -> None:
    dispatcher, worker_end, shared, caller = _pair()

    async def scenario() -> None:
        worker, handed = _saturable_worker(worker_end, shared)
        assert worker.admission is not None
        _at_limit(worker.admission, worker.admission.config.max_pending)
        peer = caller.getsockname()
        for i in range(3 * READ_BATCH):
            dispatcher.send(pack_datagram(1.0, 0, peer, _in_dialog(i)))
        dispatcher.send(pack_datagram(1.0, 0, peer, _invite("new-call")))
        worker._read_channel()
        assert len(handed) == READ_BATCH  # one batch of the backlog handled so far ...
        refusal = parse_message(caller.recv(65535))  # ... and the new call already refused
        assert isinstance(refusal, Response) and refusal.status == 503
        assert refusal.headers.get("Call-ID") == "new-call" and refusal.headers.get("Retry-After")
        assert "INVITEs pending" in (refusal.headers.get("Warning") or "")
        for _ in range(10):
            await asyncio.sleep(0)
        assert handed == [f"backlog-{i}" for i in range(3 * READ_BATCH)]  # the rest, in order; the INVITE never

    with dispatcher, worker_end, shared, caller:
        asyncio.run(scenario())


def test_a_delayed_worker_takes_the_new_invites_the_dispatcher_let_through() -> None:
    """A worker's delay is the dispatcher's to act on (front_door: it refuses the worker's new calls at once
    while the worker says it is delayed). What it let through before it knew has waited in the channel, and
    a refusal now would come late: the worker takes it (a call already waiting is set up, not answered 503
    after the wait)."""
    dispatcher, worker_end, shared, caller = _pair()

    async def scenario() -> None:
        worker, handed = _saturable_worker(worker_end, shared)
        _delayed(worker.admission, True)
        peer = caller.getsockname()
        for i in range(2 * READ_BATCH):
            dispatcher.send(pack_datagram(1.0, 0, peer, _in_dialog(i)))
        dispatcher.send(pack_datagram(1.0, 0, peer, _invite("let-through")))
        worker._read_channel()
        for _ in range(10):
            await asyncio.sleep(0)
        assert handed == [*(f"backlog-{i}" for i in range(2 * READ_BATCH)), "let-through"]
        with pytest.raises(TimeoutError):
            caller.recv(65535)  # no 503
        assert worker.admission is not None and worker.admission.admitted == 1 and worker.admission.refused == 0

    with dispatcher, worker_end, shared, caller:
        asyncio.run(scenario())


def test_an_invite_taken_when_it_was_read_is_not_refused_when_the_worker_gets_to_it_further_behind() -> None:
    """At its pending limit a worker refuses a credentialed INVITE (the second half of a call it challenged)
    only at twice the limit; that decision is made once, as the INVITE is read, not again after the backlog."""
    dispatcher, worker_end, shared, caller = _pair()

    async def scenario() -> None:
        worker, handed = _saturable_worker(worker_end, shared)
        assert worker.admission is not None
        limit = worker.admission.config.max_pending
        _at_limit(worker.admission, limit)  # at the limit, not at twice it
        peer = caller.getsockname()
        for i in range(2 * READ_BATCH):
            dispatcher.send(pack_datagram(1.0, 0, peer, _in_dialog(i)))
        credentials = b'Proxy-Authorization: Digest username="alice", realm="x", nonce="n", uri="sip:x", response="0"\r\n'
        dispatcher.send(pack_datagram(1.0, 0, peer, _invite("taken").replace(b"Content-Length", credentials
                                                                             + b"Content-Length")))
        worker._read_channel()
        assert "taken" not in handed
        _at_limit(worker.admission, 2 * limit)  # far behind by the time the INVITE's turn comes
        for _ in range(10):
            await asyncio.sleep(0)
        assert handed[-1] == "taken" and len(handed) == 2 * READ_BATCH + 1
        assert worker.admission.admitted == 1 and worker.admission.refused == 0

    with dispatcher, worker_end, shared, caller:
        asyncio.run(scenario())
