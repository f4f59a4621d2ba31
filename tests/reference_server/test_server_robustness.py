"""Robustness of the reference server: OPTIONS, 483, 501, the RFC 4475 torture messages over UDP (each
gets the answer RFC 4475 names, and the server keeps serving), junk datagrams, and TCP."""

from __future__ import annotations

import asyncio
import csv
import logging
import os
import random
import re
import socket

import pytest

from reference_server.server import ReferenceServer
from sipcore.aio.clock import SteppedClock
from sipcore.errors import SIPParseError
from sipcore.message import Request
from sipcore.parser import parse_message

from ..addresses import loopback
from ..paths import RFC4475_DIR as RFC4475  # noqa: E402
from .support import TEST_CONFIG, Peer, ServerRig, make_config, offer, retry_with_credentials, run

#: The answer each RFC 4475 message gets (None: a response, silently dropped). The server is configured
#: with example.com as its registrar domain, the domain most of the messages use, so REGISTERs reach the
#: registrar (401) and INVITEs for users there reach the extension check (407).
EXPECTED: dict[str, set[int] | None] = {
    # 3.1.1 valid: parsed and processed
    "wsinv.dat": {481},  # an INVITE with a To tag: no such dialog
    "intmeth.dat": {501}, "esc02.dat": {501},  # unknown (token) methods
    "esc01.dat": {404},  # for example.net: not served here
    "escnull.dat": {401}, "dblreq.dat": {401},  # REGISTERs: challenged (trailing octets ignored)
    "lwsdisp.dat": {200}, "semiuri.dat": {200}, "transports.dat": {200},  # OPTIONS
    "longreq.dat": {407}, "mpart01.dat": {501},
    "unreason.dat": None, "noreason.dat": None,  # responses matching no transaction
    # 3.1.2 invalid: 400 (505 for the version), responses dropped
    "badinv01.dat": {400}, "clerr.dat": {400}, "ncl.dat": {400}, "scalar02.dat": {400}, "quotbal.dat": {400},
    "ltgtruri.dat": {400}, "lwsruri.dat": {400}, "lwsstart.dat": {400}, "trws.dat": {400}, "escruri.dat": {400},
    "regbadct.dat": {400}, "badaspec.dat": {400}, "baddn.dat": {400}, "mismatch01.dat": {400},
    "mismatch02.dat": {400}, "badvers.dat": {505}, "scalarlg.dat": None, "bigcode.dat": None,
    "baddate.dat": {407},  # the bad Date is ignored; the INVITE is processed
    # 3.2 transaction layer, 3.4 backwards compatibility
    "badbranch.dat": {200}, "inv2543.dat": {407},
    # 3.3 application layer
    "insuf.dat": {400}, "unkscm.dat": {416}, "novelsc.dat": {416}, "unksm2.dat": {401}, "bext01.dat": {420},
    "invut.dat": {415}, "regaut01.dat": {401}, "multi01.dat": {400}, "mcl01.dat": {400}, "bcast.dat": None,
    "zeromf.dat": {200, 483}, "cparam01.dat": {401}, "cparam02.dat": {401}, "regescrt.dat": {401},
    "sdp01.dat": {406},
}
_CALL_ID = re.compile(rb"^(?:call-id|i)[ \t]*:[ \t]*(\S+)", re.I | re.M)
_BRANCH = re.compile(rb"branch=([^;\s,]+)")


def _token(data: bytes) -> bytes:
    """What identifies a message's answer: its Call-ID (insuf.dat has none: its branch)."""
    m = _CALL_ID.search(data) or _BRANCH.search(data)
    assert m is not None
    return m.group(1)


def _transaction_alive(server: ReferenceServer, data: bytes) -> bool:
    """Whether the server still has a transaction the message would match as a retransmission."""
    try:
        message = parse_message(data)
    except SIPParseError:
        return False
    if not isinstance(message, Request) or not message.top_via.branch:
        return False
    branch, method = message.top_via.branch, message.method
    layer = server.endpoints[0].layer
    assert layer is not None
    return any(t.branch == branch and t.method == method for t in layer.transactions)


