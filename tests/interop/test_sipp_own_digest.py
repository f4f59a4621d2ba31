"""SIPp computing its digest itself, as engineers script trunk calls: the ``[authentication]`` keyword with
no ``-auth_uri``, so the digest ``uri`` is SIPp's default ``sip:SERVER_IP:PORT`` -- the trunk's address,
not the Request-URI. Through ``trunkcheck serve`` (the CLI, a real subprocess) to a SIPp destination:
answered calls, a 404 relayed to the caller, early media, a registration; and a digest uri naming another
host gets 400 with a Warning, not a challenge loop (RFC 7616 §3.4.6). Every run is bounded and every
process stopped whatever the outcome."""

from __future__ import annotations

import re
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.adapters.server_process import ReferenceServerProcess, trunk_config
from harness.adapters.sipp import SIPP_MISSING, SippRun, find_sipp

from ..addresses import block
from .conftest import loopback
from .sipp_support import counts, through

pytestmark = [pytest.mark.interop,
              pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]

SERVER = (loopback(2, 10), 5060)
CALLER = (loopback(2, 11), 5070)
DESTINATION = (loopback(2, 12), 5080)
TRUNK = "example.trunk.voipbin.net"
REJECTED = Path(__file__).with_name("sipp") / "uac_auth_rejected.xml"
SIPP_DIGEST_URI = f'uri="sip:{SERVER[0]}:{SERVER[1]}"'  # SIPp's default: the address it sends to


def trunkcheck_serve() -> list[str]:
    """The installed ``trunkcheck`` command (beside this Python, else on PATH) with ``serve``."""
    beside = Path(sys.executable).with_name("trunkcheck")
    found = str(beside) if beside.is_file() else shutil.which("trunkcheck")
    assert found, "no trunkcheck command: install the project (make setup)"
    return [found, "serve"]


@pytest.fixture
def server() -> Iterator[ReferenceServerProcess]:
    config = trunk_config(SERVER, DESTINATION, port_min=43000, port_max=44999)
    with ReferenceServerProcess(config, log_level="INFO", program=trunkcheck_serve()) as proc:
        yield proc
        assert proc.running(), f"trunkcheck serve died: {proc.stderr_tail()}"


def caller(tmp_path: Path, calls: int, rate: float, scenario: str | Path = "uac_auth", *,
           trace: bool = False, **kw: object) -> SippRun:
    """A SIPp caller answering the 407 with its own [authentication] (no -auth_uri unless ``kw`` has one);
    ``trace`` logs every message to ``tmp_path / "caller.msg"``."""
    extra = ["-trace_msg", "-message_file", str(tmp_path / "caller.msg")] if trace else []
    run = SippRun(scenario, CALLER, SERVER, auth_user="alice", auth_password="secret", domain=TRUNK,
                  service="15550100", calls=calls, rate=rate, timeout=60, recv_timeout_ms=10_000,
                  extra_args=extra, **kw)  # type: ignore[arg-type]
    return run


def digest_uris(tmp_path: Path) -> list[str]:
    """The uri of every Proxy-Authorization / Authorization SIPp sent."""
    text = (tmp_path / "caller.msg").read_text(errors="replace")
    return re.findall(r'^(?:Proxy-)?Authorization:.*?\b(uri="[^"]*")', text, re.MULTILINE | re.IGNORECASE)


def test_sipp_default_command_line_leaves_the_digest_uri_to_sipp(tmp_path: Path) -> None:
    """The presets the tests, benchmarks and harness use run SIPp as engineers do: no -auth_uri."""
    uac = SippRun.uac_auth(CALLER, SERVER, user="alice", password="secret", domain=TRUNK)
    register = SippRun.register(CALLER, SERVER, extension="1001", password="pass1001",
                                domain="example.registrar.voipbin.net")
    for run in (uac, register, caller(tmp_path, 1, 1)):
        assert "-auth_uri" not in run.command(tmp_path, sipp="sipp"), run.command(tmp_path, sipp="sipp")


def test_200_calls_with_sipps_own_digest(server: ReferenceServerProcess, tmp_path: Path) -> None:
    result, callee = through(caller(tmp_path, 200, 50), SippRun.uas(DESTINATION, calls=200, timeout=60), 200)
    assert (result.successful, result.failed) == (200, 0), result.describe()
    assert (callee.successful, callee.failed) == (200, 0), callee.describe()
    assert result.exit_code == 0 and callee.exit_code == 0
    assert counts(result).get("407 <-") == 200, f"one challenge per call, no loop: {result.message_counts}"
    assert result.unexpected == 0 and callee.unexpected == 0, (result.describe(), callee.describe())


