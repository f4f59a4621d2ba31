"""baresip, an independent softphone, holds, resumes and sends DTMF through the reference trunk
(``python -m reference_server``) to the simulated destination. The capture is asserted with the suite's
own checks (harness.suite.hold_checks, dtmf_checks) from tshark's decode: baresip's hold re-INVITE relayed
to the destination and answered a=recvonly on both legs, no RTP reaching baresip while it holds, RTP both
ways after its resume; its RFC 4733 digits (``/sndcode``) reaching the destination with the payload type
each leg negotiated. Every wait is bounded; the server, baresip and the destination are stopped whatever
the outcome."""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.adapters.baresip import BARESIP_MISSING, Baresip, BaresipAccount, find_baresip
from harness.adapters.server_process import ReferenceServerProcess, trunk_config
from harness.capture.decode import decode_file
from harness.capture.observation import Observation
from harness.capture.sniffer import Capture
from harness.suite import dtmf_checks, hold_checks
from simulator.destination import Destination
from simulator.settings import Answer, DestinationSettings, Send100

from .conftest import loopback

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(find_baresip() is None, reason=BARESIP_MISSING),
              pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")]

SERVER = (loopback(2, 40), 5060)
PHONE = (loopback(2, 41), 5062)
DESTINATION = (loopback(2, 42), 5080)
TRUNK = "example.trunk.voipbin.net"
ACCOUNT = BaresipAccount(f"sip:alice@{TRUNK}", password="secret", outbound=f"sip:{SERVER[0]}:{SERVER[1]}")
ROLES = {PHONE[0]: "UA", SERVER[0]: "VoIPBin", DESTINATION[0]: "Destination",
         "127.0.0.1": "UA"}  # baresip's RTP leaves from the loopback route's source, whatever its SDP says


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop on a thread of its own, for the simulated destination next to the blocking drivers."""
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(5)


def _call(loop: asyncio.AbstractEventLoop, tmp_path: Path, drive: str) -> Observation:
    """baresip calls through the trunk; ``drive`` ("hold" or "dtmf") is what it does once answered."""
    pcap = tmp_path / f"{drive}.pcap"
    dest = asyncio.run_coroutine_threadsafe(Destination.start(DestinationSettings(
        listen=DESTINATION, script=(Send100(), Answer()))), loop).result(5)
    try:
        config = trunk_config(SERVER, DESTINATION, port_min=46000, port_max=46999)
        # Captured: what has this test's own block on one end. baresip's RTP from 127.0.0.1 reaches the
        # relay at SERVER, and the relay's answer leaves SERVER, so neither needs 127.0.0.1 in the filter,
        # which would also take in a parallel test's traffic between two 127.0.0.1 sockets.
        with Capture(pcap, addresses=[PHONE[0], SERVER[0], DESTINATION[0]]), ReferenceServerProcess(config) as server, \
                Baresip(PHONE, rtp_ports=(47000, 47099)) as phone:
            phone.add_account(ACCOUNT)
            phone.dial(f"sip:15550100@{TRUNK}", account=ACCOUNT.aor)
            established = phone.wait_event({"CALL_ESTABLISHED", "CALL_CLOSED"}, timeout=5)
            assert established.type == "CALL_ESTABLISHED", f"{established}\n{server.stderr_tail()}"
            time.sleep(0.5)
            if drive == "hold":
                phone.command("hold")
                time.sleep(1.0)
                phone.command("resume")
                time.sleep(0.8)
            else:
                for digit in "12#":
                    phone.command("sndcode", digit)
                    time.sleep(0.4)
                time.sleep(0.3)
            phone.hangup()
            phone.wait_event("CALL_CLOSED", timeout=5)
            assert asyncio.run_coroutine_threadsafe(dest.wait_for_calls(1, 5), loop).result(6)
    finally:
        asyncio.run_coroutine_threadsafe(dest.stop(), loop).result(5)
    decoded = decode_file(pcap, sip_ports=[SERVER[1], PHONE[1], DESTINATION[1]])
    return Observation.build(pcap, decoded, ROLES)


def test_baresip_holds_and_resumes_through_the_trunk(loop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    obs = _call(loop, tmp_path, "hold")
    hold_checks.check_hold_offer(obs, holder="UA", offered="sendonly", answered="recvonly")
    hold_checks.check_reinvite_cseq(obs)
    notes = hold_checks.check_silent_while_held(obs, holder="UA", receivers=["UA"])
    assert "while held" in notes[0]
    hold_checks.check_resumed(obs)


def test_baresip_dtmf_reaches_the_destination_as_rfc_4733_events(loop: asyncio.AbstractEventLoop,
                                                                  tmp_path: Path) -> None:
    obs = _call(loop, tmp_path, "dtmf")
    notes = dtmf_checks.check_dtmf(obs, sender="UA", receiver="Destination", digits="12#")
    assert len(notes) == 2
