"""Equipment that never answers: each scenario fails within a bound and the run goes on. A trunk that
answers OPTIONS (so pre-flight accepts it) but nothing else; a phone operated by nobody (the manual
adapter prints what to do, waits its short bound, carries on)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..addresses import loopback
from .run_support import FEATURES, OptionsOnly, needs_run, statuses, summary, trunkcheck_run

pytestmark = [pytest.mark.interop, *needs_run]

SILENT_TRUNK = (loopback(61), 5060)
SILENT_PHONE = (loopback(71), 5060)


@pytest.fixture
def silent_trunk() -> Iterator[OptionsOnly]:
    responder = OptionsOnly(SILENT_TRUNK)
    yield responder
    responder.close()


@pytest.fixture
def silent_phone() -> Iterator[OptionsOnly]:
    responder = OptionsOnly(SILENT_PHONE)
    yield responder
    responder.close()


def test_a_trunk_that_never_answers_fails_each_scenario_within_the_bound(tmp_path: Path,
                                                                          silent_trunk: OptionsOnly) -> None:
    path = tmp_path / "silent.toml"
    path.write_text(f"""\
[equipment]
name = "Silent SBC"
role = "trunk"
address = "udp:{SILENT_TRUNK[0]}:{SILENT_TRUNK[1]}"
features = ["basic-auth"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
destination = "udp:{loopback(31)}:5080"
""")
    started = time.monotonic()
    proc = trunkcheck_run(tmp_path, "--equipment", str(path), "--response-timeout", "2",
                          "--features", str(FEATURES / "domains.feature"),
                          "--features", str(FEATURES / "early_media.feature"), timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary(proc) == {"total": 2, "passed": 0, "failed": 2, "na": 2}, proc.stdout
    assert proc.stdout.count("the equipment under test sent nothing back within 2 s") == 2, proc.stdout
    assert elapsed < 25, f"two silent scenarios took {elapsed:.1f} s"
    assert silent_trunk.options >= 1 and silent_trunk.ignored >= 2, "pre-flight OPTIONS, then the ignored INVITEs"
    seen = statuses(tmp_path / "r")
    assert seen["A call to an unknown trunk domain gets 404 and reaches nobody"] == "failed"
    assert seen["The documented early media flow"] == "n/a"
    report = (tmp_path / "r" / "validation-report.html").read_text()
    assert "Does not conform: 0 passed, 2 failed, 2 not applicable" in report
    assert report.count('<td class="Failed">Failed</td>') == 2 and "sent nothing back within 2 s" in report


def test_a_manual_phone_nobody_operates_gets_instructions_and_fails_cleanly(tmp_path: Path,
                                                                            silent_phone: OptionsOnly) -> None:
    path = tmp_path / "desk-phone.toml"
    path.write_text(f"""\
[equipment]
name = "Desk phone"
role = "ua"
address = "udp:{SILENT_PHONE[0]}:{SILENT_PHONE[1]}"
adapter = "manual"
features = ["basic-auth", "early-media"]

[equipment.trunk]
domain = "example.trunk.voipbin.net"
username = "alice"
password = "secret"
proxy = "udp:{loopback(20)}:5060"

[equipment.manual]
instructions = "Use the line of account alice."
wait = 0.5
""")
    started = time.monotonic()
    proc = trunkcheck_run(tmp_path, "--equipment", str(path), "--features", str(FEATURES / "ua_equipment.feature"),
                          timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert summary(proc) == {"total": 3, "passed": 0, "failed": 3, "na": 2}, proc.stdout
    assert proc.stdout.count(">>> Desk phone: ACTION NEEDED") == 3
    assert "Use the line of account alice." in proc.stdout and "Dial +15550100 now" in proc.stdout
    assert elapsed < 25
    log = (tmp_path / "r" / "the-ua-under-test-calls-through-the-trunk" /
           "the-ua-under-test-places-the-documented-authenticated-call.equipment.log").read_text()
    assert "Dial +15550100 now" in log
