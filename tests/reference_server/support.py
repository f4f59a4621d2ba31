"""Test client and fixtures for driving the reference server over real loopback sockets.

``Peer`` is a SIP user agent made of a :class:`SipEndpoint`: requests it receives queue up, and each
request it sends collects its responses. ``ServerRig`` starts a :class:`ReferenceServer` on a free port,
plus a calling UA and a destination, all in this test process's own loopback block (tests/addresses.py).

Time: the server and the peers share one :class:`SteppedClock` (``rig.clock``) and RFC 3261's timer
values; no timer fires until a test moves the clock (``await rig.clock.advance(32)``), so a test of
Timer B or 64*T1 steps time instead of waiting for it. Every wait for a message is bounded in real time
(``WAIT``): that is loopback I/O, never a SIP timer.
"""

from __future__ import annotations

import asyncio
import random
import socket
import struct
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from reference_server.config import ServerConfig, apply_overrides, parse_config
from reference_server.faults import Fault, InjectedFaults
from reference_server.server import ReferenceServer, with_listen
from sipcore.aio.clock import SteppedClock
from sipcore.aio.endpoint import SipEndpoint
from sipcore.builders import new_request
from sipcore.dialog import Dialog
from sipcore.digest import header_names_for, parse_challenges
from sipcore.digest_client import DigestClient
from sipcore.ids import IdGenerator
from sipcore.message import Request, Response, make_response
from sipcore.sdp import SessionDescription, media_address
from sipcore.sdp_offer import make_answer, make_offer
from sipcore.timers import TimerConfig
from sipcore.transaction import Event, RequestReceived, ResponseReceived, TransactionTimeout

from ..addresses import block, loopback

T = TypeVar("T")
Addr = tuple[str, int]
RFC = TimerConfig()  # T1 0.5 s, T2 4 s, T4 5 s: 64*T1 = 32 s of stepped time
WAIT = 2.0  # seconds (real) any single expected message may take on loopback
IDS = IdGenerator(random.Random(4475))

TEST_CONFIG = """
[server]
listen = ["udp:127.0.0.1:5060"]
algorithms = ["SHA-256", "MD5"]
trusted_peers = ["127.0.0.3"]

[security]
max_failed_attempts = 3

[media]
address = "127.0.0.1"
port_min = 40000
port_max = 40999

[[trunk]]
name = "example"
domain_name = "example"
username = "alice"
password = "secret"
destination = "sip:127.0.0.1:5080"

[[trunk]]
domain_name = "iponly"
auth_types = ["ip"]
allowed_ips = ["127.0.0.7"]
destination = "sip:127.0.0.1:5080"

[[trunk]]
domain_name = "mixed"
auth_types = ["ip", "basic"]
allowed_ips = ["127.0.0.7"]
username = "bob"
password = "hunter2"
destination = "sip:127.0.0.1:5080"

[registrar]
domain = "example.registrar.voipbin.net"

[[extension]]
extension = "1001"
password = "pass1001"

[[extension]]
extension = "1002"
password = "pass1002"
"""
TEST_CONFIG = block().rewrite(TEST_CONFIG)  # 127.0.0.x -> this test process's 127.N.0.x (tests/addresses.py)


