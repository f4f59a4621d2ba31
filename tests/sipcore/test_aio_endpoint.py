"""The asyncio endpoint over real loopback sockets: requests, responses, retransmission, unreachable peers."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from sipcore.aio.clock import SteppedClock
from sipcore.aio.endpoint import SipEndpoint
from sipcore.aio.transport import UdpTransport
from sipcore.builders import new_request
from sipcore.ids import IdGenerator
from sipcore.message import Response, make_response
from sipcore.parser import parse_message
from sipcore.timers import TimerConfig
from sipcore.transaction import Event, RequestReceived

IDS = IdGenerator(__import__("random").Random(7))


def _options(local: tuple[str, int], target: str, transport: str = "UDP"):
    return new_request("OPTIONS", target, from_uri="sip:probe@127.0.0.1", to_uri=target,
                       local_addr=local, transport=transport, from_tag=IDS.tag(),
                       call_id=IDS.call_id("127.0.0.1"), cseq=1, branch=IDS.branch())


def _answer_200(event: Event, endpoint: SipEndpoint) -> None:
    if isinstance(event, RequestReceived) and event.transaction is not None:
        endpoint.send_response(make_response(event.request, 200, to_tag="srv"))


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
def test_request_gets_final_response_over_loopback(transport: str) -> None:
    async def main() -> Response:
        server = await SipEndpoint.open(transport, "127.0.0.1", 0, _answer_200)
        client = await SipEndpoint.open(transport, "127.0.0.1", 0, lambda e, ep: None)
        try:
            request = _options(client.local_addr, f"sip:{server.local_addr[0]}:{server.local_addr[1]}",
                               transport)
            return await client.request(request, server.local_addr, timeout=5)
        finally:
            client.close()
            server.close()

    response = asyncio.run(main())
    assert response.status == 200
    assert response.to.tag == "srv"
    assert response.top_via.params.get("rport") not in (None, "")  # RFC 3581: server filled rport


def test_unreachable_udp_peer_is_a_503_not_a_timeout() -> None:
    async def main() -> tuple[Response, float]:
        clock = SteppedClock()
        client = await SipEndpoint.open("UDP", "127.0.0.1", 0, lambda e, ep: None, clock=clock)
        try:
            request = _options(client.local_addr, "sip:127.0.0.1:9")
            start = clock.time()
            response = await asyncio.wait_for(client.request(request, ("127.0.0.1", 9), timeout=5), 5)
            return response, clock.time() - start
        finally:
            client.close()

    response, elapsed = asyncio.run(main())
    assert response.status == 503
    assert "transport error" in response.reason
    assert elapsed == 0  # reported from the ICMP error, with no timer run at all (not Timer F)


def test_silent_peer_times_out_on_timer_f() -> None:
    async def main() -> None:
        clock = SteppedClock(0.0)
        silent = await SipEndpoint.open("UDP", "127.0.0.1", 0, lambda e, ep: None)
        client = await SipEndpoint.open("UDP", "127.0.0.1", 0, lambda e, ep: None, clock=clock)
        seen: list[tuple[float, bytes]] = []

        def spy(message, addr, transport):  # the silent peer only counts what reaches it
            seen.append((clock.time(), message.to_bytes()))

        silent.transport._on_message = spy  # type: ignore[union-attr]
        try:
            request = _options(client.local_addr, "sip:127.0.0.1")
            outcome = asyncio.ensure_future(client.request(request, silent.local_addr, timeout=40))
            await clock.advance(64 * TimerConfig().t1 - 0.5)
            assert not outcome.done()
            await clock.advance(0.5)  # Timer F: 64*T1
            with pytest.raises(TimeoutError, match="Timer F"):
                await asyncio.wait_for(outcome, 2)
        finally:
            client.close()
            silent.close()
        # Timer E: T1, doubling up to T2 (RFC 3261 §17.1.2.2)
        assert [t for t, _ in seen] == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
        assert len({parse_message(d).top_via.branch for _, d in seen}) == 1

    asyncio.run(main())


def test_malformed_request_gets_400_with_warning() -> None:
    async def main() -> bytes:
        server = await SipEndpoint.open("UDP", "127.0.0.1", 0, _answer_200)
        loop = asyncio.get_running_loop()
        got: asyncio.Future[bytes] = loop.create_future()

        class Client(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                if not got.done():
                    got.set_result(data)

        transport, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
        raw = (
            b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n"
            b"Content-Length: 9999\r\n\r\nshort")
        transport.sendto(raw, server.local_addr)
        try:
            return await asyncio.wait_for(got, 3)
        finally:
            transport.close()
            server.close()

    answer = parse_message(asyncio.run(main()))
    assert isinstance(answer, Response) and answer.status == 400
    assert "Content-Length 9999 exceeds" in (answer.headers.get("Warning") or "")


def test_a_warning_names_the_endpoint_by_host_port_unless_an_agent_is_given() -> None:
    """RFC 3261 §20.43: the warn-agent is host[:port] or a token; a User-Agent like ``x/1.0`` is neither."""
    async def main() -> list[str]:
        warnings = []
        for agent in (None, "edge-1"):
            server = await SipEndpoint.open("UDP", "127.0.0.1", 0, _answer_200, agent=agent)
            got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

            class Client(asyncio.DatagramProtocol):
                def datagram_received(self, data: bytes, addr: object, got: asyncio.Future[bytes] = got) -> None:
                    if not got.done():
                        got.set_result(data)

            transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                Client, local_addr=("127.0.0.1", 0))
            transport.sendto(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKy\r\n"
                             b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: c2\r\n"
                             b"CSeq: 1 OPTIONS\r\nContent-Length: 9999\r\n\r\nshort", server.local_addr)
            try:
                answer = parse_message(await asyncio.wait_for(got, 3))
                warnings.append(f"{server.local_addr[1]} {answer.headers.get('Warning')}")
            finally:
                transport.close()
                server.close()
        return warnings

    own, named = asyncio.run(main())
    port, warning = own.split(" ", 1)
    assert warning.startswith(f"399 127.0.0.1:{port} \"Content-Length 9999")
    assert named.split(" ", 1)[1].startswith('399 edge-1 "')


def test_udp_socket_gets_a_receive_buffer_for_bursts() -> None:
    """The UDP socket asks for UdpTransport.RECEIVE_BUFFER: the Linux default (~200 KB) overflowed at 500
    calls per second during a GC pause, each drop costing a retransmission. The kernel doubles what is
    asked and caps it at net.core.rmem_max."""
    rmem_max = Path("/proc/sys/net/core/rmem_max")
    if not rmem_max.exists():
        pytest.skip("needs Linux /proc/sys/net/core/rmem_max")
    expected = 2 * min(UdpTransport.RECEIVE_BUFFER, int(rmem_max.read_text()))

    async def main() -> int:
        endpoint = await SipEndpoint.open("UDP", "127.0.0.1", 0, lambda e, ep: None)
        try:
            assert isinstance(endpoint.transport, UdpTransport) and endpoint.transport._sock is not None
            return endpoint.transport._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        finally:
            endpoint.close()

    assert asyncio.run(main()) == expected
