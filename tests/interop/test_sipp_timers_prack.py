"""SIPp scenarios of trunkcheck's own against ``trunkcheck serve``: session timers (RFC 4028: the 422 and
its Min-SE, the retry, a refresh by UPDATE relayed to a SIPp destination and answered with
Session-Expires) and reliable provisional responses (RFC 3262: a SIPp destination's reliable 183 and its
PRACK, end to end to a SIPp caller supporting 100rel, or sent by the trunk for one that does not). The
scenarios check the header fields themselves (``check_it`` regular expressions): a call fails when one is
missing. Every SIPp run has a wall-time bound; the server and every SIPp are stopped whatever the outcome."""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.adapters.server_process import ReferenceServerProcess, trunk_config
from harness.adapters.sipp import SIPP_MISSING, SippRun, find_sipp

from .conftest import loopback
from .sipp_support import counts, through

pytestmark = [pytest.mark.interop, pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

SERVER = (loopback(7, 10), 5060)
CALLER = (loopback(7, 11), 5070)
DESTINATION = (loopback(7, 12), 5080)
TRUNK = "example.trunk.voipbin.net"
SCENARIOS = Path(__file__).with_name("sipp")
CALLS = 5


@pytest.fixture
def server() -> Iterator[ReferenceServerProcess]:
    """``trunkcheck serve`` with the RFC's session timer floor (Min-SE 90 s, the embedded default)."""
    beside = Path(sys.executable).with_name("trunkcheck")
    program = [str(beside) if beside.is_file() else shutil.which("trunkcheck") or "trunkcheck", "serve"]
    config = trunk_config(SERVER, DESTINATION, port_min=46000, port_max=46999)
    with ReferenceServerProcess(config, log_level="INFO", program=program) as proc:
        yield proc
        assert proc.running(), f"trunkcheck serve died: {proc.stderr_tail()}"
        assert "Traceback" not in proc.stderr_tail(20_000)


def caller(scenario: str, tmp_path: Path) -> SippRun:
    return SippRun(SCENARIOS / scenario, CALLER, SERVER, auth_user="alice", auth_password="secret", domain=TRUNK,
                   service="15550100", calls=CALLS, rate=10, timeout=40, recv_timeout_ms=5_000, hold_ms=200,
                   extra_args=["-trace_msg", "-message_file", str(tmp_path / "caller.msg")])


def test_sipp_retries_the_422_with_its_min_se_and_its_update_refresh_is_relayed(
        server: ReferenceServerProcess, tmp_path: Path) -> None:
    uas = SippRun.uas(DESTINATION, calls=CALLS, timeout=40,
                      extra_args=["-trace_msg", "-message_file", str(tmp_path / "callee.msg")])
    result, callee = through(caller("uac_session_timer_422.xml", tmp_path), uas, CALLS)
    assert (result.successful, result.failed) == (CALLS, 0), result.describe()
    assert (callee.successful, callee.failed) == (CALLS, 0), callee.describe()
    assert counts(result).get("422 <-") == CALLS, result.message_counts
    trace = (tmp_path / "caller.msg").read_text(errors="replace")
    assert trace.count("Min-SE: 90") >= 2 * CALLS  # in each 422, and asked for in each retry
    # the refresh reached the destination (SIPp's -aa answered it, without Session-Expires: the trunk added it
    # to the 200 the caller got, which the scenario checks)
    received = (tmp_path / "callee.msg").read_text(errors="replace")
    assert len(re.findall(r"^UPDATE sip:.*\n(?:.+\n)*?Session-Expires: 90;refresher=uac", received, re.M)) == CALLS


def test_a_reliable_183_and_its_prack_go_end_to_end_between_two_sipps(
        server: ReferenceServerProcess, tmp_path: Path) -> None:
    uas = SippRun(SCENARIOS / "uas_prack.xml", DESTINATION, calls=CALLS, hold_ms=200, timeout=40)
    result, callee = through(caller("uac_prack.xml", tmp_path), uas, CALLS)
    assert (result.successful, result.failed) == (CALLS, 0), result.describe()
    assert (callee.successful, callee.failed) == (CALLS, 0), callee.describe()
    assert counts(callee).get("PRACK <-") == CALLS and counts(result).get("PRACK ->") == CALLS


def test_the_trunk_pracks_a_sipp_destination_for_a_caller_without_100rel(
        server: ReferenceServerProcess, tmp_path: Path) -> None:
    uas = SippRun(SCENARIOS / "uas_prack.xml", DESTINATION, calls=CALLS, hold_ms=200, timeout=40)
    uac = SippRun.uac_auth(CALLER, SERVER, user="alice", password="secret", domain=TRUNK, calls=CALLS, rate=10,
                           timeout=40, recv_timeout_ms=5_000,
                           extra_args=["-trace_msg", "-message_file", str(tmp_path / "caller.msg")])
    result, callee = through(uac, uas, CALLS)
    assert (result.successful, result.failed) == (CALLS, 0), result.describe()
    assert (callee.successful, callee.failed) == (CALLS, 0), callee.describe()
    assert counts(callee).get("PRACK <-") == CALLS  # from the trunk: the caller never sent one
    trace = (tmp_path / "caller.msg").read_text(errors="replace")
    assert not re.search(r"^RSeq:", trace, re.M) and not re.search(r"^PRACK ", trace, re.M)  # unreliable 183s
