"""Interop with SIPp: the UA calls a SIPp destination 50 times, a SIPp caller calls the destination 50
times; zero failed calls on either side, RTP counted on both (SIPp echoes it with -rtp_echo)."""

from __future__ import annotations

import asyncio
import csv
import shutil
import socket
from pathlib import Path

import pytest

from simulator.destination import Destination
from simulator.settings import Answer, DestinationSettings, Send100, Send180, UaSettings
from simulator.ua import UserAgent

from ..addresses import loopback
from .helpers import DEST_IP, UA_IP, run

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed")]

SIPP_IP = loopback(41)
SIPP_CALLER_IP = loopback(42)
SCENARIO = Path(__file__).parent / "sipp" / "uas.xml"
CALLS = 50


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def _sipp(args: list[str], cwd: Path) -> asyncio.subprocess.Process:
    with (cwd / "screen.txt").open("wb") as screen:
        return await asyncio.create_subprocess_exec(
            "sipp", *args, "-nostdin", "-trace_stat", "-stf", str(cwd / "stat.csv"), "-fd", "1",
            cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=screen, stderr=asyncio.subprocess.STDOUT)


async def _wait_bound(host: str, port: int, timeout: float = 5.0) -> None:
    """Return once something (SIPp) has bound UDP host:port."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"SIPp did not bind {host}:{port} within {timeout} s")


async def _finish(process: asyncio.subprocess.Process, timeout: float) -> int:
    """SIPp's exit status (0: every call succeeded); killed when it outlives ``timeout``."""
    try:
        return await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -9


def _stats(cwd: Path) -> dict[str, str]:
    with (cwd / "stat.csv").open() as stat:
        rows = list(csv.DictReader(stat, delimiter=";"))
    assert rows, "SIPp wrote no statistics"
    return rows[-1]


def test_ua_calls_a_sipp_destination_50_times(tmp_path: Path) -> None:
    sipp_port, media_port = _free_udp_port(SIPP_IP), _free_udp_port(SIPP_IP)

    async def scenario() -> tuple[int, list, UserAgent]:  # type: ignore[type-arg]
        sipp = await _sipp(["-sf", str(SCENARIO), "-i", SIPP_IP, "-p", str(sipp_port), "-m", str(CALLS),
                            "-rtp_echo", "-mi", SIPP_IP, "-mp", str(media_port),
                            "-timeout", "25s", "-timeout_error"], tmp_path)
        ua = None
        try:
            await _wait_bound(SIPP_IP, sipp_port)
            ua = await UserAgent.start(UaSettings(listen=(UA_IP, 0), target=(SIPP_IP, sipp_port)))
            results = []
            for batch in range(CALLS // 10):  # ten concurrent calls at a time
                results += await asyncio.gather(*(ua.call(f"+1555000{batch}{i:02d}", hold_ms=150)
                                                  for i in range(10)))
            return await _finish(sipp, 15), results, ua
        finally:
            if ua is not None:
                await ua.stop()
            if sipp.returncode is None:
                sipp.kill()
                await sipp.wait()

    code, results, ua = run(scenario(), timeout=40)
    stats = _stats(tmp_path)
    assert (code, stats["SuccessfulCall(C)"], stats["FailedCall(C)"]) == (0, str(CALLS), "0"), \
        (tmp_path / "screen.txt").read_text(errors="replace")[-2000:]
    assert [r.status for r in results] == [200] * CALLS
    assert all(r.bye_status == 200 and r.ended_by == "local-bye" and r.error is None for r in results)
    assert all(r.provisional == [100, 180] for r in results)
    assert all(r.rtp_sent > 0 and r.rtp_received > 0 for r in results)  # our tone, echoed by SIPp
    assert len(ua.record.select("sip-received", summary="200", method="BYE", retransmissions=False)) == CALLS


def test_sipp_caller_gets_50_answered_calls_from_the_destination(tmp_path: Path) -> None:
    sipp_port, media_port = _free_udp_port(SIPP_CALLER_IP), _free_udp_port(SIPP_CALLER_IP)

    async def scenario() -> tuple[int, Destination]:
        dest = await Destination.start(DestinationSettings(listen=(DEST_IP, 0),
                                                           script=[Send100(), Send180(), Answer()]))
        host, port = dest.local_addr
        sipp = await _sipp(["-sn", "uac", f"{host}:{port}", "-i", SIPP_CALLER_IP, "-p", str(sipp_port),
                            "-m", str(CALLS), "-r", "50", "-l", "20", "-d", "200", "-rtp_echo",
                            "-mi", SIPP_CALLER_IP, "-mp", str(media_port), "-timeout", "25s", "-timeout_error"],
                           tmp_path)
        try:
            code = await _finish(sipp, 30)
            await dest.wait_for_calls(CALLS, 3.0)
            return code, dest
        finally:
            if sipp.returncode is None:
                sipp.kill()
                await sipp.wait()
            await dest.stop()

    code, dest = run(scenario(), timeout=40)
    stats = _stats(tmp_path)
    assert (code, stats["SuccessfulCall(C)"], stats["FailedCall(C)"]) == (0, str(CALLS), "0"), \
        (tmp_path / "screen.txt").read_text(errors="replace")[-2000:]
    assert len(dest.calls) == CALLS
    assert all(c.responses_sent == [100, 180, 200] and c.acked and c.ended_by == "remote-bye" for c in dest.calls)
    assert all(c.rtp_sent > 0 and c.rtp_received > 0 for c in dest.calls)  # our tone, echoed by SIPp
