"""``--workers N``: the dispatcher hands each call to one worker, registrations and the failed-auth lockout
hold across workers, SIGTERM stops them all, and a worker that dies is started again.

The server runs as a process (``python -m reference_server --workers 2``); the phones and the destination
are loopback peers of this test process. Which worker gets a request is decided by its Call-ID
(``owner_of``), so each test picks Call-IDs for the worker it wants."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from harness.adapters.server_process import ReferenceServerProcess
from reference_server.workers import owner_of, relay_slices
from sipcore.aio.clock import SteppedClock
from sipcore.message import Request

from ..addresses import loopback
from .support import IDS, TEST_CONFIG, WAIT, Peer, offer, retry_with_credentials, run

REGISTRAR = "example.registrar.voipbin.net"
TRUNK = "example.trunk.voipbin.net"


def call_id_for(worker: int, count: int = 2) -> str:
    """A fresh Call-ID the dispatcher gives to ``worker``."""
    while True:
        call_id = IDS.call_id(loopback(1))
        if owner_of(f"INVITE x SIP/2.0\r\nCall-ID: {call_id}\r\n".encode(), ("", 0), count) == worker:
            return call_id


def test_register_goes_to_worker_0_and_a_call_stays_with_the_worker_of_its_call_id() -> None:
    call = b"INVITE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP a\r\nCall-ID: abc@host\r\n\r\n"
    compact = b"ACK sip:x SIP/2.0\r\nv: SIP/2.0/UDP a\r\ni: abc@host\r\n\r\n"
    owners = {owner_of(call, ("127.0.0.1", 5), 7), owner_of(compact, ("127.0.0.9", 9), 7)}
    assert len(owners) == 1
    assert {owner_of(f"INVITE x SIP/2.0\r\nCall-ID: {n}\r\n".encode(), ("", 0), 2) for n in range(20)} == {0, 1}
    register = b"REGISTER sip:r SIP/2.0\r\nCall-ID: abc@host\r\n\r\n"
    assert {owner_of(register.replace(b"abc", str(n).encode()), ("", 0), 4) for n in range(20)} == {0}


def test_relay_ports_are_cut_in_whole_rtp_rtcp_pairs_per_worker() -> None:
    assert relay_slices(20000, 39999, 2) == [(20000, 29999), (30000, 39999)]
    assert relay_slices(40001, 40999, 3) == [(40002, 40333), (40334, 40665), (40666, 40997)]


def _config(dest: tuple[str, int], port: int) -> str:
    text = re.sub(r'listen = \[[^]]*\]', f'listen = ["udp:{loopback(1)}:{port}"]', TEST_CONFIG)
    return re.sub(r'destination = "sip:[^"]*"', f'destination = "sip:{dest[0]}:{dest[1]}"', text)


def _free_udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((loopback(1), 0))
        return int(sock.getsockname()[1])


class Rig:
    def __init__(self, server: ReferenceServerProcess, addr: tuple[str, int], clock: SteppedClock,
                 dest: Peer) -> None:
        self.server, self.addr, self.clock, self.dest = server, addr, clock, dest

    async def peer(self, host: str = loopback(1)) -> Peer:
        return await Peer.open(host, clock=self.clock)

    def workers(self) -> list[int]:
        return [int(p) for task in Path(f"/proc/{self.server.pid}/task").glob("*/children")
                for p in task.read_text().split()]


@asynccontextmanager
async def workers_rig(count: int = 2) -> AsyncIterator[Rig]:
    clock = SteppedClock()
    dest = await Peer.open(clock=clock)
    port = _free_udp_port()
    server = ReferenceServerProcess(_config(dest.addr, port), log_level="INFO", args=["--workers", str(count)],
                                    start_timeout=30.0)
    try:
        with server:
            yield Rig(server, (loopback(1), port), clock, dest)
    finally:
        dest.close()


def _with_call_id(request: Request, call_id: str) -> Request:
    request.headers.set("Call-ID", call_id)
    return request


async def _register(phone: Peer, rig: Rig, extension: str = "1001", password: str = "pass1001") -> None:
    aor = f"sip:{extension}@{REGISTRAR}"
    register = phone.request("REGISTER", f"sip:{REGISTRAR}", from_uri=aor, to_uri=aor,
                             headers=[("Expires", "600")])
    challenge = await phone.send(register, rig.addr).final()
    assert challenge.status == 401
    ok = await phone.send(retry_with_credentials(register, challenge, extension, password), rig.addr).final()
    assert ok.status == 200, f"{ok.status} {ok.reason}"


def test_an_extension_registered_through_worker_0_is_called_through_either_worker() -> None:
    async def scenario() -> None:
        async with workers_rig() as rig:
            phone = await rig.peer()
            carrier = await rig.peer(loopback(3))  # a trusted peer: calls extensions without a challenge
            try:
                await _register(phone, rig)
                sources = set()
                for worker in (1, 0):
                    invite = _with_call_id(carrier.request(
                        "INVITE", f"sip:1001@{REGISTRAR}", from_uri=f"sip:carrier@{TRUNK}",
                        to_uri=f"sip:1001@{REGISTRAR}", body=offer(4000, loopback(3))), call_id_for(worker))
                    responses = carrier.send(invite, rig.addr)
                    ringing = await phone.next_request("INVITE", timeout=WAIT * 2)
                    sources.add(ringing.addr)
                    phone.respond(ringing, 486)
                    assert (await responses.final(WAIT * 2)).status == 486
                # each call left from its own worker's port, neither from the shared listen port
                assert len(sources) == 2 and rig.addr not in sources
            finally:
                phone.close()
                carrier.close()
    run(scenario(), timeout=60)


def test_failed_authentications_are_counted_across_workers() -> None:
    """max_failed_attempts = 3 in the test configuration: 3 wrong passwords, on either worker, block."""
    async def scenario() -> None:
        async with workers_rig() as rig:
            ua = await rig.peer()
            try:
                statuses = []
                for worker in (0, 1, 0, 1):
                    request = _with_call_id(ua.request("INVITE", f"sip:15551234@{TRUNK}", from_uri=f"sip:a@{TRUNK}",
                                                       to_uri=f"sip:15551234@{TRUNK}", body=offer(4000)),
                                            call_id_for(worker))
                    challenge = await ua.send(request, rig.addr).final(WAIT * 2)
                    if challenge.status != 407:
                        statuses.append(challenge.status)
                        continue
                    retry = retry_with_credentials(request, challenge, "alice", "wrong")
                    statuses.append((await ua.send(retry, rig.addr).final(WAIT * 2)).status)
                assert statuses == [407, 407, 403, 403]
            finally:
                ua.close()
    run(scenario(), timeout=60)


def test_sigterm_stops_every_worker_and_a_killed_worker_is_started_again() -> None:
    async def scenario() -> None:
        async with workers_rig() as rig:
            workers = rig.workers()
            assert len(workers) == 2
            os.kill(workers[1], signal.SIGKILL)
            deadline = time.monotonic() + 20
            while "starting it again" not in rig.server.stderr_tail() or len(set(rig.workers()) - set(workers)) < 1:
                assert time.monotonic() < deadline, rig.server.stderr_tail()
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            ua = await rig.peer()
            try:  # both workers answer again
                for worker in (0, 1):
                    call_id, deadline = call_id_for(worker), time.monotonic() + 15
                    while True:  # the new worker may still be starting: its datagrams are dropped meanwhile
                        options = _with_call_id(ua.request("OPTIONS", f"sip:{rig.addr[0]}:{rig.addr[1]}",
                                                           from_uri=f"sip:a@{TRUNK}", to_uri=f"sip:{rig.addr[0]}"),
                                                call_id)
                        try:
                            assert (await ua.send(options, rig.addr).final(1.0)).status == 200
                            break
                        except TimeoutError:
                            assert time.monotonic() < deadline, rig.server.stderr_tail()
            finally:
                ua.close()
            alive = rig.workers()
            os.kill(rig.server.pid, signal.SIGTERM)
            assert rig.server.proc is not None
            rig.server.proc.wait(15)
            assert rig.server.proc.returncode == 0
            for pid in alive:
                assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
            assert "exited with status -9" in rig.server.stderr_tail()
    run(scenario(), timeout=90)
