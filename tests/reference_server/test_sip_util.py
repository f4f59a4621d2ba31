"""build_response: its fields in one list give what make_response, add and set_body gave. Reliable2xx:
retransmissions after T1 doubling up to T2, on_timeout after 64*T1, nothing once stopped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reference_server.sip_util import Reliable2xx, build_response
from sipcore.message import Request, Response, make_response
from sipcore.parser import parse_message
from sipcore.timers import TimerConfig

from ..addresses import loopback

INVITE = (b"INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nRecord-Route: <sip:p;lr>\r\n"
          b"To: <sip:b@x>\r\nFrom: <sip:a@x>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize("server", ["", "trunk/1"])
@pytest.mark.parametrize(("body", "content_type"), [(b"", None), (b"", "application/sdp"),
                                                    (b"v=0\r\n", "application/sdp"), (b"x", None)])
@pytest.mark.parametrize("headers", [[], [("Contact", "<sip:s>"), ("Allow", "INVITE")]])
def test_build_response_is_make_response_add_and_set_body(server: str, body: bytes, content_type: str | None,
                                                          headers: list[tuple[str, str]]) -> None:
    request = parse_message(INVITE)
    assert isinstance(request, Request)
    got = build_response(request, 200, to_tag="t", headers=headers, server=server, copy_record_route=True,
                         body=body, content_type=content_type)
    want = make_response(request, 200, to_tag="t", copy_record_route=True)
    for name, value in headers:
        want.headers.add(name, value)
    if server:
        want.headers.add("Server", server)
    want.headers.add("Content-Length", "0")
    if body:
        want.set_body(body, content_type)
    assert got.to_bytes() == want.to_bytes()


class _Sent:
    """Stands in for the endpoint: when each retransmission was sent (loop time)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def send_stateless(self, message: Response, addr: tuple[str, int]) -> None:
        self.times.append(asyncio.get_running_loop().time())


def _ok() -> Response:
    request = parse_message(INVITE)
    assert isinstance(request, Request)
    return make_response(request, 200, to_tag="t")


async def _reliable_2xx(timers: TimerConfig, stop_after: float | None = None) -> tuple[float, list[float], list[float]]:
    """Run a Reliable2xx until it times out (or ``stop_after`` seconds): start, sends, timeouts."""
    loop = asyncio.get_running_loop()
    sent, timeouts = _Sent(), []
    endpoint: Any = sent
    start = loop.time()
    reliable = Reliable2xx(endpoint, _ok(), (loopback(1), 5060), timers, lambda: timeouts.append(loop.time()))
    if stop_after is not None:
        await asyncio.sleep(stop_after)
        reliable.stop()
    await asyncio.sleep(64 * timers.t1 + 0.2)
    return start, sent.times, timeouts


def test_reliable_2xx_resends_after_t1_doubling_to_t2_and_times_out_after_64_t1() -> None:
    timers = TimerConfig(t1=0.01, t2=0.04)
    start, sends, timeouts = asyncio.run(_reliable_2xx(timers))
    assert len(timeouts) == 1 and 0.64 <= timeouts[0] - start < 0.64 + 0.5
    assert len(sends) >= 3 and all(t < timeouts[0] for t in sends)
    gaps = [b - a for a, b in zip([start, *sends[:-1]], sends, strict=True)]
    assert gaps[0] >= 0.0099 and gaps[1] >= 0.0199  # T1, then 2*T1 (never sooner)
    assert all(0.0399 <= gap < 0.04 + 0.2 for gap in gaps[2:])  # then T2: doubling stops there


def test_reliable_2xx_on_a_reliable_transport_only_times_out() -> None:
    start, sends, timeouts = asyncio.run(_reliable_2xx(TimerConfig(t1=0.01, reliable=True)))
    assert sends == [] and len(timeouts) == 1 and 0.64 <= timeouts[0] - start < 0.64 + 0.5


def test_reliable_2xx_stopped_sends_nothing_more_and_never_times_out() -> None:
    _, sends, timeouts = asyncio.run(_reliable_2xx(TimerConfig(t1=0.01, t2=0.04), stop_after=0.05))
    assert 1 <= len(sends) <= 2 and timeouts == []  # after 0.01 and 0.03 (stopped at 0.05)
