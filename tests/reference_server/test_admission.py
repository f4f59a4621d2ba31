"""Admission control (reference_server.admission): when the server is saturated a new INVITE gets 503 with
Retry-After at once, before authentication; calls already admitted go on to their end.

The server here runs on the event loop's clock (the overload probe measures real lag); the lag is injected
by blocking the loop, and every wait is bounded."""

from __future__ import annotations

import asyncio
import time

from reference_server.admission import AdmissionConfig
from reference_server.server import ReferenceServer
from sipcore.aio.clock import LOOP_CLOCK

from .support import Peer, ServerRig, offer, retry_with_credentials, run

LAG = AdmissionConfig(max_loop_lag=0.02, interval=0.05, probe_interval=0.01, retry_after=7)


class AdmissionRig(ServerRig):
    """ServerRig with admission control on, its server on the loop's clock."""

    def __init__(self, admission: AdmissionConfig) -> None:
        super().__init__()
        self.admission = admission

    async def __aenter__(self) -> AdmissionRig:
        await super().__aenter__()
        await self.server.stop()
        self.server = ReferenceServer(self.config, clock=LOOP_CLOCK, admission=self.admission)
        await self.server.start()
        local = self.server.local_addresses[0]
        self.addr = (local.host, local.port)
        return self


async def _block_loop(seconds: float, slice_s: float = 0.03) -> None:
    """Keep the event loop busy for ``seconds``: callbacks that each hold it ``slice_s`` (a saturated loop)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(slice_s)
        await asyncio.sleep(0)


def test_a_lagging_server_refuses_new_invites_with_503_and_retry_after_before_any_challenge() -> None:
    async def scenario() -> None:
        async with AdmissionRig(LAG) as rig:
            await _block_loop(0.3)
            refused = await rig.ua.send(rig.invite(body=offer(4000)), rig.addr).final()
            assert refused.status == 503
            assert refused.headers.get("Retry-After") == "7"
            assert refused.headers.get("Proxy-Authenticate") is None  # refused before authentication
            assert "overloaded" in (refused.headers.get("Warning") or "")
            assert refused.to.tag
            assert rig.server.admission is not None and rig.server.admission.refused == 1
            await asyncio.sleep(0.2)  # the lag is gone: the next interval takes calls again
            challenged = await rig.ua.send(rig.invite(body=offer(4000)), rig.addr).final()
            assert challenged.status == 407
    run(scenario())


def test_too_many_pending_invites_refuse_new_ones_while_the_admitted_call_completes() -> None:
    async def scenario() -> None:
        async with AdmissionRig(AdmissionConfig(max_pending=1, max_loop_lag=5.0)) as rig:
            _, responses = await rig.authed_invite(rig.invite(body=offer(4000)))
            b_invite = await rig.dest.next_request("INVITE")  # the admitted call rings at the destination
            other: Peer = await rig.peer()
            refused = await other.send(rig.invite(other, body=offer(4002)), rig.addr).final()
            assert refused.status == 503 and refused.headers.get("Retry-After") == "5"
            rig.dest.respond(b_invite, 200, body=b_invite.request.body.replace(b"4000", b"4010"))
            ok = await responses.final()
            assert ok.status == 200  # the admitted call completes
            taken = await other.send(rig.invite(other, body=offer(4002)), rig.addr).final()
            assert taken.status == 407  # nothing pending any more: new calls are taken
    run(scenario())


def test_the_credentialed_invite_of_a_challenged_call_is_admitted_when_new_calls_are_refused() -> None:
    async def scenario() -> None:
        async with AdmissionRig(AdmissionConfig(max_pending=1, max_loop_lag=5.0)) as rig:
            other: Peer = await rig.peer()
            request = rig.invite(other, body=offer(4002))
            challenge = await other.send(request, rig.addr).final()
            assert challenge.status == 407  # challenged while nothing was pending
            _, first = await rig.authed_invite(rig.invite(body=offer(4000)))
            first_b = await rig.dest.next_request("INVITE")  # one call pending: new calls are refused now
            refused = await rig.ua.send(rig.invite(body=offer(4004)), rig.addr).final()
            assert refused.status == 503
            second = other.send(retry_with_credentials(request, challenge, "alice", "secret"), rig.addr)
            second_b = await rig.dest.next_request("INVITE")  # the challenged call goes on
            for b_invite in (first_b, second_b):
                rig.dest.respond(b_invite, 486)
            assert [(await r.final()).status for r in (first, second)] == [486, 486]
    run(scenario())


def test_the_servers_own_full_collection_is_excused_but_lag_that_stays_is_not() -> None:
    """A scheduled full garbage collection stalls the loop ~0.5 s every ~200 s (reference_server.gc_pacing):
    the messages that waited through it must not read as overload, or every full collection refuses a
    burst of calls; lag beyond the pause still counts."""
    from types import SimpleNamespace

    from reference_server.admission import Admission

    def after_pause(excused: bool, extra_lag: float) -> bool:
        now = [1000.0]
        admission = Admission(AdmissionConfig(), SimpleNamespace(time=lambda: now[0]), lambda: 0)  # type: ignore[arg-type]
        admission.note_delay(0.001, now[0])
        admission.note_delay(0.001, now[0] + 0.06)  # an interval on time
        now[0] += 0.56  # a 0.5 s collection ran just now
        if excused:
            admission.excuse(0.5)
        t = now[0]
        for k in range(6):  # the backlog drains: each message waited through the pause (and extra_lag)
            admission.note_delay(0.5 - 0.01 * k + extra_lag, t + 0.01 * k)
        admission.note_delay(0.5 + extra_lag, t + 0.06)  # the next interval's first sample closes this one
        return admission.overloaded(t + 0.06)

    assert after_pause(excused=False, extra_lag=0.0)  # as it was: the pause read as overload
    assert not after_pause(excused=True, extra_lag=0.0)
    assert after_pause(excused=True, extra_lag=0.08)  # behind by more than the pause: still refused
