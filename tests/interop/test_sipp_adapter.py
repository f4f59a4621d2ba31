"""The SIPp driver against SIPp itself (no trunk server): shipped scenarios load and play, the asyncio
variant, parameterised rejection, absorption of INVITE retransmissions, and bounded runs."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from harness.adapters.sipp import SIPP_MISSING, SippRun, find_sipp

from .conftest import loopback

pytestmark = [pytest.mark.interop, pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

UAS = (loopback(4, 40), 5080)
UAC = (loopback(4, 41), 5070)
PEER = (loopback(4, 42), 5060)


def _labels(result_counts: list[tuple[str, int, int, int, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for label, n, *_ in result_counts:
        out[label] = out.get(label, 0) + n
    return out


def test_shipped_uas_answers_sipp_builtin_uac_async() -> None:
    async def scenario() -> tuple[object, object]:
        async with await SippRun.uas(UAS, calls=5, timeout=15).start_async() as dest:
            await dest.wait_ready()
            caller = await SippRun("uac", UAC, UAS, calls=5, rate=50, timeout=15).run_async()
            callee = await dest.wait(timeout=10)
        return caller, callee
    caller, callee = asyncio.run(scenario())
    assert caller.ok and (caller.successful, caller.failed) == (5, 0), caller.describe()  # type: ignore[attr-defined]
    assert callee.ok and callee.successful == 5, callee.describe()  # type: ignore[attr-defined]
    assert callee.workdir is None, "the temporary work directory of a clean run is removed"  # type: ignore[attr-defined]


def test_reject_scenario_sends_the_asked_status() -> None:
    with SippRun.uas(UAS, reject=(486, "Busy Here"), calls=2, timeout=10).start() as dest:
        dest.wait_ready()
        caller = SippRun("uac", UAC, UAS, calls=2, rate=20, timeout=5, recv_timeout_ms=2_000).run()
        callee = dest.wait(timeout=8)
    assert (callee.successful, callee.failed) == (2, 0), callee.describe()
    assert _labels(callee.message_counts).get("486 ->") == 2, callee.message_counts
    assert caller.failed == 2 and not caller.ok  # SIPp's built-in uac expects a 200


def test_uas_absorbs_a_retransmitted_invite_after_answering() -> None:
    uas, peer = f"{UAS[0]}:{UAS[1]}", f"{PEER[0]}:{PEER[1]}"
    invite = (f"INVITE sip:1@{uas} SIP/2.0\r\nVia: SIP/2.0/UDP {peer};branch=z9hG4bKretr1\r\n"
              f"From: <sip:a@{PEER[0]}>;tag=f1\r\nTo: <sip:1@{UAS[0]}>\r\nCall-ID: retrans-1@{PEER[0]}\r\n"
              f"CSeq: 1 INVITE\r\nContact: <sip:{peer}>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, \
            SippRun.uas(UAS, calls=1, timeout=10).start() as dest:
        sock.bind(PEER)
        sock.settimeout(2.0)
        dest.wait_ready()
        sock.sendto(invite, UAS)
        first_lines = set()
        while "SIP/2.0 200 OK" not in first_lines:
            first_lines.add(sock.recv(65535).split(b"\r\n", 1)[0].decode())
        sock.sendto(invite, UAS)  # as a trunk whose Timer A fired before our 100 reached it
        time.sleep(0.2)
        result = dest.stop(grace=1)
    assert result.unexpected == 0 and result.stat_int("FailedUnexpectedMessage(C)") == 0, result.describe()


def test_a_run_against_silence_ends_within_its_bound() -> None:
    started = time.monotonic()
    result = SippRun("uac", UAC, PEER, calls=1, timeout=3).run()
    assert time.monotonic() - started < 3 + 10
    assert not result.ok and result.successful == 0, result.describe()
    assert result.workdir is not None and (result.workdir / "stat.csv").exists(), "files of a failed run are kept"
