"""What the fuzz tests found, each reduced to the messages that show it (fast, and run with the suite).

RFC 2543 requests (no branch, or the bare magic cookie of RFC 4475 badbranch.dat) that differ only in
their Request-URI are separate server transactions (RFC 3261 §17.2.3). The server answered the second
one through the first (the response carries no Request-URI to tell them apart): "INVITE server transaction
in state Completed cannot send a 300-699 response" in the log, and the second request never answered.
"""

from __future__ import annotations

import asyncio
import random
import re
import socket

import pytest

from ..sipcore.torture import load
from .fuzz_rig import LogWatch, bind_source, server_addr, start_server, watch_logs
from .support import run

_STATUS = re.compile(rb"^SIP/2\.0 (\d{3}) ", re.M)


async def _finals(sock: socket.socket, call_id: bytes, until: int | None = None, timeout: float = 2.0) -> list[int]:
    """The final statuses received for ``call_id`` (retransmissions too) until ``until`` (None: any final)
    arrives, or the timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    finals: list[int] = []
    while (left := deadline - loop.time()) > 0:
        try:
            data = await asyncio.wait_for(loop.sock_recv(sock, 65535), left)
        except TimeoutError:
            break
        m = _STATUS.match(data)
        if m and call_id in data and int(m.group(1)) >= 200:
            finals.append(int(m.group(1)))
            if until is None or finals[-1] == until:
                break
    return finals


@pytest.mark.parametrize(("file", "method", "uri"), [
    ("inv2543.dat", b"INVITE", b"tel:user@example.com"),
    ("badbranch.dat", b"OPTIONS", b"sips:user@example.com"),
])
def test_rfc2543_request_with_another_request_uri_gets_its_own_answer(file: str, method: bytes, uri: bytes) -> None:
    original = load(file)
    first_line = original.split(b"\r\n", 1)[0]
    assert first_line.startswith(method + b" ")
    other = method + b" " + uri + b" SIP/2.0" + original[len(first_line):]
    call_id = re.search(rb"Call-ID: (\S+)", original).group(1)  # type: ignore[union-attr]

    async def main(watch: LogWatch) -> None:
        source = bind_source(random.Random(file))
        server = await start_server()
        try:
            source.sendto(original, server_addr(server, "udp"))
            assert len(await _finals(source, call_id)) == 1
            source.sendto(other, server_addr(server, "udp"))  # while the first transaction is Completed
            finals = await _finals(source, call_id, until=416)
            assert 416 in finals, f"{method.decode()} {uri.decode()} got {finals}, not 416 Unsupported URI Scheme"
        finally:
            source.close()
            await server.stop()

    with watch_logs() as watch:
        run(main(watch))
    assert not watch.problems, "\n".join(watch.describe(r) for r in watch.problems)
