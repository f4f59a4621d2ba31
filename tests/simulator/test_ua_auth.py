"""The UA against a challenging trunk stub: 407 on INVITE, 401 on REGISTER, refresh, de-registration,
and an incoming call to the registered contact."""

from __future__ import annotations

import asyncio
from typing import Any

from simulator.settings import UaSettings
from simulator.ua import UserAgent
from sipcore.aio.clock import LOOP_CLOCK, Clock, SteppedClock
from sipcore.digest import parse_credentials
from sipcore.digest_server import VerifyOutcome

from .helpers import DOMAIN, UA2_IP, UA_IP, TrunkStub, run, until


async def _ua_against_stub(stub: TrunkStub, clock: Clock = LOOP_CLOCK, **settings: Any) -> UserAgent:
    await stub.start()
    return await UserAgent.start(UaSettings(listen=(UA_IP, 0), username="alice", domain=DOMAIN, target=stub.addr,
                                            **settings), clock=clock)


def test_407_is_answered_with_digest_and_the_retry_keeps_the_dialog_identifiers() -> None:
    stub = TrunkStub()

    async def scenario() -> Any:
        ua = await _ua_against_stub(stub, password="secret")
        try:
            return await ua.call("+15551234567", hold_ms=0), ua
        finally:
            await ua.stop()
            stub.close()

    result, ua = run(scenario())
    assert (result.status, result.challenges, result.auth_retries) == (200, [407], 1)
    first, retry = [r for r in stub.requests if r.method == "INVITE"]
    assert first.headers.get("Proxy-Authorization") is None
    assert (retry.cseq.seq, retry.call_id, retry.from_.tag) == (2, first.call_id, first.from_.tag)
    assert retry.top_via.branch != first.top_via.branch
    assert str(retry.uri) == f"sip:+15551234567@{DOMAIN}" and str(first.from_.uri) == f"sip:alice@{DOMAIN}"
    acks = [r for r in stub.requests if r.method == "ACK"]
    # the 407's ACK is absorbed by the stub's transaction; the one seen is the 2xx ACK, with the credentials
    assert len(acks) == 1 and acks[0].headers.get("Proxy-Authorization") == retry.headers.get("Proxy-Authorization")
    ack_407, ack_200 = (e.detail["raw"] for e in ua.record.select("sip-sent", summary="ACK"))
    assert f"branch={first.top_via.branch}" in ack_407 and "CSeq: 1 ACK" in ack_407 and "tag=stub" in ack_407
    assert f"branch={retry.top_via.branch}" not in ack_200 and "CSeq: 2 ACK" in ack_200 and "tag=call" in ack_200
    assert stub.outcomes == [VerifyOutcome.OK]


def test_algorithm_preference_picks_among_offered_challenges() -> None:
    stub = TrunkStub(algorithms=("MD5", "SHA-256"))

    async def scenario() -> None:
        ua = await _ua_against_stub(stub, password="secret", algorithms=("SHA-256", "MD5"))
        try:
            assert (await ua.call("+15551234567", hold_ms=0)).status == 200
        finally:
            await ua.stop()
            stub.close()

    run(scenario())
    retry = [r for r in stub.requests if r.method == "INVITE"][1]
    assert parse_credentials(retry.headers.get("Proxy-Authorization") or "").algorithm == "SHA-256"


def test_wrong_password_stops_after_max_auth_retries() -> None:
    stub = TrunkStub()

    async def scenario() -> Any:
        ua = await _ua_against_stub(stub, password="secret", on_challenge="wrong-password", max_auth_retries=2)
        try:
            return await ua.call("+15551234567")
        finally:
            await ua.stop()
            stub.close()

    result = run(scenario())
    assert (result.status, result.challenges, result.auth_retries) == (407, [407, 407, 407], 2)
    assert "gave up after 2" in (result.error or "")
    assert len([r for r in stub.requests if r.method == "INVITE"]) == 3
    assert stub.outcomes == [VerifyOutcome.BAD_CREDENTIALS] * 2


