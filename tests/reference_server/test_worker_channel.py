"""A worker of ``--workers N`` reads its channel (datagrams from the dispatcher) without a channel-sized
allocation per message: the messages are datagrams of a few hundred bytes, the channel's limit is 4 MiB."""

from __future__ import annotations

import socket
import tracemalloc

from reference_server.worker import CHANNEL_BUFFER, WorkerServer, pack_datagram

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
        def deliver(self, data: bytes, peer: tuple[str, int], at: float) -> None:
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
