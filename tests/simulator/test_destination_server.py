"""``trunkcheck simulate destination`` as a server, the way an engineer points SIPp or a PBX at it: it
answers calls (many at once) until SIGINT/SIGTERM, then prints how many it handled; ``--calls N`` ends it
after N calls. Driven by a real SIPp caller (``sipp -sn uac``) against the CLI as a subprocess."""

from __future__ import annotations

import csv
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ..addresses import loopback

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (Debian: sip-tester)")]

ROOT = Path(__file__).resolve().parents[2]
DEST_IP = loopback(33)  # this test process's own addresses (tests/addresses.py)
SIPP_IP = loopback(43)


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _start_destination(*options: str) -> tuple[subprocess.Popen[str], int]:
    port = _free_udp_port(DEST_IP)
    process = subprocess.Popen([sys.executable, "-m", "harness.cli", "simulate", "destination", "--listen",
                                f"{DEST_IP}:{port}", *options],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    ready, _, _ = select.select([process.stderr], [], [], 10.0)
    first = process.stderr.readline() if ready else "(nothing within 10 s)"
    if not first.startswith("destination listening on"):
        process.kill()
        process.communicate(timeout=5)
        pytest.fail(f"the destination did not start: {first}")
    return process, port


def _sipp_uac(port: int, workdir: Path, *, calls: int, rate: int) -> dict[str, str]:
    """``sipp -sn uac`` placing ``calls`` calls at ``rate`` per second (bounded); its last statistics row."""
    stat = workdir / "stat.csv"
    proc = subprocess.run(["sipp", "-sn", "uac", f"{DEST_IP}:{port}", "-i", SIPP_IP, "-p", str(_free_udp_port(SIPP_IP)),
                           "-m", str(calls), "-r", str(rate), "-l", str(calls), "-nostdin", "-timeout", "30s",
                           "-timeout_error", "-trace_stat", "-stf", str(stat), "-fd", "1"],
                          cwd=workdir, capture_output=True, timeout=60)
    row = _last_row(stat)
    assert row, f"SIPp wrote no statistics (exit {proc.returncode}): {proc.stdout[-2000:]!r}"
    return row


def _stopped(process: subprocess.Popen[str], within: float = 2.5) -> tuple[str, str]:
    """The output of a destination told to stop, which ends its calls at once and exits within about 2 s
    (a bound on the wait, with room for a loaded machine; not a measured duration)."""
    try:
        return process.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the destination did not exit within {within:g} s of the signal") from None


def _kill(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=5)


def test_sipp_places_20_calls_at_10_cps_and_sigint_ends_the_destination_with_a_summary(tmp_path: Path) -> None:
    dest, port = _start_destination()
    try:
        stats = _sipp_uac(port, tmp_path, calls=20, rate=10)
        assert (stats["SuccessfulCall(C)"], stats["FailedCall(C)"]) == ("20", "0"), stats
        assert dest.poll() is None, "the destination ended after its first call(s): it must answer until stopped"
        dest.send_signal(signal.SIGINT)
        out, err = _stopped(dest)
    finally:
        _kill(dest)
    assert dest.returncode == 0, (dest.returncode, err)
    assert "Traceback" not in err
    assert "calls handled: 20 (final status 200: 20; ended by remote-bye: 20;" in out
    assert out.count("Incoming call ") == 20 and "stopped by SIGINT" in out


def test_calls_in_progress_are_ended_when_sigterm_comes(tmp_path: Path) -> None:
    """SIPp holds 10 calls open at once (answered, BYE 20 s later) when SIGTERM arrives: the destination
    answered them concurrently, stops within about 2 s all the same and counts them as stopped."""
    dest, port = _start_destination()
    stat = tmp_path / "stat.csv"
    sipp = subprocess.Popen(["sipp", "-sn", "uac", f"{DEST_IP}:{port}", "-i", SIPP_IP, "-p",
                             str(_free_udp_port(SIPP_IP)), "-m", "10", "-r", "50", "-d", "20000", "-nostdin",
                             "-timeout", "30s", "-trace_stat", "-stf", str(stat), "-fd", "1"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, current = time.monotonic() + 10, "0"
        while time.monotonic() < deadline and current != "10":  # SIPp writes its statistics every second
            time.sleep(0.2)
            current = _last_row(stat).get("CurrentCall", "0")
        assert current == "10", f"SIPp did not get 10 calls up at once: {_last_row(stat)}"
        dest.send_signal(signal.SIGTERM)
        out, err = _stopped(dest)
    finally:
        _kill(dest)
        sipp.kill()
        sipp.wait(5)
    assert dest.returncode == 0, (dest.returncode, err)
    assert "calls handled: 10 (final status 200: 10; ended by stopped: 10;" in out, out[-500:]


def _last_row(stat: Path) -> dict[str, str]:
    try:
        with stat.open() as f:
            rows = list(csv.DictReader(f, delimiter=";"))
    except OSError:
        return {}
    return rows[-1] if rows else {}


def test_calls_3_exits_0_after_3_calls(tmp_path: Path) -> None:
    dest, port = _start_destination("--calls", "3")
    try:
        stats = _sipp_uac(port, tmp_path, calls=3, rate=10)
        out, err = dest.communicate(timeout=10)
    finally:
        _kill(dest)
    assert (stats["SuccessfulCall(C)"], stats["FailedCall(C)"]) == ("3", "0"), stats
    assert dest.returncode == 0, err
    assert "calls handled: 3 (final status 200: 3; ended by remote-bye: 3;" in out
