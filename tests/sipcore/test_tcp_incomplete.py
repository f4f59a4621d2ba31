"""A TCP connection holding part of a message is closed after a bounded wait (stepped clock), with one
log line; a message completed in time is answered and its connection kept, idle or not."""

from __future__ import annotations

import asyncio
import logging

import pytest

from sipcore.aio.clock import SteppedClock
from sipcore.aio.endpoint import SipEndpoint
from sipcore.aio.transport import INCOMPLETE_TIMEOUT, TcpTransport
from sipcore.message import make_response
from sipcore.transaction import Event, RequestReceived


def _options(port: int, branch: str) -> bytes:
    return (f"OPTIONS sip:probe@127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP 127.0.0.1:{port};branch=z9hG4bK{branch}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:probe@127.0.0.1>\r\n"
            f"Call-ID: {branch}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def _answer_200(event: Event, endpoint: SipEndpoint) -> None:
    if isinstance(event, RequestReceived) and event.transaction is not None:
        endpoint.send_response(make_response(event.request, 200, to_tag="srv"))


async def _open(clock: SteppedClock) -> tuple[SipEndpoint, asyncio.StreamReader, asyncio.StreamWriter]:
    server = await SipEndpoint.open("TCP", "127.0.0.1", 0, _answer_200, clock=clock)
    reader, writer = await asyncio.open_connection(*server.local_addr[:2])
    await clock.settle()
    return server, reader, writer


async def _is_open(reader: asyncio.StreamReader) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(1), 0.2)
    except TimeoutError:
        return True
    except ConnectionResetError:
        return False
    assert data == b"", f"unexpected bytes {data!r}"
    return False


async def _response(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert "Traceback" not in caplog.text


def test_partial_message_is_closed_at_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sipcore")

    async def main() -> tuple[bool, bool]:
        clock = SteppedClock(0.0)
        server, reader, writer = await _open(clock)
        try:
            partial = _options(writer.get_extra_info("sockname")[1], "part")[:60]
            writer.write(partial)
            await writer.drain()
            await clock.settle()
            await clock.advance(INCOMPLETE_TIMEOUT - 1)
            before = await _is_open(reader)
            await clock.advance(1)
            after = await _is_open(reader)
            return before, after
        finally:
            writer.close()
            server.close()

    before, after = asyncio.run(main())
    assert before, "closed before the limit"
    assert not after, "a partial message held the connection open past the limit"
    lines = [r.getMessage() for r in caplog.records if "incomplete message" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert lines[0].startswith("closing TCP connection from 127.0.0.1:")
    assert lines[0].endswith(": incomplete message (60 bytes) for 32 s")
    assert "unfinished message" not in caplog.text  # one line for one close
    _no_traceback(caplog)


def test_message_completed_in_time_is_answered_and_connection_kept(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sipcore")

    async def main() -> tuple[bytes, bytes, bool]:
        clock = SteppedClock(0.0)
        server, reader, writer = await _open(clock)
        try:
            port = writer.get_extra_info("sockname")[1]
            first = _options(port, "one")
            writer.write(first[:60])
            await writer.drain()
            await clock.settle()
            await clock.advance(INCOMPLETE_TIMEOUT - 2)
            writer.write(first[60:])
            await writer.drain()
            answer = await _response(reader)
            await clock.advance(600)  # idle, nothing pending: an idle connection is kept
            writer.write(_options(port, "two"))
            await writer.drain()
            again = await _response(reader)
            return answer, again, await _is_open(reader)
        finally:
            writer.close()
            server.close()

    answer, again, still_open = asyncio.run(main())
    assert answer.startswith(b"SIP/2.0 200 ")
    assert again.startswith(b"SIP/2.0 200 ") and b"branch=z9hG4bKtwo" in again
    assert still_open
    assert "closing TCP connection" not in caplog.text
    _no_traceback(caplog)


def test_slowloris_one_byte_a_second_is_cut_at_the_limit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sipcore")

    async def main() -> float | None:
        clock = SteppedClock(0.0)
        server, reader, writer = await _open(clock)
        try:
            data = _options(writer.get_extra_info("sockname")[1], "slow")
            start = clock.time()
            for i in range(len(data) - 1):  # never the last byte
                if reader.at_eof() or writer.is_closing():
                    break
                try:
                    writer.write(data[i:i + 1])
                    await writer.drain()
                except ConnectionError:
                    break
                await clock.settle()
                await clock.advance(1)
                if reader.at_eof() or not await _still_open_now(reader):
                    return clock.time() - start
            return None
        finally:
            writer.close()
            server.close()

    cut_after = asyncio.run(main())
    assert cut_after == INCOMPLETE_TIMEOUT, f"cut after {cut_after} s"
    lines = [r.getMessage() for r in caplog.records if "incomplete message" in r.getMessage()]
    assert lines == [lines[0]] and lines[0].endswith(": incomplete message (32 bytes) for 32 s"), caplog.text
    _no_traceback(caplog)


async def _still_open_now(reader: asyncio.StreamReader) -> bool:
    try:
        data = await asyncio.wait_for(reader.read(1), 0.02)
    except TimeoutError:
        return True
    except ConnectionResetError:
        return False
    return data != b""


def test_idle_limit_closes_an_idle_connection_only_when_asked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sipcore")

    async def main() -> tuple[bool, bool]:
        clock = SteppedClock(0.0)
        transport = await TcpTransport.listen("127.0.0.1", 0, lambda m, a, t: None, clock=clock,
                                              idle_timeout=120)
        reader, writer = await asyncio.open_connection(*transport.local_addr)
        try:
            await clock.settle()
            await clock.advance(119)
            before = await _is_open(reader)
            await clock.advance(1)
            return before, await _is_open(reader)
        finally:
            writer.close()
            transport.close()

    before, after = asyncio.run(main())
    assert before and not after
    assert "idle for 120 s" in caplog.text
    _no_traceback(caplog)


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TcpTransport(lambda m, a, t: None, incomplete_timeout=0)
