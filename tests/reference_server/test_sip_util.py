"""build_response: its fields in one list give what make_response, add and set_body gave. Reliable2xx:
retransmissions after T1 doubling up to T2, on_timeout after 64*T1, nothing once stopped."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reference_server.sip_util import Reliable2xx, build_response
from sipcore.aio.clock import SteppedClock
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
    """Stands in for the endpoint: when each retransmission was sent (on the test's clock)."""

    def __init__(self, clock: SteppedClock) -> None:
        self.clock = clock
        self.times: list[float] = []

    def send_stateless(self, message: Response, addr: tuple[str, int]) -> None:
        self.times.append(self.clock.time())


def _ok() -> Response:
    request = parse_message(INVITE)
    assert isinstance(request, Request)
    return make_response(request, 200, to_tag="t")


async def _reliable_2xx(timers: TimerConfig, stop_after: float | None = None) -> tuple[list[float], list[float]]:
    """Run a Reliable2xx on a stepped clock until well past 64*T1 (stopped after ``stop_after`` seconds):
    when it resent the 2xx and when it timed out, in seconds since it started."""
    clock = SteppedClock(0.0)
    sent, timeouts = _Sent(clock), []
    endpoint: Any = sent
    reliable = Reliable2xx(endpoint, _ok(), (loopback(1), 5060), timers, lambda: timeouts.append(clock.time()),
                           clock=clock)
    if stop_after is not None:
        await clock.advance(stop_after)
        reliable.stop()
    await clock.advance_to(64 * timers.t1 + 10)
    assert clock.pending == 0  # nothing left armed
    return sent.times, timeouts


def test_reliable_2xx_resends_after_t1_doubling_to_t2_and_times_out_after_64_t1() -> None:
    sends, timeouts = asyncio.run(_reliable_2xx(TimerConfig()))  # T1 0.5 s, T2 4 s
    assert sends == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]  # T1, 2*T1, 4*T1, then T2
    assert timeouts == [32.0]  # 64*T1


def test_reliable_2xx_on_a_reliable_transport_only_times_out() -> None:
    sends, timeouts = asyncio.run(_reliable_2xx(TimerConfig(reliable=True)))
    assert sends == [] and timeouts == [32.0]


def test_reliable_2xx_stopped_sends_nothing_more_and_never_times_out() -> None:
    sends, timeouts = asyncio.run(_reliable_2xx(TimerConfig(), stop_after=2.0))
    assert sends == [0.5, 1.5] and timeouts == []
