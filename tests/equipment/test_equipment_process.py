"""The example trunk equipment files, started the way `trunkcheck run --equipment` will start them
([equipment.process]), pass the pre-flight checks and carry a call described only by the file."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.adapters.kamailio import KAMAILIO_MISSING, EquipmentStartError, SipProcess, find_kamailio
from harness.equipment import Equipment, EquipmentError, load_equipment, preflight
from simulator.destination import Destination, script_for
from simulator.settings import DestinationSettings, UaSettings
from simulator.ua import UserAgent

from ..addresses import block, loopback
from .kamailio_support import FAST, run


@pytest.fixture
def started(request: pytest.FixtureRequest, examples: Path) -> Iterator[tuple[Equipment, SipProcess]]:
    eq = load_equipment(examples / request.param)  # the example, moved into this test process's loopback block
    if eq.process is not None and eq.process.command[0] == "kamailio" and find_kamailio() is None:
        pytest.skip(KAMAILIO_MISSING)
    preflight(eq)  # before the start: the command exists, the destination address is free
    with SipProcess.for_equipment(eq) as proc:
        preflight(eq, started=True, timeout=2.0)  # it answers OPTIONS (and TCP, which both claim)
        yield eq, proc
        assert proc.running(), proc.log_tail()
    assert not proc.running()


async def one_call(eq: Equipment) -> tuple[int | None, list[int], int]:
    assert eq.trunk is not None and eq.trunk.destination is not None
    dest = await Destination.start(DestinationSettings(listen=eq.trunk.destination.addr, timers=FAST,
                                                       script=script_for(answer_after_ms=50)))
    ua = await UserAgent.start(UaSettings(listen=(loopback(10), 0), username=eq.trunk.username or "",
                                          password=eq.trunk.password, domain=eq.trunk.domain,
                                          target=eq.address.addr, timers=FAST))
    try:
        call = await ua.call("+15550100", hold_ms=100)
        await dest.wait_for_calls(1, 3.0)
    finally:
        await ua.stop()
        await dest.stop()
    return call.status, call.challenges, len(dest.calls)


@pytest.mark.interop
@pytest.mark.parametrize("started", ["kamailio-trunk.toml"], indirect=True)
def test_the_kamailio_equipment_file_starts_kamailio_and_carries_a_call(
        started: tuple[Equipment, SipProcess]) -> None:
    eq, proc = started
    assert run(one_call(eq)) == (200, [407], 1), proc.log_tail()


@pytest.mark.parametrize("started", ["reference-trunk.toml"], indirect=True)
def test_the_reference_trunk_runs_as_external_equipment(started: tuple[Equipment, SipProcess]) -> None:
    eq, proc = started
    assert run(one_call(eq)) == (200, [407], 1), proc.log_tail()


def test_a_process_that_never_answers_is_stopped_and_reported(tmp_path: Path) -> None:
    text = block().rewrite("""\
[equipment]
name = "mute"
role = "trunk"
address = "udp:127.0.5.70:5060"
features = ["basic-auth"]
[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
destination = "127.0.5.71:5080"
[equipment.process]
command = ["sleep", "30"]
start_timeout = 0.5
stop_timeout = 1
""")
    path = tmp_path / "mute.toml"
    path.write_text(text)
    eq = load_equipment(path)
    proc = SipProcess.for_equipment(eq)
    with pytest.raises(EquipmentStartError, match=rf"mute did not answer on udp:{re.escape(loopback(70, 5))}:5060 within 0\.5 s"):
        proc.start()
    assert proc.returncode is not None and not proc.running()
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    proc.close()
    with pytest.raises(EquipmentError, match=rf"mute\.toml:4: equipment\.address: udp:{re.escape(loopback(70, 5))}:5060 refused"):
        preflight(eq, started=True, timeout=0.5)