def test_give_up_on_challenge_reports_the_407() -> None:
    stub = TrunkStub()

    async def scenario() -> Any:
        ua = await _ua_against_stub(stub, password="secret", on_challenge="give-up")
        try:
            return await ua.call("+15551234567")
        finally:
            await ua.stop()
            stub.close()

    result = run(scenario())
    assert (result.status, result.auth_retries) == (407, 0)
    assert len([r for r in stub.requests if r.method == "INVITE"]) == 1


def test_stale_nonce_is_retried_with_the_same_credentials() -> None:
    stub = TrunkStub(stale_once=True)

    async def scenario() -> Any:
        ua = await _ua_against_stub(stub, password="secret")
        try:
            return await ua.call("+15551234567", hold_ms=0)
        finally:
            await ua.stop()
            stub.close()

    result = run(scenario())
    assert (result.status, result.challenges, result.auth_retries) == (200, [407, 407], 2)
    assert stub.outcomes == [VerifyOutcome.OK, VerifyOutcome.OK]


def test_register_refresh_unregister_and_answer_an_incoming_call() -> None:
    stub = TrunkStub()

    async def scenario() -> Any:
        clock = SteppedClock()
        alice = await _ua_against_stub(stub, clock, password="secret", answer_after_ms=250,
                                       register_refresh_ratio=0.5)
        bob = await UserAgent.start(UaSettings(listen=(UA2_IP, 0), username="bob", domain=DOMAIN), clock=clock)
        try:
            first = await alice.register(expires=60)
            assert first.ok and first.challenges == [401] and first.expires == 60
            assert stub.bindings[f"sip:alice@{DOMAIN}"] == alice.local_addr
            await clock.advance(29.5)
            assert len(alice.registrations) == 1
            await clock.advance(0.5)  # half the granted 60 s: the refresh, before expiry
            assert await alice.wait_for_registrations(2, timeout=2.0)
            assert alice.registrations[1].at - first.at == 30.0
            contact_host, contact_port = stub.bindings[f"sip:alice@{DOMAIN}"]
            calling = asyncio.ensure_future(bob.call(f"sip:alice@{contact_host}:{contact_port}", hold_ms=500))
            await until(lambda: alice.incoming, "the INVITE to alice")
            await clock.advance(0.25)  # alice answers after 250 ms
            await until(lambda: bob.record.first("sip-sent", summary="ACK"), "bob's ACK")
            await clock.advance(0.5)  # bob hangs up after 500 ms
            call = await asyncio.wait_for(calling, 5.0)
            wrong_user = await bob.call(f"sip:carol@{contact_host}:{contact_port}")
            assert await alice.wait_for_incoming(1, timeout=2.0)
            gone = await alice.unregister()
            return first, alice.registrations, call, wrong_user, alice.incoming, gone
        finally:
            await bob.stop()
            await alice.stop()
            stub.close()

    first, registrations, call, wrong_user, incoming, gone = run(scenario())
    registers = [r for r in stub.requests if r.method == "REGISTER"]
    assert len({r.call_id for r in registers}) == 1  # refreshes reuse the Call-ID (RFC 3261 §10.2.4)
    cseqs = [r.cseq.seq for r in registers]
    assert cseqs == sorted(cseqs) and len(set(cseqs)) == len(cseqs)
    assert registrations[1].refresh and registrations[1].ok
    assert gone.ok and registers[-1].headers.get("Expires") == "0"
    assert f"sip:alice@{DOMAIN}" not in stub.bindings
    assert (call.status, call.provisional, call.ended_by) == (200, [180], "local-bye")
    assert call.rtp_received > 0 and call.setup_ms is not None and call.setup_ms >= 250  # answered after 250 ms
    assert wrong_user.status == 404
    assert len(incoming) == 1 and incoming[0].responses_sent == [180, 200] and incoming[0].rtp_received > 0
