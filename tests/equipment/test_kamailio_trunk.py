"""Kamailio 5.6 with examples/kamailio/kamailio.cfg as the trunk, driven directly by the simulator (the
UA calls, registers and answers; the destination plays the far end): the spec's ladders as a proxy plays
them. Kamailio runs once for the module on 127.N.5.50:5060 (this test process's block, tests/addresses.py)
and is stopped whatever happens."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from collections.abc import Iterator

import pytest

from harness.adapters.kamailio import KAMAILIO_MISSING, EquipmentStartError, KamailioProcess, find_kamailio
from simulator.destination import script_for
from simulator.settings import Reject, Send100, Send183, Wait
from simulator.ua import CallResult, RegistrationResult, UserAgent
from sipcore.digest import parse_challenge
from sipcore.digest_client import DigestClient
from sipcore.message import Response
from sipcore.parser import parse_message

from ..addresses import loopback
from .kamailio_support import (
    CARRIER_IP,
    CFG,
    DESTINATION,
    KAMAILIO,
    REGISTRAR,
    STRANGER_IP,
    TRUNK,
    UA_IP,
    call_through,
    digest_params,
    header,
    run,
    sip,
    start_destination,
    ua_settings,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def kamailio() -> Iterator[KamailioProcess]:
    if find_kamailio() is None:
        pytest.skip(KAMAILIO_MISSING)
    with KamailioProcess(CFG, listen=KAMAILIO, destination=DESTINATION, defines={"TRUSTED_PEER": CARRIER_IP}) as proc:
        yield proc
        assert proc.running(), f"Kamailio died:\n{proc.log_tail()}"


@pytest.fixture
def trunk(kamailio: KamailioProcess) -> Iterator[KamailioProcess]:
    """The running Kamailio, with the simulator's UAS copying Record-Route for the test's duration."""
    yield kamailio


def test_the_example_cfg_passes_kamailio_check() -> None:
    if find_kamailio() is None:
        pytest.skip(KAMAILIO_MISSING)
    proc = KamailioProcess(CFG, listen=KAMAILIO, destination=DESTINATION, defines={"TRUSTED_PEER": CARRIER_IP})
    try:
        output = proc.check_config()
    finally:
        proc.close()
    assert "config file ok" in output
    assert f"udp: {loopback(50, 5)} [{loopback(50, 5)}]:5060" in output and f"tcp: {loopback(50, 5)} [{loopback(50, 5)}]:5060" in output


def test_invite_is_challenged_407_then_relayed_answered_and_hung_up(trunk: KamailioProcess) -> None:
    out = run(call_through(script_for(answer_after_ms=50)))
    call = out.call
    assert (call.status, call.challenges, call.answered, call.ended_by, call.bye_status) == (
        200, [407], True, "local-bye", 200), trunk.log_tail()
    assert 180 in call.provisional
    challenge = digest_params(header(sip(out.ua, "sip-received", "407")[0], "Proxy-Authenticate")[0])
    assert challenge["realm"] == TRUNK and challenge["qop"] == "auth" and challenge["nonce"]
    # the 407's ACK stays at the trunk; the relayed INVITE keeps the number, loses the credentials
    [invite] = sip(out.destination, "sip-received", "INVITE")
    assert invite.detail["uri"] == f"sip:+15550100@{DESTINATION[0]}:{DESTINATION[1]}"
    assert "proxy-authorization" not in invite.detail
    [record_route] = header(invite, "Record-Route")
    assert record_route.startswith(f"<sip:{KAMAILIO[0]};lr")
    assert [r.summary.split()[0] for r in out.destination.select("sip-received", retransmissions=False)] == [
        "INVITE", "ACK", "BYE"]
    assert [r.status for r in sip(out.destination, "sip-sent", "")] == [100, 180, 200, 200]
    # in-dialog requests follow the Record-Route: through Kamailio, never to the destination directly
    for method in ("ACK", "BYE"):
        [sent] = [e for e in sip(out.ua, "sip-sent", method) if e.detail["cseq_method"] == method
                  and "destination@" in e.detail["uri"]]
        assert sent.detail["peer"] == f"{KAMAILIO[0]}:{KAMAILIO[1]}"
        assert header(sent, "Route") == [record_route]


def test_a_wrong_password_and_an_unknown_user_never_reach_the_destination(trunk: KamailioProcess) -> None:
    wrong = run(call_through(script_for(), ua={"password": "not-the-password"}))
    unknown = run(call_through(script_for(), ua={"username": "mallory"}))
    for out in (wrong, unknown):
        assert out.call.status == 407 and not out.call.answered and out.received == []
        assert out.call.challenges == [407, 407, 407]  # answered twice (max_auth_retries=2), challenged again
    challenges = [digest_params(header(sip(o.ua, "sip-received", "407")[-1], "Proxy-Authenticate")[0])
                  for o in (wrong, unknown)]
    for c in challenges:
        c.pop("nonce")
    assert challenges[0] == challenges[1] == {"realm": TRUNK, "qop": "auth"}


@pytest.mark.parametrize(("status", "reason"), [(404, "Not Found"), (486, "Busy Here"),
                                                (503, "Service Unavailable"), (603, "Decline")])
def test_the_destinations_final_status_reaches_the_caller_unchanged(trunk: KamailioProcess, status: int,
                                                                      reason: str) -> None:
    out = run(call_through(script_for(ringing=False, reject=status, reason=reason)))
    assert (out.call.status, out.call.reason) == (status, reason), trunk.log_tail()
    assert out.call.reason_header is None  # a proxy adds no Reason (Q.850) header of its own
    assert len(out.received) == 1 and out.received[0].final_status == status


def test_the_destinations_own_reason_header_passes_through(trunk: KamailioProcess) -> None:
    q850 = 'Q.850;cause=1;text="Unallocated (unassigned) number"'
    out = run(call_through(script_for(ringing=False, reject=404, reason="Not Found", reason_header=q850)))
    assert (out.call.status, out.call.reason_header) == (404, q850)


def test_early_media_183_is_relayed_and_the_rtp_flows_directly(trunk: KamailioProcess) -> None:
    out = run(call_through((Send100(), Send183(early_media=True), Wait(400), Reject(486, "Busy Here"))))
    call = out.call
    assert call.status == 486 and 183 in call.provisional and call.remote_sdp is not None
    assert f"c=IN IP4 {DESTINATION[0]}" in call.remote_sdp  # the destination's SDP, unchanged
    assert call.rtp_received > 0, "early media reaches the UA before the final answer"
    assert {p.src[0] for p in call.rtp_packets} == {DESTINATION[0]}, "no media relay: RTP comes from the destination"


def test_cancel_while_ringing_is_relayed(trunk: KamailioProcess) -> None:
    out = run(call_through(script_for(never_answer=True), cancel_on_ringing=True))
    assert (out.call.status, out.call.cancelled, out.call.cancel_status) == (487, True, 200)
    [received] = out.received
    assert received.cancelled and received.final_status == 487 and received.ended_by == "cancel"


def test_a_caller_on_tcp_is_relayed_to_the_udp_destination(trunk: KamailioProcess) -> None:
    out = run(call_through(script_for(answer_after_ms=50), ua={"transport": "TCP"}))
    assert (out.call.status, out.call.challenges, out.call.bye_status) == (200, [407], 200), trunk.log_tail()
    [invite] = sip(out.destination, "sip-received", "INVITE")
    assert header(invite, "Via")[0].startswith(f"SIP/2.0/UDP {loopback(50, 5)}")
    assert len(header(invite, "Record-Route")) == 2  # double record-routing across transports


def test_an_invite_to_the_trunks_ip_is_routed_by_its_to_domain(trunk: KamailioProcess) -> None:
    out = run(call_through(script_for(answer_after_ms=50),
                           request_uri=f"sip:+15550100@{KAMAILIO[0]}:{KAMAILIO[1]}"))
    assert (out.call.status, out.call.challenges) == (200, [407]), trunk.log_tail()
    assert out.received[0].request_uri == f"sip:+15550100@{DESTINATION[0]}:{DESTINATION[1]}"


def test_an_unknown_trunk_domain_gets_404_without_a_challenge(trunk: KamailioProcess) -> None:
    out = run(call_through(script_for(), to="sip:+15550100@unknown.trunk.voipbin.net"))
    assert (out.call.status, out.call.challenges, out.received) == (404, [], [])


async def _register_and_call(*, expires: int = 120, callee: str = "1001", caller_ip: str = CARRIER_IP,
                             register: bool = True) -> tuple[list[RegistrationResult], CallResult, UserAgent]:
    phone = await UserAgent.start(ua_settings(listen=(UA_IP, 0), username="1001", password="pass1001",
                                              domain=REGISTRAR, registrar=KAMAILIO, target=None))
    caller = await UserAgent.start(ua_settings(listen=(caller_ip, 0), username="carrier", password=None,
                                               domain="carrier.example", on_challenge="give-up"))
    try:
        registrations = [await phone.register(expires=expires, refresh=False)] if register else []
        call = await caller.call(f"sip:{callee}@{REGISTRAR}", hold_ms=200)
        if registrations and registrations[0].ok:
            await phone.wait_for_incoming(1, 3.0)
            await phone.unregister()
    finally:
        await phone.stop()
        await caller.stop()
    return registrations, call, phone


def test_register_is_challenged_401_and_a_call_for_the_extension_rings_the_phone(trunk: KamailioProcess) -> None:
    registrations, call, phone = run(_register_and_call())
    [registration] = registrations
    assert (registration.status, registration.challenges, registration.expires) == (200, [401], 120)
    challenge = digest_params(header(sip(phone.record, "sip-received", "401")[0], "WWW-Authenticate")[0])
    assert challenge["realm"] == REGISTRAR and challenge["qop"] == "auth"
    assert (call.status, call.challenges, call.answered) == (200, [], True), trunk.log_tail()
    [incoming] = phone.incoming
    assert incoming.request_uri.startswith(f"sip:1001@{UA_IP}:") and incoming.final_status == 200
    assert incoming.source == KAMAILIO and incoming.acked


def test_an_extension_with_no_registered_contact_gets_480(trunk: KamailioProcess) -> None:
    _, call, phone = run(_register_and_call(callee="1002"))
    assert (call.status, call.reason) == (480, "Temporarily Unavailable")
    assert phone.incoming == []


def test_an_unknown_extension_gets_404(trunk: KamailioProcess) -> None:
    _, call, _ = run(_register_and_call(callee="1009", register=False))
    assert call.status == 404


def test_an_untrusted_caller_of_an_extension_is_challenged_in_the_registrar_realm(trunk: KamailioProcess) -> None:
    _, call, _ = run(_register_and_call(caller_ip=STRANGER_IP, register=False))
    assert (call.status, call.challenges) == (407, [407])


def test_a_too_brief_registration_gets_423_with_min_expires_60(trunk: KamailioProcess) -> None:
    registrations, call, phone = run(_register_and_call(expires=30))
    assert registrations[0].status == 423
    [answer] = sip(phone.record, "sip-received", "423")
    assert header(answer, "Min-Expires") == ["60"]
    assert len(sip(phone.record, "sip-received", "")) == 2, "401 then 423, nothing else"
    assert call.status == 480


def _exchange(request: str) -> Response:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((STRANGER_IP, 0))
        sock.settimeout(2.0)
        sock.connect(KAMAILIO)
        port = sock.getsockname()[1]
        sock.send(request.format(port=port).replace("\n", "\r\n").encode())
        answer = parse_message(sock.recv(65535))
        assert isinstance(answer, Response)
        return answer


def test_options_gets_200_and_max_forwards_0_gets_483(trunk: KamailioProcess) -> None:
    template = ("{method} sip:+15550100@example.trunk.voipbin.net SIP/2.0\n"
                "Via: SIP/2.0/UDP {stranger}:{{port}};branch=z9hG4bK-{branch};rport\n"
                f"From: <sip:probe@{loopback(13, 5)}>;tag=1\nTo: <sip:+15550100@example.trunk.voipbin.net>\n"
                "Call-ID: {branch}@{stranger}\nCSeq: 1 {method}\nMax-Forwards: {hops}\n"
                f"Contact: <sip:probe@{loopback(13, 5)}>\nContent-Length: 0\n\n")
    options = _exchange(template.format(method="OPTIONS", branch="o1", hops=70, stranger=STRANGER_IP))
    assert options.status == 200 and "INVITE" in (options.headers.get("Allow") or "")
    for method in ("OPTIONS", "INVITE"):
        answer = _exchange(template.format(method=method, branch=f"{method}0", hops=0, stranger=STRANGER_IP))
        assert (answer.status, answer.reason) == (483, "Too Many Hops")


def test_stop_ends_kamailio_and_all_its_workers() -> None:
    if find_kamailio() is None:
        pytest.skip(KAMAILIO_MISSING)
    proc = KamailioProcess(CFG, listen=(loopback(51, 5), 5060), destination=DESTINATION)
    with proc:
        pgid = proc.pid
        os.killpg(pgid, 0)  # the group exists: Kamailio and its forked workers
        assert "Listening on" in proc.log_tail()
    assert proc.returncode is not None and not proc.running()
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


def test_a_kamailio_that_cannot_start_is_reported_with_its_log() -> None:
    if find_kamailio() is None:
        pytest.skip(KAMAILIO_MISSING)
    proc = KamailioProcess(CFG, listen=(loopback(52, 5), 5060), destination=DESTINATION,
                           defines={"RING_TIMEOUT": "soon"}, start_timeout=5)
    with pytest.raises(EquipmentStartError, match=r"kamailio exited with status \d+ before answering on "
                                                   rf"udp:{re.escape(loopback(52, 5))}:5060:\n(.|\n)*(error|ERROR)"):
        proc.start()
    proc.close()


def test_simulator_copies_record_route() -> None:
    sdp = (f"v=0\r\no=- 1 1 IN IP4 {STRANGER_IP}\r\ns=-\r\nc=IN IP4 {STRANGER_IP}\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")

    async def scenario() -> tuple[int, list[str], int]:
        dest = await start_destination(script_for(answer_after_ms=0))
        try:
            loop = asyncio.get_running_loop()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind((STRANGER_IP, 0))
                sock.setblocking(False)
                port = sock.getsockname()[1]
                invite = (f"INVITE sip:+15550100@{DESTINATION[0]}:{DESTINATION[1]} SIP/2.0\r\n"
                          f"Via: SIP/2.0/UDP {STRANGER_IP}:{port};branch=z9hG4bK-rr1;rport\r\n"
                          f"Record-Route: <sip:{STRANGER_IP}:{port};lr>\r\nFrom: <sip:a@{STRANGER_IP}>;tag=1\r\n"
                          f"To: <sip:+15550100@{DESTINATION[0]}>\r\nCall-ID: rr1@{STRANGER_IP}\r\n"
                          f"CSeq: 1 INVITE\r\nContact: <sip:a@{STRANGER_IP}:{port}>\r\nMax-Forwards: 70\r\n"
                          f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}")
                await loop.sock_sendto(sock, invite.encode(), DESTINATION)
                while True:
                    answer = parse_message(await asyncio.wait_for(loop.sock_recv(sock, 65535), 2.0))
                    if answer.status >= 200:  # type: ignore[union-attr]
                        return answer.status, answer.headers.get_all("Record-Route"), port  # type: ignore[union-attr]
        finally:
            await dest.stop()

    status, record_route, port = run(scenario(), timeout=10)
    assert status == 200
    assert record_route == [f"<sip:{STRANGER_IP}:{port};lr>"]


def _udp_request(sock: socket.socket, text: str) -> Response:
    sock.send(text.replace("\n", "\r\n").encode())
    while True:
        answer = parse_message(sock.recv(65535))
        assert isinstance(answer, Response)
        if answer.status >= 200:
            return answer


def test_an_expired_nonce_with_the_right_digest_is_challenged_with_stale_true() -> None:
    if find_kamailio() is None:
        pytest.skip(KAMAILIO_MISSING)
    address = (loopback(53, 5), 5060)
    with KamailioProcess(CFG, listen=address, destination=DESTINATION, defines={"NONCE_EXPIRE": 1}), \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((STRANGER_IP, 0))
        sock.settimeout(3.0)
        sock.connect(address)
        port = sock.getsockname()[1]
        uri = f"sip:+15550100@{TRUNK}"

        def invite(cseq: int, extra: str = "") -> str:
            return (f"INVITE {uri} SIP/2.0\nVia: SIP/2.0/UDP {STRANGER_IP}:{port};branch=z9hG4bK-st{cseq};rport\n"
                    f"From: <sip:alice@{TRUNK}>;tag=st\nTo: <{uri}>\nCall-ID: stale@{STRANGER_IP}\n"
                    f"CSeq: {cseq} INVITE\nContact: <sip:alice@{STRANGER_IP}:{port}>\nMax-Forwards: 70\n{extra}"
                    "Content-Length: 0\n\n")

        first = _udp_request(sock, invite(1))
        assert first.status == 407
        challenge = parse_challenge(first.headers.get("Proxy-Authenticate") or "", header="Proxy-Authenticate")
        assert not challenge.stale
        time.sleep(2.2)  # the nonce (lifetime 1 s) expires
        credentials = DigestClient("alice", "secret").authorize(challenge, "INVITE", uri)
        again = _udp_request(sock, invite(2, f"Proxy-Authorization: {credentials.to_header()}\n"))
        assert again.status == 407
        renewed = parse_challenge(again.headers.get("Proxy-Authenticate") or "", header="Proxy-Authenticate")
        assert renewed.stale and renewed.nonce != challenge.nonce and renewed.realm == TRUNK


def test_registering_another_extensions_aor_is_forbidden(trunk: KamailioProcess) -> None:
    async def scenario() -> tuple[int | None, list[int]]:
        phone = await UserAgent.start(ua_settings(username="1001", auth_username="1002", password="pass1002",
                                                  domain=REGISTRAR, registrar=KAMAILIO, target=None))
        try:
            result = await phone.register(expires=120, refresh=False)
        finally:
            await phone.stop()
        return result.status, result.challenges

    assert run(scenario()) == (403, [401])
