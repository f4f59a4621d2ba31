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
        assert parse_ladder(ladder.read_text()).steps, f"{ladder} does not parse as a ladder"
    assert junit_counts(run_dir) == (total, 0)
    report = (run_dir / "report.html").read_text()
    assert "PASSED</span>: " in report and report.count('class="scenario"') == total
    assert "The documented early media flow" in report and "early-media/the-documented-early-media-flow.pcap" in report
    assert "&lt;-- 407 Proxy Authentication Required --|" in report  # the documented ladder, escaped


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


def test_without_reason_relay_the_hangup_cause_scenarios_fail(tmp_path):
    proc = trunkcheck_run(tmp_path, "--features", str(FEATURES / "hangup_cause.feature"), "--fault", "no-reason-relay")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    summary = SUMMARY.search(out)
    assert summary and summary["failed"] == summary["total"], out
    assert "divergence: step 6 (line 113: VoIPBin -> UA '404 NOT FOUND'): expected 404 response VoIPBin -> UA" in out
    assert ">> |<------------- 404 NOT FOUND -----------|" in out
    assert "the UA received 500" in out or "carries no Q.850 Reason header" in out
