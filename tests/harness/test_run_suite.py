"""`trunkcheck run` end to end: the healthy reference trunk passes every scenario and leaves a pcap and a
ladder per scenario, JUnit XML and an HTML report; a broken trunk makes the matching scenarios fail with a
readable divergence."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.ladder import parse_ladder

from ..addresses import block
from .test_capture import needs_capture

REPO = Path(__file__).resolve().parents[2]
FEATURES = REPO / "features"
pytestmark = [
    needs_capture,
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
    pytest.mark.slow,
]
SUMMARY = re.compile(
    r"^trunkcheck: (?P<total>\d+) scenarios, (?P<passed>\d+) passed, (?P<failed>\d+) failed in "
    r"(?P<seconds>[\d.]+) s — (?P<report>\S+report\.html)$",
    re.M,
)


def trunkcheck_run(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--output", str(tmp_path), "--run-id", "t",
         "--loopback", block().base, *args],  # the roles in this test process's own block
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
    )


def junit_counts(run_dir: Path) -> tuple[int, int]:
    tests = failures = 0
    for path in (run_dir / "junit").glob("*.xml"):
        root = ET.parse(path).getroot()
        tests += int(root.get("tests", 0))
        failures += int(root.get("failures", 0)) + int(root.get("errors", 0))
    return tests, failures


def junit_properties(run_dir: Path) -> set[tuple[str | None, str | None]]:
    return {(p.get("name"), p.get("value")) for path in (run_dir / "junit").glob("*.xml")
            for p in ET.parse(path).getroot().iter("property")}


def test_the_healthy_reference_trunk_passes_every_scenario(tmp_path):
    proc = trunkcheck_run(tmp_path)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    summary = SUMMARY.search(out)
    assert summary, out
    total = int(summary["total"])
    assert total >= 30 and int(summary["passed"]) == total and summary["failed"] == "0"
    progress = [line for line in out.splitlines() if line.startswith("passed ")]
    assert len(progress) == total, "one live progress line per scenario"
    run_dir = tmp_path / "t"
    pcaps = sorted(run_dir.glob("*/*.pcap"))
    assert len(pcaps) == total
    for pcap in pcaps:
        assert pcap.stat().st_size > 24, f"{pcap} is empty"
        ladder = pcap.with_name(pcap.stem + ".ladder.txt")
        if "refuses-a-trunk-certificate" in pcap.name:  # the UA refused the TLS handshake: no SIP by design
            assert ladder.read_text().startswith("(no SIP or RTP in the capture)"), ladder.read_text()
            continue
        assert parse_ladder(ladder.read_text()).steps, f"{ladder} does not parse as a ladder"
    assert junit_counts(run_dir) == (total, 0)
    report = (run_dir / "report.html").read_text()
    assert "PASSED</span>: " in report and report.count('class="scenario"') == total
    assert "The documented early media flow" in report and "early-media/the-documented-early-media-flow.pcap" in report
    assert "&lt;-- 407 Proxy Authentication Required --|" in report  # the documented ladder, escaped
    assert "Run conditions: every option at its default" in report and "TEST ONLY" not in report
    assert "conditions that differ" not in out
    assert junit_properties(run_dir) == {("trunkcheck.conditions", "defaults")}


def test_without_early_media_the_early_media_scenarios_fail_with_the_divergence(tmp_path):
    proc = trunkcheck_run(tmp_path, "--features", str(FEATURES / "early_media.feature"), "--fault", "no-early-media")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "trunkcheck: 2 scenarios, 0 passed, 2 failed" in out
    assert "FAILED" in out and "Early media: The documented early media flow" in out
    assert ("divergence: step 7 (line 98: VoIPBin -> UA 'RTP Media'): expected RTP packets VoIPBin -> UA after "
            "frame") in out
    assert "before 200 OK VoIPBin -> UA" in out
    assert ">> |<------------- RTP Media ---------------|<---------------- RTP Media ------------|" in out
    run_dir = tmp_path / "t"
    assert junit_counts(run_dir) == (2, 2)
    junit = "".join(p.read_text() for p in (run_dir / "junit").glob("*.xml"))
    assert "expected RTP packets VoIPBin -&gt; UA" in junit or "expected RTP packets VoIPBin -> UA" in junit
    assert "FAILED</span>" in (run_dir / "report.html").read_text()
    assert "  --fault no-early-media" in out and "18x relayed without SDP" in out


def verdicts(out: str) -> dict[str, str]:
    """Scenario name (outline row ids dropped) -> the progress line's verdict."""
    found = re.findall(r"^(passed|FAILED)\s+[\d.]+ s\s+Hangup cause relay: (.+?)(?: -- @[\d.]+)?$", out, re.M)
    return {name: verdict for verdict, name in found}