def test_404_from_the_destination_reaches_the_sipp_caller(server: ReferenceServerProcess, tmp_path: Path) -> None:
    uac = caller(tmp_path, 10, 10, REJECTED, trace=True)
    result, callee = through(uac, SippRun.uas(DESTINATION, reject=(404, "Not Found"), calls=10, timeout=30), 10)
    assert (result.successful, result.failed) == (10, 0), result.describe()
    assert (callee.successful, callee.failed) == (10, 0), callee.describe()
    assert counts(result).get("407 <-") == 10 and counts(result).get("404 <-") == 10, result.message_counts
    uris = digest_uris(tmp_path)
    assert len(uris) == 10 and set(uris) == {SIPP_DIGEST_URI}, f"SIPp's own digest uri, not the Request-URI: {uris}"


def test_early_media_183_with_sipps_own_digest(server: ReferenceServerProcess, tmp_path: Path) -> None:
    uas = SippRun.uas(DESTINATION, scenario="uas_early_media.xml", calls=20, hold_ms=200, timeout=30)
    result, callee = through(caller(tmp_path, 20, 20, trace=True), uas, 20)
    assert (result.successful, result.failed) == (20, 0), result.describe()
    assert (callee.successful, callee.failed) == (20, 0), callee.describe()
    assert counts(result).get("183 <-") == 20 and counts(result).get("407 <-") == 20, result.message_counts
    assert set(digest_uris(tmp_path)) == {SIPP_DIGEST_URI}


def test_sipp_registers_with_its_own_digest(server: ReferenceServerProcess, tmp_path: Path) -> None:
    run = SippRun.register(CALLER, SERVER, extension="1001", password="pass1001",
                           domain="example.registrar.voipbin.net", calls=1, timeout=10, recv_timeout_ms=3_000,
                           extra_args=["-trace_msg", "-message_file", str(tmp_path / "caller.msg")])
    result = run.run()
    assert (result.successful, result.failed) == (1, 0), result.describe()
    assert counts(result).get("401 <-") == 1, result.message_counts
    assert digest_uris(tmp_path) == [SIPP_DIGEST_URI]


def test_a_digest_uri_for_another_host_gets_400_not_a_new_challenge(server: ReferenceServerProcess,
                                                                    tmp_path: Path) -> None:
    expect_400 = tmp_path / "uac_auth_400.xml"
    expect_400.write_text(REJECTED.read_text().replace('response="404"', 'response="400"'))
    uac = caller(tmp_path, 2, 10, expect_400, trace=True, auth_uri="15550100@elsewhere.example.com")
    uas = SippRun.uas(DESTINATION, calls=1, timeout=10)
    with uas.start() as destination:
        destination.wait_ready()
        result = uac.run()
        callee = destination.stop(grace=1)
    assert (result.successful, result.failed) == (2, 0), result.describe()
    assert counts(result).get("407 <-") == 2, f"challenged once, then 400: {result.message_counts}"
    assert counts(callee).get("INVITE <-", 0) == 0, callee.describe()
    trace = (tmp_path / "caller.msg").read_text(errors="replace")
    warnings = re.findall(r"^Warning: (.*)$", trace, re.MULTILINE)
    assert warnings and all(w.startswith(f"399 {SERVER[0]}:{SERVER[1]} ") and "elsewhere.example.com" in w
                            for w in warnings), warnings
    log = server.stderr_tail(20_000)
    refused = [line for line in log.splitlines() if ": 400 " in line]
    assert len(refused) == 2 and all("Proxy-Authorization: digest uri" in line for line in refused), log
    assert "Traceback" not in log and "response=" not in log and "secret" not in log


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback (::1) on this machine")
def test_calls_and_a_registration_over_ipv6_with_sipps_own_digest(tmp_path: Path) -> None:
    """Over IPv6 SIPp writes its default digest uri without brackets (uri="sip:::1:PORT")."""
    base = 20000 + 10 * block().octet  # ::1 is shared by every run: ports per pytest process's block
    server, destination, phone = ("::1", base), ("::1", base + 2), ("::1", base + 3)
    config = trunk_config(("[::1]", base), ("[::1]", base + 2), media_address="::1", port_min=45000, port_max=45999)
    with ReferenceServerProcess(config, log_level="INFO", program=trunkcheck_serve()) as proc:
        uac = SippRun.uac_auth(("::1", base + 1), server, user="alice", password="secret", domain=TRUNK, calls=5,
                               rate=10, timeout=30, recv_timeout_ms=5_000,
                               extra_args=["-trace_msg", "-message_file", str(tmp_path / "caller.msg")])
        result, callee = through(uac, SippRun.uas(destination, calls=5, timeout=30), 5)
        assert (result.successful, result.failed) == (5, 0), result.describe() + proc.stderr_tail()
        assert (callee.successful, callee.failed) == (5, 0), callee.describe()
        assert set(digest_uris(tmp_path)) == {f'uri="sip:::1:{base}"'}
        register = SippRun.register(phone, server, extension="1001", password="pass1001",
                                    domain="example.registrar.voipbin.net", calls=1, timeout=10,
                                    recv_timeout_ms=3_000).run()
        assert (register.successful, register.failed) == (1, 0), register.describe() + proc.stderr_tail()
