"""SIPp, an independent SIP implementation, against the reference trunk server (run as
``python -m reference_server``): SIPp calls through the trunk with digest auth (``[authentication]``
answering the 407 with SIPp's own digest uri, no ``-auth_uri``) and SIPp answers as the destination. Every SIPp run has a wall-time bound, and the
server and every SIPp are stopped whatever the outcome."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.adapters.server_process import ReferenceServerProcess, trunk_config
from harness.adapters.sipp import SIPP_MISSING, SippResult, SippRun, find_sipp

from .conftest import loopback
from .sipp_support import counts, through

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

SERVER = (loopback(1, 10), 5060)
CALLER = (loopback(1, 11), 5070)
DESTINATION = (loopback(1, 12), 5080)
TRUNK = "example.trunk.voipbin.net"


@pytest.fixture
def server() -> Iterator[ReferenceServerProcess]:
    config = trunk_config(SERVER, DESTINATION, port_min=41000, port_max=42999, transports=("udp", "tcp"))
    with ReferenceServerProcess(config, log_level="WARNING") as proc:
        yield proc
        assert proc.running(), f"the reference server died: {proc.stderr_tail()}"


def calls_through(calls: int, rate: float, *, password: str = "secret", uas: SippRun | None = None,
                  transport: str = "udp") -> tuple[SippResult, SippResult]:
    """Run a SIPp destination and a SIPp caller; both results (caller first)."""
    uas = uas or SippRun.uas(DESTINATION, calls=calls, timeout=60)
    uac = SippRun.uac_auth(CALLER, SERVER, user="alice", password=password, domain=TRUNK, calls=calls,
                           rate=rate, timeout=60, recv_timeout_ms=10_000, transport=transport)  # type: ignore[arg-type]
    return through(uac, uas, calls)


def test_200_authenticated_calls_with_sipp_on_both_sides(server: ReferenceServerProcess) -> None:
    caller, callee = calls_through(200, 50)
    assert (caller.successful, caller.failed) == (200, 0), caller.describe()
    assert (callee.successful, callee.failed) == (200, 0), callee.describe()
    assert caller.exit_code == 0 and callee.exit_code == 0
    seen = counts(caller)
    assert seen.get("407 <-") == 200, f"every first INVITE is challenged once: {caller.message_counts}"
    assert caller.unexpected == 0 and callee.unexpected == 0, (caller.describe(), callee.describe())


def test_wrong_password_never_reaches_the_destination(server: ReferenceServerProcess) -> None:
    """The re-sent INVITE with a wrong digest gets a new 407, not a B leg: no SIPp call succeeds and the
    SIPp destination sees no INVITE. (SIPp 3.6 takes that second 407 for a retransmission of the first
    and times out waiting for the 200, so the failure kind is a receive timeout.)"""
    uas = SippRun.uas(DESTINATION, calls=1, timeout=10)
    uac = SippRun.uac_auth(CALLER, SERVER, user="alice", password="wrong", domain=TRUNK, calls=2, rate=10,
                           timeout=10, recv_timeout_ms=3_000)
    with uas.start() as destination:
        destination.wait_ready()
        caller = uac.run()
        callee = destination.stop(grace=6)
    assert caller.successful == 0 and caller.failed == 2, caller.describe()
    assert counts(caller).get("200 <-", 0) == 0, caller.message_counts
    assert counts(callee).get("INVITE <-", 0) == 0, callee.describe()


def test_early_media_183_with_sdp_is_relayed_to_the_sipp_caller(server: ReferenceServerProcess) -> None:
    uas = SippRun.uas(DESTINATION, scenario="uas_early_media.xml", calls=20, hold_ms=200, timeout=30)
    caller, callee = calls_through(20, 20, uas=uas)
    assert (caller.successful, caller.failed) == (20, 0), caller.describe()
    assert (callee.successful, callee.failed) == (20, 0), callee.describe()
    assert counts(caller).get("183 <-") == 20, caller.message_counts


def test_calls_from_a_tcp_caller(server: ReferenceServerProcess) -> None:
    caller, callee = calls_through(20, 20, transport="tcp")
    assert (caller.successful, caller.failed) == (20, 0), caller.describe()
    assert (callee.successful, callee.failed) == (20, 0), callee.describe()


def test_sipp_registers_extension_1001_with_digest(server: ReferenceServerProcess) -> None:
    """uac_register_auth.xml: REGISTER, 401, REGISTER with Authorization (SIPp's own digest uri,
    sip:SERVER_IP:PORT), 200."""
    result = SippRun.register(CALLER, SERVER, extension="1001", password="pass1001",
                              domain="example.registrar.voipbin.net", calls=1, timeout=10,
                              recv_timeout_ms=3_000).run()
    assert (result.successful, result.failed) == (1, 0), result.describe()
    assert counts(result).get("401 <-") == 1, result.message_counts