def test_a_trunk_turning_404_into_500_fails_the_status_relay_scenarios(tmp_path):
    """The spec's ladder (404 -> 404) is checked apart from the Q.850 Reason: a trunk that answers 500 for
    every rejection, with the destination's cause in its Reason, fails exactly the status scenarios."""
    proc = trunkcheck_run(tmp_path, "--features", str(FEATURES / "hangup_cause.feature"), "--fault", "status-rewrite")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    seen = verdicts(out)
    status = [n for n in seen if n.endswith("reaches the UA unchanged") and "500" not in n]
    assert len(status) == 6 and {seen[n] for n in status} == {"FAILED"}
    assert seen["The documented flow, the destination answers 404 Not Found"] == "FAILED"
    assert seen["The destination's 500 Server Internal Error reaches the UA unchanged"] == "passed"
    q850 = [n for n in seen if "with Q.850 cause" in n]
    assert len(q850) == 8 and {seen[n] for n in q850} == {"passed"}, "the cause is still the destination's"
    assert ("divergence: step 6 (line 113: VoIPBin -> UA '404 NOT FOUND'): expected 404 response VoIPBin -> UA, "
            "observed 500 Server Internal Error VoIPBin -> UA") in out
    assert ">> |<------------- 404 NOT FOUND -----------|" in out
    assert "the UA received 500 Server Internal Error" in out and "480 was expected" in out
    # the run says what it was, in every report
    assert re.search(r"^  --fault status-rewrite +TEST ONLY: trunkcheck's reference trunk broken on purpose "
                     r"\(every final error from the destination answered 500", out, re.M)
    assert re.search(r"^  --features features/hangup_cause\.feature +only this feature file", out, re.M)
    run_dir = tmp_path / "t"
    assert ("trunkcheck.fault", "status-rewrite") in junit_properties(run_dir)
    assert ("trunkcheck.features", "features/hangup_cause.feature") in junit_properties(run_dir)
    report = (run_dir / "report.html").read_text()
    assert "<title>TEST ONLY: trunkcheck run t: failed</title>" in report
    assert "<code>--fault status-rewrite</code>" in report


def test_a_trunk_adding_no_q850_reason_passes_the_status_relay_scenarios_only(tmp_path):
    """What a proxy does (the status relayed, no Reason of its own): the spec's ladder and every status
    pass; only the Q.850 scenarios fail, saying the Reason header is missing."""
    proc = trunkcheck_run(tmp_path, "--features", str(FEATURES / "hangup_cause.feature"), "--fault", "no-q850-reason")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    seen = verdicts(out)
    status = [n for n in seen if n.endswith("reaches the UA unchanged")]
    assert len(status) == 7 and {seen[n] for n in status} == {"passed"}
    assert seen["The documented flow, the destination answers 404 Not Found"] == "passed"
    q850 = [n for n in seen if "with Q.850 cause" in n]
    assert len(q850) == 8 and {seen[n] for n in q850} == {"FAILED"}
    assert "the 404 (frame" in out and "carries no Q.850 Reason header (RFC 3326)" in out
    assert ("trunkcheck.fault", "no-q850-reason") in junit_properties(tmp_path / "t")


def test_one_way_audio_fails_every_answered_call_even_where_the_ladder_matches(tmp_path):
    """The documented call-flow ladder has no RTP rows: only the harness's two-way media check, applied
    after every passing scenario, catches a relay that drops the destination's RTP."""
    proc = trunkcheck_run(tmp_path, "--features", str(FEATURES / "outgoing_call_basic_auth.feature"),
                          "--fault", "one-way-media")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    failed = re.findall(r"^(?:FAILED|HOOK_ERROR)\s+[\d.]+ s\s+Outgoing call with basic authentication: (.+)$", out,
                        re.M)
    assert "The documented call flow, the caller hangs up" in failed
    assert "The caller cancels while the destination rings" not in failed  # never answered: nothing to check
    assert re.search(r"one-way audio on the call answered at frame \d+, VoIPBin -> UA: the Destination sent \d+ RTP "
                     r"packets \(to VoIPBin; first at frame \d+\), none reached the UA", out)
    assert junit_counts(tmp_path / "t")[1] == len(failed)
