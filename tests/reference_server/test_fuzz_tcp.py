"""The reference server's TCP framing under bad input (RFC 3261 §18.3: Content-Length frames each message).

- Messages split at every byte boundary, CRLFs between them, a malformed but framed request (400): the
  connection keeps working and the next OPTIONS on it gets 200.
- Input that cannot be framed (no or a bad Content-Length, a body or header section over the limits,
  garbage where a message should start): the server answers 400 (513 for too large) where a Via lets it,
  logs why it closes the connection, and closes it.
- A peer closing mid-message: a log line saying how much was left unfinished.
- Seeded fuzz: the UDP fuzz corpus as TCP streams in random chunks, each followed by an OPTIONS on the
  same connection: answered 200, or (when the fuzzed message took it in as its body) the server answered
  the fuzzed message, or it logged why the connection ended or what it could not read.

Throughout: no exception in the server's log, and a new connection's OPTIONS gets 200.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from sipcore.message import Message
from sipcore.parser import MAX_BODY_BYTES, MAX_HEAD_BYTES, StreamFramer

from .fuzz_corpus import datagrams
from .fuzz_rig import (
    PROBE_WAIT,
    SEED,
    Destination,
    LogWatch,
    env_int,
    fuzz_config,
    options_bytes,
    read_responses,
    server_addr,
    start_server,
    watch_logs,
)
from .support import run

Addr = tuple[str, int]
STREAMS = env_int("TRUNKCHECK_FUZZ_STREAMS", 5000)
PROBE_EVERY = 100
CLIENT_HOST = "127.0.0.1"


class Client:
    """One TCP connection to the server, with the framer that reads its responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Responses to fuzzed requests copy fuzzed header fields: frame them, do not validate them.
        self.reader, self.writer, self.framer = reader, writer, StreamFramer(validate_headers=False)
        self.received: list[Message] = []
        sockname = writer.get_extra_info("sockname")
        self.local: Addr = (sockname[0], sockname[1])
        self.count = 0

    @classmethod
    async def connect(cls, server: Addr, host: str = CLIENT_HOST) -> Client:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*server, local_addr=(host, 0)), PROBE_WAIT)
        return cls(reader, writer)

    def options(self, server: Addr, body: bytes = b"") -> tuple[bytes, bytes]:
        """An OPTIONS (with ``body`` as text/plain) unique on this connection: (bytes, Call-ID prefix)."""
        self.count += 1
        n = self.local[1] * 10_000 + self.count
        data = options_bytes(server, self.local, "TCP", n)
        if body:
            data = data.replace(b"Content-Length: 0\r\n", b"Content-Type: text/plain\r\nContent-Length: "
                                + str(len(body)).encode() + b"\r\n") + body
        return data, f"fuzz-probe-{n}@".encode()

    async def send(self, data: bytes) -> bool:
        """Write; False when the server has closed the connection."""
        try:
            self.writer.write(data)
            await asyncio.wait_for(self.writer.drain(), PROBE_WAIT)
        except (ConnectionError, TimeoutError):
            return False
        return True

    async def probe(self, server: Addr) -> int:
        data, call_id = self.options(server)
        if not await self.send(data):
            return 0
        return await read_responses(self.reader, self.framer, call_id)

    async def statuses(self, count: int) -> list[int]:
        """The statuses of the next ``count`` final responses (fewer when the server closes first)."""
        loop = asyncio.get_running_loop()
        deadline, found = loop.time() + PROBE_WAIT, []
        while len(found) < count and (left := deadline - loop.time()) > 0:
            try:
                chunk = await asyncio.wait_for(self.reader.read(65535), left)
            except (TimeoutError, ConnectionError):
                break
            if not chunk:
                break
            found += [int(getattr(m, "status", 0)) for m in self.framer.feed(chunk) if getattr(m, "status", 0) >= 200]
        return found

    async def closed_by_server(self) -> bool:
        """Whether the server closes the connection (EOF) within PROBE_WAIT; what comes first is read
        into ``received``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PROBE_WAIT
        while (left := deadline - loop.time()) > 0:
            try:
                chunk = await asyncio.wait_for(self.reader.read(65535), left)
            except TimeoutError:
                return False
            except ConnectionError:
                return True
            if not chunk:
                return True
            self.received += self.framer.feed(chunk)
        return False

    async def finish(self) -> bool:
        """Half-close (the server closes its side after reading everything), then read up to the end;
        whether the server closed within PROBE_WAIT."""
        try:
            self.writer.write_eof()
        except (ConnectionError, OSError):
            pass
        return await self.closed_by_server()

    def answered(self, call_id: bytes) -> int:
        """The status of the final response received for ``call_id`` (0: none)."""
        for message in self.received:
            status = int(getattr(message, "status", 0))
            if status >= 200 and (message.headers.get("Call-ID") or "").encode("utf-8", "surrogateescape").startswith(call_id):
                return status
        return 0

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), PROBE_WAIT)
        except (ConnectionError, TimeoutError):
            pass


async def _settle() -> None:
    """Let the server read what was just written (it runs in this event loop)."""
    for _ in range(3):
        await asyncio.sleep(0)


def _with_tcp_server(test: object) -> tuple[LogWatch, list[object]]:
    """Run ``test(server_addr)`` against a fresh server; the log watch and what the test returned."""
    results: list[object] = []

    async def main() -> None:
        server = await start_server()
        try:
            results.append(await test(server_addr(server, "tcp")))  # type: ignore[operator]
            fresh = await Client.connect(server_addr(server, "tcp"))
            assert await fresh.probe(server_addr(server, "tcp")) == 200, "a new connection gets no 200 to OPTIONS"
            await fresh.close()
        finally:
            await server.stop()

    with watch_logs() as watch:
        run(main(), timeout=60)
    assert not watch.problems, "\n\n".join(watch.describe(r) for r in watch.problems)
    return watch, results


def test_messages_split_at_every_byte_boundary_are_all_answered_on_one_connection() -> None:
    async def test(server: Addr) -> None:
        client = await Client.connect(server)
        first, _ = client.options(server, body=b"hello")
        for cut in range(1, len(first)):  # two pipelined messages, cut anywhere (in the second one too)
            data, _ = client.options(server, body=b"hello")
            more, _ = client.options(server)
            stream = data + more
            for part in (stream[:cut], stream[cut:]):
                assert await client.send(part)
                await _settle()
            assert await client.statuses(2) == [200, 200], f"cut at byte {cut}"
        data, call_id = client.options(server, body=b"one byte at a time")
        for i in range(len(data)):
            assert await client.send(data[i:i + 1])
            await _settle()
        assert await read_responses(client.reader, client.framer, call_id) == 200
        await client.close()

    _with_tcp_server(test)


def test_crlf_between_messages_and_a_malformed_framed_request_keep_the_connection() -> None:
    async def test(server: Addr) -> None:
        client = await Client.connect(server)
        good, _ = client.options(server)
        bad, _ = client.options(server)
        bad = bad.replace(b"CSeq: ", b"CSeq: x")  # framed (Content-Length 0), but no CSeq number: 400
        after, _ = client.options(server)
        assert await client.send(b"\r\n\r\n" + good + b"\r\n" + bad + b"\r\n\r\n\r\n" + after)
        assert await client.statuses(3) == [200, 400, 200]  # in order, none lost
        assert await client.probe(server) == 200  # and the connection still serves
        await client.close()

    _with_tcp_server(test)


def _unframeable(server: Addr, client: Client) -> dict[str, bytes]:
    head = options_bytes(server, client.local, "TCP", 1)
    return {
        "no Content-Length": head.replace(b"Content-Length: 0\r\n", b""),
        "negative Content-Length": head.replace(b"Content-Length: 0", b"Content-Length: -1"),
        "Content-Length over the limit": head.replace(b"Content-Length: 0",
                                                      f"Content-Length: {MAX_BODY_BYTES + 1}".encode()),
        "header section over the limit": head.replace(b"\r\n\r\n", b"\r\nX-Pad: " + b"a" * MAX_HEAD_BYTES),
        "garbage for a start line": b"hello, is this SIP?\r\n\r\n",
        "binary garbage": random.Random(1).randbytes(3000) + b"\r\n\r\n",
    }


@pytest.mark.parametrize(("case", "status"), [
    ("no Content-Length", 400), ("negative Content-Length", 400), ("Content-Length over the limit", 513),
    ("header section over the limit", 513), ("garbage for a start line", None), ("binary garbage", None),
])
def test_unframeable_stream_is_answered_where_addressable_then_closed_with_a_log_line(case: str,
                                                                                    status: int | None) -> None:
    async def test(server: Addr) -> tuple[Addr, list[int]]:
        client = await Client.connect(server)
        assert await client.probe(server) == 200
        assert await client.send(_unframeable(server, client)[case])
        closed = await client.closed_by_server()
        answered = [int(getattr(m, "status", 0)) for m in client.received]
        assert closed, f"{case}: the connection stays open on a stream that cannot be framed"
        await client.close()
        return client.local, answered

    watch, [(local, answered)] = _with_tcp_server(test)  # type: ignore[misc]
    assert answered == ([] if status is None else [status]), f"{case}: answered {answered}"
    peer = f"{local[0]}:{local[1]}"
    closing = [line for line in watch.lines if peer in line and "closing" in line]
    assert closing, f"{case}: no log line says why the connection from {peer} was closed"


@pytest.mark.parametrize("cut", ["in the header section", "in the body"])
def test_peer_closing_mid_message_is_logged_and_the_server_keeps_serving(cut: str) -> None:
    async def test(server: Addr) -> Addr:
        client = await Client.connect(server)
        data, _ = client.options(server, body=b"a body of some length")
        assert await client.send(data[:40] if cut == "in the header section" else data[:-5])
        await _settle()
        await client.close()
        for _ in range(10):
            await _settle()
        return client.local

    watch, [local] = _with_tcp_server(test)
    peer = f"{local[0]}:{local[1]}"  # type: ignore[index]
    assert [line for line in watch.lines if peer in line and "unfinished" in line], watch.lines


def test_fuzzed_streams_raise_nothing_and_every_connection_is_answered_or_closed_with_a_reason() -> None:
    print(f"fuzz seed {SEED} ({STREAMS} TCP streams; TRUNKCHECK_FUZZ_SEED={SEED} replays it)")
    rng = random.Random(SEED)
    failures: list[str] = []
    unexplained: list[str] = []
    probes: list[tuple[int, int]] = []

    async def main(watch: LogWatch) -> None:
        destination = Destination(SEED)
        host = f"127.{rng.randrange(40, 250)}.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}"
        server = await start_server(await destination.open(), fuzz_config(host))
        addr = server_addr(server, "tcp")
        try:
            for n, (kind, data) in enumerate(datagrams(SEED + 1, STREAMS), 1):
                known, lines = len(watch.problems), len(watch.lines)
                client = await Client.connect(addr, host)
                probe, call_id = client.options(addr)
                cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 3))))
                for part in (data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)):
                    if not await client.send(part):
                        break
                    await _settle()
                # After a blank line, so that a fuzzed head cut short ends there instead of absorbing the
                # OPTIONS (a partial response would make a whole one of it, which is silently discarded).
                await client.send(b"\r\n\r\n" + probe)
                closed = await client.finish()
                answered = client.answered(call_id) == 200
                await client.close()
                peer = f"{client.local[0]}:{client.local[1]}"
                if not closed:
                    unexplained.append(f"stream {n} ({kind}): not closed after the client's FIN: {data[:300]!r}")
                elif not answered and not client.received and not any(peer in line for line in watch.lines[lines:]):
                    unexplained.append(f"stream {n} ({kind}): {data[:300]!r}")
                for record in watch.problems[known:]:
                    if len(failures) < 5:
                        failures.append(f"stream {n} of seed {SEED} ({kind}, {len(data)} bytes):\n"
                                        f"{data[:1500]!r}\n{watch.describe(record)}")
                if n % PROBE_EVERY == 0:
                    fresh = await Client.connect(addr)
                    probes.append((n, await fresh.probe(addr)))
                    await fresh.close()
        finally:
            await server.stop()
            destination.close()

    started = time.monotonic()
    with watch_logs() as watch:
        run(main(watch), timeout=600)
    print(f"{STREAMS} TCP streams in {time.monotonic() - started:.1f} s")
    assert not watch.problems, (f"{len(watch.problems)} exceptions logged (seed {SEED}):\n\n"
                                + "\n\n".join(failures))
    assert not unexplained, (f"{len(unexplained)} connections got no answer and the server logged nothing about "
                             f"them (seed {SEED}); the first:\n" + "\n".join(unexplained[:5]))
    assert [n for n, status in probes if status != 200] == [], probes
