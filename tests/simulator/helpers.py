"""Shared pieces of the simulator tests: addresses, a bounded wait for loopback I/O, and a tiny challenging
trunk stub. Timers are RFC 3261's; a test of a timer gives the agents a SteppedClock and moves it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sipcore.aio.endpoint import SipEndpoint
from sipcore.digest import parse_credentials
from sipcore.digest_server import DigestServer, VerifyOutcome
from sipcore.message import Request, make_response
from sipcore.sdp import SessionDescription
from sipcore.sdp_offer import make_answer
from sipcore.transaction import Event, RequestReceived
from sipcore.uri import SipURI

from ..addresses import loopback

T = TypeVar("T")

UA_IP = loopback(20)
UA2_IP = loopback(21)
DEST_IP = loopback(30)
TRUNK_IP = loopback(10)
DOMAIN = "example.trunk.voipbin.net"
WAIT = 2.0  # seconds (real) that loopback I/O may take


def run(coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    """Run a test scenario with a hard bound."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def until(predicate: Callable[[], object], what: str, timeout: float = WAIT) -> None:
    """Until ``predicate`` holds: something loopback I/O brings about, never a SIP timer (those are stepped).
    AssertionError naming ``what`` after ``timeout`` real seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.002)


class TrunkStub:
    """A minimal registrar and challenging proxy, standing in for the trunk in the UA's auth tests.

    REGISTER is challenged 401 and INVITE 407 (sipcore.digest_server); with the right credentials a
    REGISTER gets 200 (the requested expiry echoed on the Contact) and an INVITE 200 with an SDP answer.
    ``stale_once`` answers the first correct credentials with a fresh challenge marked stale=true.
    """

    def __init__(self, *, user: str = "alice", password: str = "secret", algorithms: tuple[str, ...] = ("MD5",),
                 stale_once: bool = False) -> None:
        self.user, self.password = user, password
        self.digest = DigestServer(os.urandom(32), DOMAIN, algorithms=algorithms)
        self.stale_once = stale_once
        self.requests: list[Request] = []
        self.bindings: dict[str, tuple[str, int]] = {}
        self.outcomes: list[VerifyOutcome] = []
        self.endpoint: SipEndpoint | None = None

    async def start(self, host: str = TRUNK_IP) -> TrunkStub:
        self.endpoint = await SipEndpoint.open("UDP", host, 0, self._on_event)
        return self

    @property
    def addr(self) -> tuple[str, int]:
        assert self.endpoint is not None
        return self.endpoint.local_addr

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()

    def _challenge(self, request: Request, status: int, stale: bool = False) -> None:
        assert self.endpoint is not None
        response = make_response(request, status, to_tag="stub")
        name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
        for challenge in self.digest.challenge(time.monotonic(), stale=stale):
            response.headers.add(name, challenge.to_header())
        self.endpoint.send_response(response)

    def _authenticated(self, request: Request, status: int) -> bool:
        header = "Authorization" if status == 401 else "Proxy-Authorization"
        value = request.headers.get(header)
        if value is None:
            self._challenge(request, status)
            return False
        result = self.digest.verify(parse_credentials(value, header=header), request.method, request.uri,
                                    time.monotonic(), lambda u: self.password if u == self.user else None)
        self.outcomes.append(result.outcome)
        if result.ok and self.stale_once:
            self.stale_once = False
            self._challenge(request, status, stale=True)
            return False
        if not result.ok:
            self._challenge(request, status)
        return result.ok

    def _on_event(self, event: Event, endpoint: SipEndpoint) -> None:
        if not isinstance(event, RequestReceived):
            return
        request = event.request
        self.requests.append(request)
        if event.transaction is None:  # ACK for a 2xx
            return
        if request.method == "REGISTER":
            if self._authenticated(request, 401):
                aor = str(request.to.uri)
                expires = int(request.headers.get("Expires") or "3600")
                contact = request.contacts[0]
                response = make_response(request, 200, to_tag="reg")
                if expires == 0:
                    self.bindings.pop(aor, None)
                else:
                    uri = contact.uri
                    assert isinstance(uri, SipURI) and uri.port is not None
                    self.bindings[aor] = (uri.host, uri.port)
                    response.headers.add("Contact", f"{contact};expires={expires}")
                endpoint.send_response(response)
        elif request.method == "INVITE":
            if self._authenticated(request, 407):
                offer = SessionDescription.parse(request.body)
                response = make_response(request, 200, to_tag="call")
                response.headers.add("Contact", f"<sip:trunk@{self.addr[0]}:{self.addr[1]}>")
                response.set_body(make_answer(offer, self.addr[0], 9, 1).to_bytes(), "application/sdp")
                endpoint.send_response(response)
        else:
            endpoint.send_response(make_response(request, 200, to_tag="other"))
