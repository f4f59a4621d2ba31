"""SIPp, an independent SIP implementation, plays the two destinations of a trunk with failover against the
reference trunk server (``python -m reference_server``): the first answers every INVITE 503 with
Retry-After: 30 (tests/interop/sipp/uas_503_retry_after.xml), the second answers (the shipped uas.xml), and
a SIPp caller places three authenticated calls. The first call reaches the second destination after the
503; the next two go there directly, since the first destination asked not to be tried for 30 s."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.adapters.server_process import ReferenceServerProcess, trunk_config
from harness.adapters.sipp import SIPP_MISSING, SippRun, find_sipp

from .conftest import loopback
from .sipp_support import counts

pytestmark = [pytest.mark.interop, pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

SERVER = (loopback(1, 20), 5060)
CALLER = (loopback(1, 21), 5070)
FIRST = (loopback(1, 22), 5080)
SECOND = (loopback(1, 23), 5080)
TRUNK = "example.trunk.voipbin.net"
OVERLOADED = Path(__file__).parent / "sipp" / "uas_503_retry_after.xml"


def test_a_503_with_retry_after_moves_calls_to_the_next_destination_and_keeps_them_there() -> None:
    config = trunk_config(SERVER, FIRST, port_min=43000, port_max=43999)
    one = f'destination = "sip:{FIRST[0]}:{FIRST[1]}"'
    assert one in config
    config = config.replace(one, f'destination = ["sip:{FIRST[0]}:{FIRST[1]}", "sip:{SECOND[0]}:{SECOND[1]}"]')
    with ReferenceServerProcess(config, log_level="INFO") as server:
        first = SippRun(OVERLOADED, FIRST, None, calls=3, timeout=30)
        second = SippRun.uas(SECOND, calls=3, timeout=30)
        uac = SippRun.uac_auth(CALLER, SERVER, user="alice", password="secret", domain=TRUNK, calls=3, rate=2,
                               timeout=30, recv_timeout_ms=10_000)
        with first.start() as overloaded, second.start() as answering:
            overloaded.wait_ready()
            answering.wait_ready()
            caller = uac.run()
            callee = answering.wait(timeout=15) if caller.successful == 3 else answering.stop(grace=6)
            refused = overloaded.stop(grace=2)
        assert server.running(), server.stderr_tail()
    assert (caller.successful, caller.failed) == (3, 0), caller.describe()
    assert counts(caller).get("503 <-", 0) == 0, f"the caller saw the 503: {caller.message_counts}"
    assert (callee.successful, callee.failed) == (3, 0), callee.describe()
    assert counts(refused).get("INVITE <-") == 1, f"the first destination was tried again: {refused.describe()}"