def _bind_5060_pair() -> tuple[socket.socket, socket.socket]:
    """Sockets on ports 5060 and 5061 of some 127.x address: the messages' Via headers name no port (or
    5060; TLS: 5061), so responses go to the source IP at those ports (RFC 3261 §18.2.2, received)."""
    rng = random.Random(os.getpid())
    for _ in range(20):
        host = f"127.{rng.randrange(40, 250)}.{rng.randrange(1, 250)}.{rng.randrange(1, 250)}"
        socks = []
        try:
            for port in (5060, 5061):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind((host, port))
                sock.setblocking(False)
            return socks[0], socks[1]
        except OSError:
            for sock in socks:
                sock.close()
    pytest.skip("no free 127.x.y.z:5060/5061 pair")


def test_every_rfc4475_message_gets_its_answer_and_the_server_keeps_serving() -> None:
    with open(RFC4475 / "MANIFEST.tsv", encoding="utf-8") as f:
        files = {row["file"] for row in csv.DictReader(f, delimiter="\t")}
    assert files == set(EXPECTED)
    config_text = TEST_CONFIG.replace('domain = "example.registrar.voipbin.net"', 'domain = "example.com"')

    async def main() -> None:
        async with ServerRig(config_text=config_text) as rig:
            sock, tls_sock = _bind_5060_pair()
            loop = asyncio.get_running_loop()
            received: list[bytes] = []

            def drain() -> None:
                for s in (sock, tls_sock):
                    while True:
                        try:
                            received.append(s.recv(65535))
                        except BlockingIOError:
                            break

            try:
                for name, expected in EXPECTED.items():
                    data = (RFC4475 / name).read_bytes()
                    token = _token(data)
                    # cparam01/02, escnull/regescrt, novelsc/unkscm share branch, sent-by and method: while
                    # the first one's server transaction lives, the second is its retransmission (§17.2.3);
                    # every transaction has ended 64*T1 (Timers H, J) after its last request
                    if _transaction_alive(rig.server, data):
                        await rig.clock.advance(64 * rig.timers.t1)
                    assert not _transaction_alive(rig.server, data), name
                    sock.sendto(data, rig.addr)
                    deadline = loop.time() + (0.1 if expected is None else 2.0)
                    answer: bytes | None = None
                    while answer is None and loop.time() < deadline:
                        await asyncio.sleep(0.005)
                        drain()
                        answer = next((r for r in received if token in r.split(b"\r\n\r\n")[0]), None)
                    if expected is None:
                        assert answer is None, f"{name}: answered {answer[:40]!r}"
                    else:
                        assert answer is not None, f"{name}: no answer"
                        status = int(answer.split(b" ", 2)[1])
                        first_line = answer.split(b"\r\n")[0]
                        assert status in expected, f"{name}: {first_line!r}"
                        if name == "bext01.dat":
                            assert b"Unsupported: nothingSupportsThis, nothingSupportsThisEither" in answer
                        if name == "invut.dat":
                            assert b"\r\nAccept: application/sdp" in answer
                        if name == "regaut01.dat":
                            assert b"\r\nWWW-Authenticate: Digest " in answer
                    received.clear()
                    probe = rig.ua.request("OPTIONS", f"sip:{rig.addr[0]}:{rig.addr[1]}", from_uri=f"sip:probe@{loopback(1)}",
                                           to_uri=f"sip:{rig.addr[0]}")
                    assert (await rig.ua.send(probe, rig.addr).final()).status == 200, f"not serving after {name}"
            finally:
                sock.close()
                tls_sock.close()

    run(main(), timeout=30)


