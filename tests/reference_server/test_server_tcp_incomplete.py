"""The reference server closes a TCP connection that holds half an INVITE for 64*T1 (32 s, stepped clock),
saying so in its log, and still answers on a new connection; no exception is logged."""

from __future__ import annotations

import asyncio
import random

from reference_server.server import ReferenceServer
from sipcore.aio.clock import SteppedClock

from .fuzz_rig import SEED, LogWatch, options_bytes, server_addr, watch_logs
from .support import TEST_CONFIG, make_config


def test_half_an_invite_is_closed_after_32_s_and_the_server_answers_on() -> None:
    async def main(watch: LogWatch) -> tuple[bool, bytes, bytes, str, int]:
        clock = SteppedClock(0.0)
        config = make_config(("127.0.0.1", 9), TEST_CONFIG, listen=("tcp:127.0.0.1:0",))
        server = ReferenceServer(config, timer_c=1.0, rng=random.Random(SEED), clock=clock)
        await server.start()
        addr = server_addr(server, "tcp")
        reader, writer = await asyncio.open_connection(*addr)
        try:
            local = writer.get_extra_info("sockname")
            head = (f"INVITE sip:+15550100@{addr[0]}:{addr[1]} SIP/2.0\r\n"
                    f"Via: SIP/2.0/TCP {local[0]}:{local[1]};branch=z9hG4bK-half\r\n").encode()
            writer.write(head)
            await writer.drain()
            await clock.advance(31)
            try:
                await asyncio.wait_for(reader.read(1), 0.2)
                open_at_31 = False
            except TimeoutError:
                open_at_31 = True
            await clock.advance(1)
            try:
                eof = await asyncio.wait_for(reader.read(1), 5)
            except ConnectionResetError:
                eof = b""
            reader2, writer2 = await asyncio.open_connection(*addr)
            local2 = writer2.get_extra_info("sockname")
            writer2.write(options_bytes(addr, (local2[0], local2[1]), "TCP", 1))
            await writer2.drain()
            answer = await asyncio.wait_for(reader2.readuntil(b"\r\n\r\n"), 5)
            writer2.close()
            return open_at_31, eof, answer, f"{local[0]}:{local[1]}", len(head)
        finally:
            writer.close()
            await server.stop()

    with watch_logs() as watch:
        open_at_31, eof, answer, peer, held = asyncio.run(main(watch))
    assert open_at_31, "closed before 32 s"
    assert eof == b"", "the half INVITE's connection stayed open past 32 s"
    assert answer.startswith(b"SIP/2.0 200 ")
    lines = [line for line in watch.lines if "closing TCP connection" in line]
    assert lines == [f"closing TCP connection from {peer}: incomplete message ({held} bytes) for 32 s"], watch.lines
    assert not watch.problems, [r.getMessage() for r in watch.problems]
