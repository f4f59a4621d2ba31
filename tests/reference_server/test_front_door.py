"""The dispatcher refuses new calls for a delayed worker itself (reference_server.front_door): a new INVITE
gets the worker's 503 at once from the shared address and never reaches the worker; a credentialed INVITE,
an in-dialog request and other requests still go to the worker; the worker's delay state arrives over its
channel, repeated while it lasts, and clears the same way or lapses when the updates stop."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from reference_server.admission import Admission, AdmissionConfig
from reference_server.config import parse_config
from reference_server.front_door import HOLD, OVERLOAD, overload_update, read_overload_update
from reference_server.worker import unpack_datagram
from reference_server.workers import Dispatcher, owner_of
from sipcore import parse_message
from sipcore.aio.clock import SteppedClock
from sipcore.message import Response

from ..addresses import loopback
from .support import TEST_CONFIG

TRUNK = "example.trunk.voipbin.net"


def _invite(call_id: str, *, to_tag: str = "", credentials: bool = False) -> bytes:
    to = f"<sip:15550100@{TRUNK}>" + (f";tag={to_tag}" if to_tag else "")
    auth = ('Proxy-Authorization: Digest username="alice", realm="x", nonce="n", uri="sip:x", response="0"\r\n'
            if credentials else "")
    return (f"INVITE sip:15550100@{TRUNK} SIP/2.0\r\nVia: SIP/2.0/UDP {loopback(21)}:5070;branch=z9hG4bK-{call_id}"
            f";rport\r\nFrom: <sip:alice@{TRUNK}>;tag=a1\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\n"
            f"Max-Forwards: 70\r\nContact: <sip:alice@{loopback(21)}:5070>\r\n{auth}Content-Length: 0\r\n\r\n").encode()


@contextmanager
def _dispatcher() -> Iterator[tuple[Dispatcher, socket.socket, list[socket.socket]]]:
    """A Dispatcher bound on a free loopback port with two stand-in workers (their channel ends returned);
    no process is started. Yields it, a caller socket, and the workers' ends."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind((loopback(20), 0))
    port = probe.getsockname()[1]
    probe.close()
    text = re.sub(r'listen = \[[^]]*\]', f'listen = ["udp:{loopback(20)}:{port}"]', TEST_CONFIG)
    dispatcher = Dispatcher(parse_config(text), [], 2)
    dispatcher.bind()
    loop = asyncio.new_event_loop()
    ends = []
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind((loopback(21), 0))
    caller.settimeout(2.0)
    try:
        for worker in dispatcher.workers:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            ours.setblocking(False)
            theirs.settimeout(0.5)
            worker.channel, worker.ready = ours, loop.create_future()
            worker.ready.set_result([])
            ends.append(theirs)
        yield dispatcher, caller, ends
    finally:
        for sock in [caller, *ends, *(w.channel for w in dispatcher.workers if w.channel is not None)]:
            sock.close()
        dispatcher.close()
        loop.close()


def _call_id_for(worker: int) -> str:
    n = 0
    while owner_of(f"INVITE x SIP/2.0\r\nCall-ID: c{n}@h\r\n".encode(), ("", 0), 2) != worker:
        n += 1
    return f"c{n}@h"


def _forwarded(end: socket.socket) -> bytes | None:
    try:
        return unpack_datagram(end.recv(65536))[3]
    except (TimeoutError, BlockingIOError):
        return None


def test_a_new_invite_for_a_delayed_worker_gets_the_workers_503_from_the_dispatcher_at_once() -> None:
    with _dispatcher() as (dispatcher, caller, ends):
        address = dispatcher.sockets[0].getsockname()
        # worker 1 says it is delayed, over its channel as a worker does
        ends[1].send(OVERLOAD + overload_update(True, "messages waited 41 ms or more (> 30 ms)", 7))
        dispatcher._read_worker(dispatcher.workers[1])
        assert dispatcher.workers[1].refusal is not None and dispatcher.workers[0].refusal is None

        delayed, fine = _call_id_for(1), _call_id_for(0)
        caller.sendto(_invite(delayed), address)
        caller.sendto(_invite(fine), address)
        dispatcher._read_public(0)
        answer = parse_message(caller.recv(65536))
        assert isinstance(answer, Response) and answer.status == 503
        assert answer.headers.get("Call-ID") == delayed and answer.headers.get("Retry-After") == "7"
        assert answer.to.tag, "a 503 needs a To tag of its own"
        assert "overloaded: messages waited 41 ms" in (answer.headers.get("Warning") or "")
        assert "branch=z9hG4bK-" + delayed in (answer.headers.get("Via") or "")
        assert _forwarded(ends[1]) is None, "the refused INVITE reached the worker"
        assert _forwarded(ends[0]) == _invite(fine), "the other worker's call was not passed on"
        assert dispatcher.front_door.refused == 1


