"""SIPp, scripted as engineers script it, holds and resumes a call through the reference trunk
(``python -m reference_server``) with a scenario of our own (tests/interop/sipp/uac_auth_hold.xml): its
re-INVITEs (a=sendonly, then a=sendrecv) are relayed to the simulated destination, whose answers reach SIPp
with a=recvonly and a=sendrecv (SIPp checks them: a 200 without them fails its call). The capture is then
asserted with the suite's hold checks. Every wait is bounded; every process is stopped whatever happens."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.adapters.server_process import ReferenceServerProcess, trunk_config
from harness.adapters.sipp import SIPP_MISSING, SippRun, find_sipp
from harness.capture.decode import decode_file
from harness.capture.observation import Observation
from harness.capture.sniffer import Capture
from harness.suite import hold_checks
from simulator.destination import Destination
from simulator.settings import Answer, DestinationSettings, Send100, Send180

from .conftest import loopback

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING),
              pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")]

SERVER = (loopback(2, 44), 5060)
CALLER = (loopback(2, 45), 5070)
DESTINATION = (loopback(2, 46), 5080)
HOLD = Path(__file__).with_name("sipp") / "uac_auth_hold.xml"
ROLES = {CALLER[0]: "UA", SERVER[0]: "VoIPBin", DESTINATION[0]: "Destination"}


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(5)


def test_sipp_holds_and_resumes_through_the_trunk(loop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    pcap = tmp_path / "hold.pcap"
    dest = asyncio.run_coroutine_threadsafe(Destination.start(DestinationSettings(
        listen=DESTINATION, script=(Send100(), Send180(), Answer()))), loop).result(5)
    try:
        config = trunk_config(SERVER, DESTINATION, port_min=48000, port_max=48999)
        with Capture(pcap, addresses=list(ROLES)), ReferenceServerProcess(config) as server:
            result = SippRun(HOLD, CALLER, SERVER, auth_user="alice", auth_password="secret",
                             domain="example.trunk.voipbin.net", service="15550100", calls=1, rate=1, timeout=30,
                             recv_timeout_ms=5000).run()
            assert (result.successful, result.failed) == (1, 0), f"{result.describe()}\n{server.stderr_tail()}"
            assert asyncio.run_coroutine_threadsafe(dest.wait_for_calls(1, 5), loop).result(6)
        assert dest.calls[0].reinvites_answered == [200, 200]
    finally:
        asyncio.run_coroutine_threadsafe(dest.stop(), loop).result(5)
    obs = Observation.build(pcap, decode_file(pcap, sip_ports=[SERVER[1], CALLER[1], DESTINATION[1]]), ROLES)
    notes = hold_checks.check_hold_offer(obs, holder="UA", offered="sendonly", answered="recvonly")
    assert len(notes) == 2
    hold_checks.check_reinvite_cseq(obs)
