"""baresip, a real softphone, against the reference trunk server (run as ``python -m reference_server``):
it registers as extension 1001 (401 challenge, digest), is then reachable through the registrar, and
places an authenticated call through the trunk (407 challenge) to a SIPp destination that answers.
Every wait is bounded; the server, baresip and SIPp are stopped whatever the outcome."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.adapters.baresip import BARESIP_MISSING, Baresip, BaresipAccount, find_baresip
from harness.adapters.server_process import ReferenceServerProcess, trunk_config
from harness.adapters.sipp import SIPP_MISSING, SippRun, find_sipp

from .conftest import loopback

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(find_baresip() is None, reason=BARESIP_MISSING),
              pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

SERVER = (loopback(2, 20), 5060)
PHONE = (loopback(2, 21), 5062)
DESTINATION = (loopback(2, 22), 5080)
CALLER = (loopback(2, 23), 5070)
OUTBOUND = f"sip:{SERVER[0]}:{SERVER[1]}"
REGISTRAR = "example.registrar.voipbin.net"
TRUNK = "example.trunk.voipbin.net"
EXTENSION_1001 = BaresipAccount(f"sip:1001@{REGISTRAR}", password="pass1001", outbound=OUTBOUND, regint=600,
                                answermode="auto")
TRUNK_ALICE = BaresipAccount(f"sip:alice@{TRUNK}", password="secret", outbound=OUTBOUND)


@pytest.fixture
def server() -> Iterator[ReferenceServerProcess]:
    config = trunk_config(SERVER, DESTINATION, port_min=44000, port_max=44999)
    with ReferenceServerProcess(config, log_level="INFO") as proc:
        yield proc
        assert proc.running(), f"the reference server died: {proc.stderr_tail()}"


@pytest.fixture
def phone(server: ReferenceServerProcess) -> Iterator[Baresip]:
    with Baresip(PHONE, rtp_ports=(45000, 45099)) as bs:
        yield bs


def test_baresip_registers_then_calls_through_the_trunk(server: ReferenceServerProcess, phone: Baresip) -> None:
    phone.add_account(EXTENSION_1001)
    registered = phone.wait_event({"REGISTER_OK", "REGISTER_FAIL"}, timeout=5)
    assert registered.type == "REGISTER_OK", registered
    assert registered.param.startswith("200"), registered
    assert "OK" in phone.command("reginfo")

    phone.add_account(TRUNK_ALICE)
    with SippRun.uas(DESTINATION, calls=1, timeout=20).start() as destination:
        destination.wait_ready()
        phone.dial(f"sip:15550100@{TRUNK}", account=TRUNK_ALICE.aor)
        established = phone.wait_event({"CALL_ESTABLISHED", "CALL_CLOSED"}, timeout=5)
        assert established.type == "CALL_ESTABLISHED", f"{established}\n{server.stderr_tail()}"
        assert established.direction == "outgoing" and established.accountaor == TRUNK_ALICE.aor
        phone.hangup()
        closed = phone.wait_event("CALL_CLOSED", timeout=5)
        callee = destination.wait(timeout=10)
    assert closed.call_id == established.call_id
    assert (callee.successful, callee.failed) == (1, 0), callee.describe()
    challenges = [line for line in server.stderr_tail(20_000).splitlines() if established.call_id in line and "407" in line]
    assert challenges, "the server logged no 407 challenge for baresip's trunk call"


def test_registered_baresip_is_reached_through_the_registrar(server: ReferenceServerProcess, phone: Baresip) -> None:
    """SIPp as extension 1002 calls 1001: the server finds baresip's binding, baresip answers (auto)."""
    phone.add_account(EXTENSION_1001)
    assert phone.wait_event({"REGISTER_OK", "REGISTER_FAIL"}, timeout=5).type == "REGISTER_OK"
    caller = SippRun.uac_auth(CALLER, SERVER, user="1002", password="pass1002", domain=REGISTRAR, number="1001",
                              calls=1, rate=1, hold_ms=500, timeout=15, recv_timeout_ms=5000).run()
    assert (caller.successful, caller.failed) == (1, 0), f"{caller.describe()}\n{server.stderr_tail()}"
    answered = phone.wait_event({"CALL_ESTABLISHED", "CALL_CLOSED"}, timeout=5)
    assert answered.type == "CALL_ESTABLISHED" and answered.direction == "incoming", answered
    closed = phone.wait_event("CALL_CLOSED", timeout=5)
    assert closed.call_id == answered.call_id