def test_what_the_worker_still_decides_goes_to_it_while_it_is_delayed() -> None:
    with _dispatcher() as (dispatcher, caller, ends):
        address = dispatcher.sockets[0].getsockname()
        ends[1].send(OVERLOAD + overload_update(True, "messages waited 41 ms", 5))
        dispatcher._read_worker(dispatcher.workers[1])
        call_id = _call_id_for(1)
        bye = (f"BYE sip:x@{loopback(20)} SIP/2.0\r\nVia: SIP/2.0/UDP {loopback(21)}:5070;branch=z9hG4bK-b\r\n"
               f"From: <sip:a@{TRUNK}>;tag=a1\r\nTo: <sip:b@{TRUNK}>;tag=b1\r\nCall-ID: {call_id}\r\n"
               "CSeq: 3 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
        for data in (_invite(call_id, credentials=True), _invite(call_id, to_tag="b1"), bye,
                     f"INVITE garbage\r\nCall-ID: {call_id}\r\n\r\n".encode()):  # unparseable: the worker answers
            caller.sendto(data, address)
            dispatcher._read_public(0)
            assert _forwarded(ends[1]) == data
        assert dispatcher.front_door.refused == 0

        ends[1].send(OVERLOAD + overload_update(False, "", 5))  # caught up: new calls go to it again
        dispatcher._read_worker(dispatcher.workers[1])
        assert dispatcher.workers[1].refusal is None
        caller.sendto(_invite(call_id), address)
        dispatcher._read_public(0)
        assert _forwarded(ends[1]) == _invite(call_id)
        assert dispatcher.front_door.refused == 0


def test_overload_updates_read_back_and_a_bad_one_is_not_a_refusal() -> None:
    refusal = read_overload_update(overload_update(True, "5 INVITEs pending", 3))
    assert refusal is not None and (refusal.retry_after, refusal.cause) == (3, "5 INVITEs pending")
    assert read_overload_update(overload_update(False, "x", 3)) is None
    assert read_overload_update(b"1abc\0cause") is None


def test_admission_control_repeats_its_delayed_state_each_interval_and_says_once_when_it_ends() -> None:
    flips: list[tuple[bool, str]] = []
    admission = Admission(AdmissionConfig(max_loop_lag=0.03, interval=0.05), SteppedClock(), lambda: 0)
    admission.on_change = lambda delayed, cause: flips.append((delayed, cause))
    now = 1000.0
    for _ in range(20):  # 200 ms of messages that each waited 40 ms: delayed from the first interval's end on
        now += 0.01
        admission.note_delay(0.04, now)
    assert len(flips) >= 3 and all(d and "waited 40 ms" in c for d, c in flips), flips  # repeated: a lost one heals
    for _ in range(20):  # then on time again: one "not delayed", then silence
        now += 0.01
        admission.note_delay(0.0, now)
    assert flips[-1] == (False, "") and [d for d, _ in flips].count(False) == 1, flips


def test_a_delayed_state_the_worker_stopped_repeating_lapses() -> None:
    """A worker repeats its delayed state every 50 ms; if those updates stop coming (the "not delayed"
    one lost), the dispatcher stops refusing after front_door.HOLD instead of cutting the worker off."""
    with _dispatcher() as (dispatcher, caller, ends):
        address = dispatcher.sockets[0].getsockname()
        ends[1].send(OVERLOAD + overload_update(True, "messages waited 41 ms", 5))
        dispatcher._read_worker(dispatcher.workers[1])
        assert 0 < dispatcher.workers[1].refused_until - time.monotonic() <= HOLD
        dispatcher.workers[1].refused_until = time.monotonic() - 0.001  # HOLD has passed without an update
        call_id = _call_id_for(1)
        caller.sendto(_invite(call_id), address)
        dispatcher._read_public(0)
        assert _forwarded(ends[1]) == _invite(call_id)
        assert dispatcher.front_door.refused == 0
