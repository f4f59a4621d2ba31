"""A finished call leaves no reference cycle behind: everything it made (its transactions, legs, relay,
media anchor, SRTP state) is freed by reference counting once its transactions stop lingering, not left
for the next full collection of the cyclic GC, which the server runs only every ~200 s
(reference_server.gc_pacing). Under a steady load whatever a call leaves to the cyclic collector piles up
in the oldest generation between full collections: the RSS and the per-call CPU of a soak then creep up
(benchmarks/soak.py).

Each test runs its calls with the collector off and ``gc.DEBUG_SAVEALL`` on, then collects: any object
of the server's own packages the collector finds unreachable was part of a cycle."""

from __future__ import annotations

import gc
import os
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from sipcore.builders import make_cancel
from sipcore.sdes import CryptoAttribute
from sipcore.sdp import SessionDescription
from sipcore.sdp_offer import make_answer, make_offer

from ..addresses import loopback
from .support import IDS, TEST_CONFIG, WAIT, ServerRig, answer, establish, offer, run

OURS = ("reference_server.", "sipcore.")
SRTP_TO_DESTINATION = TEST_CONFIG.replace('password = "secret"\n', 'password = "secret"\ndestination_srtp = true\n', 1)


@contextmanager
def _cyclic_garbage() -> Iterator[Counter[str]]:
    """Collects (into the yielded Counter) the server's objects that only the cyclic GC freed."""
    found: Counter[str] = Counter()
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.update(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage
                     if type(o).__module__.startswith(OURS))
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if was_enabled:
            gc.enable()


async def _hang_up_from_caller(rig: ServerRig) -> None:
    call = await establish(rig)
    bye = call.ua_request(rig, "BYE")
    rig.dest.respond(await rig.dest.next_request("BYE"), 200)
    assert (await bye.final()).status == 200


async def _cancelled(rig: ServerRig) -> None:
    invite, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
    event = await rig.dest.next_request("INVITE")
    rig.dest.respond(event, 180)
    await responses.status(180)
    assert (await rig.ua.send(make_cancel(invite), rig.addr).final()).status == 200
    rig.dest.respond(await rig.dest.next_request("CANCEL"), 200)
    rig.dest.respond(event, 487)
    assert (await responses.final()).status == 487


async def _busy(rig: ServerRig) -> None:
    _, responses = await rig.authed_invite(rig.invite(body=offer(rig.rtp().port)))
    rig.dest.respond(await rig.dest.next_request("INVITE"), 486)
    assert (await responses.final()).status == 486


async def _held_and_resumed(rig: ServerRig) -> None:
    """The caller puts the call on hold (a=sendonly) and resumes it by re-INVITE, then hangs up."""
    call = await establish(rig)
    for direction in ("sendonly", "sendrecv"):
        body = offer(call.ua_rtp.port).replace(b"a=sendrecv", f"a={direction}".encode())
        responses = call.ua_request(rig, "INVITE", body=body)
        reinvite = await rig.dest.next_request("INVITE")
        rig.dest.respond(reinvite, 200, body=answer(reinvite.request.body, call.dest_rtp.port))
        assert (await responses.final()).status == 200
        ack = call.ua_dialog.create_ack(call.ua_dialog.local_cseq or 0, IDS.branch(), rig.ua.addr)
        rig.ua.endpoint.send_stateless(ack, rig.addr)
        await rig.dest.next_request("ACK")
    bye = call.ua_request(rig, "BYE")
    rig.dest.respond(await rig.dest.next_request("BYE"), 200)
    assert (await bye.final()).status == 200


async def _srtp_both_legs(rig: ServerRig) -> None:
    """SRTP from the caller, and the destination answering SRTP: the relay gets packet transforms."""
    line = CryptoAttribute.new(1, "AES_CM_128_HMAC_SHA1_80", os.urandom(30))
    caller_offer = make_offer(loopback(1), rig.rtp().port, 1000, crypto=[line]).to_bytes()
    _, responses = await rig.authed_invite(rig.invite(body=caller_offer))
    event = await rig.dest.next_request("INVITE")
    body = make_answer(SessionDescription.parse(event.request.body), loopback(1), rig.rtp().port, 2000,
                       srtp_key=os.urandom).to_bytes()
    rig.dest.respond(event, 200, body=body)
    assert (await responses.final()).status == 200
    assert rig.server.b2bua.calls and all(
        c.media is not None and c.media.srtp.leg_is_srtp("A") and c.media.srtp.leg_is_srtp("B")
        for c in rig.server.b2bua.calls.values())
    rig.server.b2bua.close_all()


def _check(flow: Callable[[ServerRig], Awaitable[None]], calls: int = 3, config_text: str = TEST_CONFIG) -> None:
    async def main() -> Counter[str]:
        async with ServerRig(config_text=config_text) as rig:
            with _cyclic_garbage() as garbage:
                for _ in range(calls):
                    await flow(rig)
                    await rig.clock.advance(3)  # the next call reuses the parked relay sockets (reuse_after 2 s)
                await rig.wait_until(lambda: not rig.server.b2bua.calls, WAIT)
                await rig.clock.advance(40)  # Timers J, L, M, H: the lingering transactions end
                assert not any(ep.layer and ep.layer.transactions for ep in rig.server.endpoints)
        return garbage

    garbage = run(main(), timeout=30)
    assert not garbage, f"objects freed only by the cyclic GC after {calls} calls: {dict(garbage)}"


def test_an_answered_call_hung_up_by_bye_leaves_no_cycle() -> None:
    _check(_hang_up_from_caller)


def test_a_cancelled_call_leaves_no_cycle() -> None:
    _check(_cancelled)


def test_a_call_the_destination_refuses_leaves_no_cycle() -> None:
    _check(_busy)


def test_a_call_held_and_resumed_by_re_invite_leaves_no_cycle() -> None:
    _check(_held_and_resumed)


def test_an_srtp_call_with_relay_transforms_leaves_no_cycle() -> None:
    _check(_srtp_both_legs, config_text=SRTP_TO_DESTINATION)