def run(coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    """Run one test coroutine with an overall bound."""
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


def make_config(destination: Addr | str, text: str = TEST_CONFIG, listen: Iterable[str] = (f"udp:{loopback(1)}:0",),
                dns: str | None = None) -> ServerConfig:
    """The test configuration with every trunk calling ``destination`` ((IP, port), or as the file writes
    it: ``sip:carrier.test``), listening on ``listen``, asking ``dns`` (IP:PORT) for host names."""
    config = parse_config(text, "test.toml")
    where = destination if isinstance(destination, str) else f"{destination[0]}:{destination[1]}"
    config = apply_overrides(config, None, where, dns)
    return with_listen(config, *listen)


class Responses:
    """The responses of one client transaction, in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Response | str] = asyncio.Queue()
        self.seen: list[Response] = []

    def handler(self, event: Event) -> None:
        if isinstance(event, ResponseReceived):
            self.seen.append(event.response)
            self.queue.put_nowait(event.response)
        elif isinstance(event, TransactionTimeout):
            self.queue.put_nowait(f"Timer {event.timer}")

    async def next(self, timeout: float = WAIT) -> Response:
        item = await asyncio.wait_for(self.queue.get(), timeout)
        if isinstance(item, str):
            raise TimeoutError(item)
        return item

    async def final(self, timeout: float = WAIT) -> Response:
        """The first final response (provisionals stay in ``seen``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            response = await self.next(max(0.0, deadline - loop.time()))
            if response.status >= 200:
                return response

    async def status(self, wanted: int, timeout: float = WAIT) -> Response:
        """Skip responses until one with status ``wanted``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            response = await self.next(max(0.0, deadline - loop.time()))
            if response.status == wanted:
                return response
            assert response.status < 200, f"expected {wanted}, got final {response.status} {response.reason}"


class Peer:
    """A SIP UA on loopback: a UA calling through the server, a destination, or a registered phone."""

    def __init__(self, endpoint: SipEndpoint, requests: asyncio.Queue[RequestReceived]) -> None:
        self.endpoint = endpoint
        self.requests = requests
        self.ignored: set[str] = set()
        self.tag = IDS.tag()

    @classmethod
    async def open(cls, host: str = loopback(1), transport: str = "UDP", timers: TimerConfig = RFC, *,
                   clock: SteppedClock, port: int = 0) -> Peer:
        queue: asyncio.Queue[RequestReceived] = asyncio.Queue()
        holder: list[Peer] = []

        def on_event(event: Event, endpoint: SipEndpoint) -> None:
            if isinstance(event, RequestReceived) and (not holder or event.request.method not in holder[0].ignored):
                queue.put_nowait(event)

        endpoint = await SipEndpoint.open(transport, host, port, on_event, timers=timers, auto_100_delay=None,
                                          clock=clock)
        peer = cls(endpoint, queue)
        holder.append(peer)
        return peer

    @property
    def addr(self) -> Addr:
        return self.endpoint.local_addr

    @property
    def contact(self) -> str:
        return f"<sip:peer@{self.addr[0]}:{self.addr[1]}>"

    def close(self) -> None:
        self.endpoint.close()

    async def next_request(self, method: str | None = None, timeout: float = WAIT) -> RequestReceived:
        event = await asyncio.wait_for(self.requests.get(), timeout)
        if method is not None:
            assert event.request.method == method, f"expected {method}, got {event.request.method} {event.request.uri}"
        return event

    async def no_request(self, within: float = 0.3) -> None:
        try:
            event = await asyncio.wait_for(self.requests.get(), within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected {event.request.method} {event.request.uri}")

    def send(self, request: Request, addr: Addr) -> Responses:
        responses = Responses()
        self.endpoint.send_request(request, addr, responses.handler)
        return responses

    def respond(self, event: RequestReceived, status: int, reason: str | None = None, *, to_tag: str | None = None,
                body: bytes = b"", headers: Iterable[tuple[str, str]] = (), contact: bool = True) -> Response:
        response = make_response(event.request, status, reason, to_tag=to_tag or self.tag)
        if contact and 100 < status < 300:
            response.headers.add("Contact", self.contact)
        for name, value in headers:
            response.headers.add(name, value)
        response.set_body(body, "application/sdp" if body else None)
        self.endpoint.send_response(response)
        return response

    def request(self, method: str, uri: str, *, from_uri: str, to_uri: str, call_id: str | None = None,
                cseq: int = 1, body: bytes = b"", headers: Iterable[tuple[str, str]] = (),
                from_tag: str | None = None) -> Request:
        return new_request(method, uri, from_uri=from_uri, to_uri=to_uri, local_addr=self.addr,
                           transport=self.endpoint.transport_name, from_tag=from_tag or self.tag,
                           call_id=call_id or IDS.call_id(loopback(1)), cseq=cseq, branch=IDS.branch(),
                           contact=self.contact, extra_headers=list(headers), body=body,
                           content_type="application/sdp" if body else None)


def offer(port: int, host: str = loopback(1)) -> bytes:
    return make_offer(host, port, 1000).to_bytes()


def answer(offer_body: bytes, port: int, host: str = loopback(1)) -> bytes:
    return make_answer(SessionDescription.parse(offer_body), host, port, 2000).to_bytes()


def sdp_addr(body: bytes) -> Addr:
    return media_address(SessionDescription.parse(body))


def retry_with_credentials(request: Request, challenge: Response, username: str, password: str,
                           algorithms: Iterable[str] = ("SHA-256", "MD5"), *, digest_uri: str | None = None) -> Request:
    """The request again with credentials for ``challenge`` (a 401 or 407): CSeq + 1, new branch. The digest
    uri is the Request-URI unless ``digest_uri`` is given (SIPp's default: ``sip:SERVER_IP:PORT``)."""
    challenge_header, credentials_header = header_names_for(challenge.status)
    challenges = parse_challenges(challenge.headers.get_all(challenge_header), header=challenge_header)
    credentials = DigestClient(username, password).authorize(challenges, request.method, digest_uri or request.uri,
                                                             request.body, tuple(algorithms))
    retry = Request(request.method, request.uri, request.headers.copy(), request.body)
    via = retry.headers.pop_first_value("Via")
    assert via is not None
    retry.headers.add("Via", via.split(";branch=")[0] + f";branch={IDS.branch()};rport", first=True)
    retry.headers.set("CSeq", f"{request.cseq.seq + 1} {request.method}")
    retry.headers.add(credentials_header, credentials.to_header())
    return retry


class RtpSocket:
    """A plain UDP socket standing for a phone's RTP port."""

    def __init__(self, host: str = loopback(1)) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.seq = 0

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def send(self, addr: Addr, payload: bytes = b"\xff" * 160) -> None:
        self.seq += 1
        header = struct.pack("!BBHII", 0x80, 0, self.seq, self.seq * 160, 0x1234)
        self.sock.sendto(header + payload, addr)

    async def receive(self, timeout: float = WAIT) -> tuple[bytes, Addr]:
        loop = asyncio.get_running_loop()
        data, addr = await asyncio.wait_for(loop.sock_recvfrom(self.sock, 2048), timeout)
        return data, (str(addr[0]), int(addr[1]))

    def close(self) -> None:
        self.sock.close()


class ServerRig:
    """A reference server with a UA and a destination, all on loopback; ``async with ServerRig() as rig``."""

    def __init__(self, *, faults: Iterable[Fault] = (), timer_c: float = 180.0, config_text: str = TEST_CONFIG,
                 ua_host: str = loopback(1), timers: TimerConfig = RFC, destination: str | None = None,
                 dns: str | None = None, configure: Callable[[ServerConfig], ServerConfig] | None = None) -> None:
        """``destination``: where the trunks call, as the configuration writes it (default: ``self.dest``);
        ``dns``: the DNS server for a destination named by host name; ``configure``: a last change to the
        configuration (more destinations ...)."""
        self.faults, self.timer_c, self.config_text, self.ua_host, self.timers = faults, timer_c, config_text, ua_host, timers
        self.destination, self.dns, self.configure = destination, dns, configure
        self.clock = SteppedClock()
        self.cleanups: list[Callable[[], object]] = []

    async def __aenter__(self) -> ServerRig:
        self.dest = await Peer.open(clock=self.clock)
        self.cleanups.append(self.dest.close)
        self.ua = await Peer.open(self.ua_host, clock=self.clock)
        self.cleanups.append(self.ua.close)
        self.config = make_config(self.destination or self.dest.addr, self.config_text, dns=self.dns)
        if self.configure is not None:
            self.config = self.configure(self.config)
        faults = InjectedFaults(frozenset(self.faults))
        self.server = ReferenceServer(self.config, media_policy=faults.media_policy,
                                      hangup_policy=faults.hangup_policy, timers=self.timers, timer_c=self.timer_c,
                                      clock=self.clock)
        await self.server.start()
        local = self.server.local_addresses[0]
        self.addr: Addr = (local.host, local.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()
        for cleanup in reversed(self.cleanups):
            cleanup()

    async def peer(self, host: str = loopback(1)) -> Peer:
        peer = await Peer.open(host, clock=self.clock)
        self.cleanups.append(peer.close)
        return peer

    def rtp(self) -> RtpSocket:
        sock = RtpSocket()
        self.cleanups.append(sock.close)
        return sock

    def invite(self, ua: Peer | None = None, callee: str = "15551234", domain: str = "example.trunk.voipbin.net",
               body: bytes = b"", headers: Iterable[tuple[str, str]] = (), caller: str = "alice") -> Request:
        ua = ua or self.ua
        return ua.request("INVITE", f"sip:{callee}@{domain}", from_uri=f"sip:{caller}@{domain}",
                          to_uri=f"sip:{callee}@{domain}", body=body, headers=headers)

    async def authed_invite(self, request: Request, ua: Peer | None = None, username: str = "alice",
                            password: str = "secret") -> tuple[Request, Responses]:
        """Send the INVITE, answer its 407 with credentials; return the retry and its responses."""
        ua = ua or self.ua
        first = ua.send(request, self.addr)
        challenge = await first.final()
        assert challenge.status == 407, f"{challenge.status} {challenge.reason}"
        retry = retry_with_credentials(request, challenge, username, password)
        return retry, ua.send(retry, self.addr)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        """Until ``predicate`` holds (it depends on loopback I/O, not on a timer), bounded in real time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError("condition not reached in time")
            await asyncio.sleep(0.01)


@dataclass
class Established:
    """A confirmed call through the server: the UA's and the destination's view of it."""

    invite: Request  # the UA's authenticated INVITE
    responses: Responses  # its responses
    ok: Response  # the 200 the UA got
    b_invite: RequestReceived  # the INVITE the destination got
    b_ok: Response  # the destination's 200
    ua_dialog: Dialog
    dest_dialog: Dialog
    ua_rtp: RtpSocket
    dest_rtp: RtpSocket

    def ua_request(self, rig: ServerRig, method: str, body: bytes = b"",
                   headers: Iterable[tuple[str, str]] = ()) -> Responses:
        request = self.ua_dialog.create_request(method, branch=IDS.branch(), local_addr=rig.ua.addr, body=body,
                                                content_type="application/sdp" if body else None,
                                                extra_headers=list(headers))
        return rig.ua.send(request, rig.addr)

    def dest_request(self, rig: ServerRig, method: str, body: bytes = b"",
                     headers: Iterable[tuple[str, str]] = ()) -> Responses:
        request = self.dest_dialog.create_request(method, branch=IDS.branch(), local_addr=rig.dest.addr,
                                                  body=body, content_type="application/sdp" if body else None,
                                                  extra_headers=list(headers))
        return rig.dest.send(request, self.b_invite.addr)


async def establish(rig: ServerRig) -> Established:
    """UA -> 407 -> INVITE with credentials -> destination 180, 200 -> ACK on both legs."""
    ua_rtp, dest_rtp = rig.rtp(), rig.rtp()
    invite, responses = await rig.authed_invite(rig.invite(body=offer(ua_rtp.port)))
    b_invite = await rig.dest.next_request("INVITE")
    rig.dest.respond(b_invite, 180)
    b_ok = rig.dest.respond(b_invite, 200, body=answer(b_invite.request.body, dest_rtp.port))
    ok = await responses.final()
    assert ok.status == 200, f"{ok.status} {ok.reason}"
    ua_dialog = Dialog.from_uac(invite, ok)
    rig.ua.endpoint.send_stateless(ua_dialog.create_ack(invite.cseq.seq, IDS.branch(), rig.ua.addr), rig.addr)
    await rig.dest.next_request("ACK")
    return Established(invite, responses, ok, b_invite, b_ok, ua_dialog, Dialog.from_uas(b_invite.request, b_ok),
                       ua_rtp, dest_rtp)


async def gather_bounded(*aws: Awaitable[T], timeout: float = WAIT) -> list[T]:
    return list(await asyncio.wait_for(asyncio.gather(*aws), timeout))