def test_options_483_and_501() -> None:
    async def main() -> None:
        async with ServerRig() as rig:
            for uri in (f"sip:{rig.addr[0]}:{rig.addr[1]}", "sip:example.trunk.voipbin.net"):
                options = rig.ua.request("OPTIONS", uri, from_uri=f"sip:probe@{loopback(1)}", to_uri=uri)
                ok = await rig.ua.send(options, rig.addr).final()
                assert ok.status == 200
                assert "INVITE" in (ok.headers.get("Allow") or "") and ok.headers.get("Accept") == "application/sdp"
                assert "Supported" in ok.headers
            unknown_trunk = rig.ua.request("OPTIONS", "sip:nosuch.trunk.voipbin.net", from_uri=f"sip:p@{loopback(1)}",
                                           to_uri="sip:nosuch.trunk.voipbin.net")
            assert (await rig.ua.send(unknown_trunk, rig.addr).final()).status == 404

            hops = rig.invite(body=offer(4000))
            hops.headers.set("Max-Forwards", "0")
            assert (await rig.ua.send(hops, rig.addr).final()).status == 483

            unknown = rig.ua.request("PUBLISH", "sip:example.trunk.voipbin.net", from_uri=f"sip:p@{loopback(1)}",
                                     to_uri="sip:example.trunk.voipbin.net")
            not_implemented = await rig.ua.send(unknown, rig.addr).final()
            assert not_implemented.status == 501 and "BYE" in (not_implemented.headers.get("Allow") or "")
            await rig.dest.no_request(0.05)

    run(main())


def test_junk_datagrams_are_dropped_with_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reference_server")

    async def main() -> None:
        async with ServerRig() as rig:
            junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            junk.bind((loopback(1), 0))
            junk.setblocking(False)
            try:
                junk.sendto(random.Random(1).randbytes(60000), rig.addr)
                junk.sendto(b"INVITE sip:x@y SIP/2.0\r\nX-Pad: " + b"a" * 65000, rig.addr)
                await rig.wait_until(lambda: rig.server.malformed == 2)
                await asyncio.sleep(0.05)
                with pytest.raises(BlockingIOError):
                    junk.recv(65535)  # nothing answered
            finally:
                junk.close()
            probe = rig.ua.request("OPTIONS", f"sip:{rig.addr[0]}:{rig.addr[1]}", from_uri=f"sip:p@{loopback(1)}",
                                   to_uri=f"sip:{rig.addr[0]}")
            assert (await rig.ua.send(probe, rig.addr).final()).status == 200

    run(main())
    dropped = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dropped ")]
    assert len(dropped) == 2 and "60000 bytes" in dropped[0]


def test_call_over_tcp_from_the_caller() -> None:
    async def main() -> None:
        clock = SteppedClock()
        dest = await Peer.open(clock=clock)
        config = make_config(dest.addr, listen=(f"udp:{loopback(1)}:0", f"tcp:{loopback(1)}:0"))
        server = ReferenceServer(config, clock=clock)
        await server.start()
        ua = await Peer.open(transport="TCP", clock=clock)
        try:
            tcp = next(a for a in server.local_addresses if a.transport == "tcp")
            assert tcp.port == server.local_addresses[0].port  # UDP and TCP share the port number
            addr = (tcp.host, tcp.port)
            invite = ua.request("INVITE", "sip:15551234@example.trunk.voipbin.net", body=offer(4000),
                                from_uri="sip:alice@example.trunk.voipbin.net",
                                to_uri="sip:15551234@example.trunk.voipbin.net")
            challenge = await ua.send(invite, addr).final()
            assert challenge.status == 407
            responses = ua.send(retry_with_credentials(invite, challenge, "alice", "secret"), addr)
            event = await dest.next_request("INVITE")
            assert event.request.top_via.transport == "UDP"  # the destination is reached over UDP
            dest.respond(event, 486)
            assert (await responses.final()).status == 486
        finally:
            await server.stop()
            ua.close()
            dest.close()

    run(main())
