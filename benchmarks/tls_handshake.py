"""What TLS costs per connection: the handshake's wall time and CPU, next to the same request in cleartext.

    unshare -n bash -c 'ip link set lo up; .venv/bin/python benchmarks/tls_handshake.py --connections 300'

A TLS listener of sipcore (ECDSA P-256 certificate from harness.suite.tls_certs, TLS 1.3 as OpenSSL negotiates
it) answers OPTIONS with 200; a client opens ``--connections`` connections one after another, each
verified as a UA verifies its trunk (chain against the CA, RFC 5922 name), sends one OPTIONS, reads the
200 and closes. The same is done over cleartext TCP (a new connection per request), over one reused TLS
connection, and over UDP. Both ends run in this process: the CPU figures are client + server together
(``time.process_time``), the wall figures loopback round trips. Printed per request, in milliseconds:

    tls new connection     wall_ms  cpu_ms       (handshake + OPTIONS/200)
    tcp new connection     wall_ms  cpu_ms
    tls reused connection  wall_ms  cpu_ms
    udp                    wall_ms  cpu_ms
    tls_handshake_cpu_ms: X   (tls new connection minus tls reused: what the handshake adds)
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.suite.tls_certs import TestCA  # noqa: E402
from sipcore.aio.endpoint import SipEndpoint  # noqa: E402
from sipcore.aio.tls import TlsOptions, client_context  # noqa: E402
from sipcore.message import make_response  # noqa: E402
from sipcore.parser import StreamFramer  # noqa: E402
from sipcore.tls_identity import identity_problem  # noqa: E402
from sipcore.transaction import Event, RequestReceived  # noqa: E402

DOMAIN = "example.trunk.voipbin.net"
HOST = "127.0.0.1"


def options(n: int, transport: str) -> bytes:
    return (f"OPTIONS sip:{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/{transport} {HOST}:5999;rport;branch=z9hG4bKbench{n}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:bench@{DOMAIN}>;tag={n}\r\nTo: <sip:{DOMAIN}>\r\n"
            f"Call-ID: bench-{n}@{HOST}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()


def answer(event: Event, endpoint: SipEndpoint) -> None:
    if isinstance(event, RequestReceived) and event.transaction is not None:
        endpoint.send_response(make_response(event.request, 200, to_tag="bench"))


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int, transport: str) -> None:
    writer.write(options(n, transport))
    framer = StreamFramer()
    while True:
        data = await asyncio.wait_for(reader.read(65536), 5)
        if not data:
            raise RuntimeError("connection closed before the 200")
        if framer.feed(data):
            return


async def measure(what: str, count: int, step: Callable[[int], Awaitable[None]]) -> tuple[float, float]:
    for n in range(min(20, count)):  # warm-up
        await step(-n - 1)
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        await step(n)
    wall_ms = (time.perf_counter() - wall) * 1000 / count
    cpu_ms = (time.process_time() - cpu) * 1000 / count
    print(f"{what:<22} wall_ms {wall_ms:7.3f}  cpu_ms {cpu_ms:7.3f}")
    return wall_ms, cpu_ms


async def main(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tls-bench-"))
    ca = TestCA.create(folder)
    cert = ca.issue("trunk", dns=[DOMAIN], ips=[HOST])
    tls = await SipEndpoint.open("TLS", HOST, 0, answer, tls=TlsOptions(cert=cert.cert, key=cert.key))
    tcp = await SipEndpoint.open("TCP", HOST, 0, answer)
    udp = await SipEndpoint.open("UDP", HOST, 0, answer)
    ctx = client_context(TlsOptions(ca_file=ca.ca_file, server_name=DOMAIN))
    print(f"{ssl.OPENSSL_VERSION}; ECDSA P-256 certificate; {count} requests each")

    async def tls_new(n: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, tls.local_addr[1], ssl=ctx, server_hostname=DOMAIN)
        if identity_problem(writer.get_extra_info("peercert") or {}, DOMAIN) is not None:
            raise RuntimeError("the certificate does not name the domain")
        await exchange(reader, writer, n, "TLS")
        writer.close()

    async def tcp_new(n: int) -> None:
        reader, writer = await asyncio.open_connection(HOST, tcp.local_addr[1])
        await exchange(reader, writer, n, "TCP")
        writer.close()

    reused = await asyncio.open_connection(HOST, tls.local_addr[1], ssl=ctx, server_hostname=DOMAIN)

    async def tls_reused(n: int) -> None:
        await exchange(*reused, n, "TLS")

    loop = asyncio.get_running_loop()
    answers: asyncio.Queue[bytes] = asyncio.Queue()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            answers.put_nowait(data)

    udp_client, _ = await loop.create_datagram_endpoint(Client, local_addr=(HOST, 0))

    async def udp_request(n: int) -> None:
        udp_client.sendto(options(n, "UDP"), udp.local_addr)
        await asyncio.wait_for(answers.get(), 5)

    try:
        _, tls_cpu = await measure("tls new connection", count, tls_new)
        await measure("tcp new connection", count, tcp_new)
        _, reused_cpu = await measure("tls reused connection", count, tls_reused)
        await measure("udp", count, udp_request)
        print(f"tls_handshake_cpu_ms: {tls_cpu - reused_cpu:.3f}")
    finally:
        reused[1].close()
        udp_client.close()
        for endpoint in (tls, tcp, udp):
            endpoint.close()
        await asyncio.sleep(0.1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=300, help="requests per measurement (default 300)")
    asyncio.run(main(parser.parse_args().connections))
