"""`trunkcheck run` without CAP_NET_RAW (capsh) and as an unprivileged user (setpriv to nobody): `--capture
auto` falls back to trunkcheck's own sockets, the scenarios pass (their ladders match), the pcaps decode in
tshark with SIP and RTP, and every report says which capture was used and what it cannot see."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..addresses import block
from .test_run_suite import SUMMARY

REPO = Path(__file__).resolve().parents[2]
FEATURES = ["outgoing_call_basic_auth.feature", "early_media.feature", "hangup_cause.feature"]
pytestmark = [
    pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed"),
    pytest.mark.slow,
]


@pytest.fixture
def out_dir() -> Iterator[Path]:
    """A folder nobody may write in (a pytest tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="trunkcheck-noroot-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _run(prefix: list[str], out: Path) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "harness.cli", "run", "--output", str(out), "--run-id", "t",
            "--loopback", block().base, *(arg for f in FEATURES for arg in ("--features", str(REPO / "features" / f)))]
    env = {**os.environ, "HOME": str(out), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([*prefix, *args], cwd=out, capture_output=True, text=True, timeout=240, env=env)


def _check(proc: subprocess.CompletedProcess[str], run_dir: Path) -> None:
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    summary = SUMMARY.search(out)
    assert summary and int(summary["total"]) >= 10 and summary["failed"] == "0", out
    assert "capturing from trunkcheck's own sockets (no CAP_NET_RAW)" in out
    assert "--capture sockets" in out and "between equipment under test and" in out
    data = json.loads((run_dir / "run.json").read_text())
    assert any(c["option"] == "--capture" and c["value"] == "sockets" for c in data["conditions"]), data["conditions"]
    assert "--capture sockets" in (run_dir / "report.html").read_text()
    pcaps = sorted(run_dir.glob("*/*.pcap"))
    assert len(pcaps) == int(summary["total"])
    early = run_dir / "early-media" / "the-documented-early-media-flow.pcap"
    proc = subprocess.run(["tshark", "-r", str(early), "-n", "-o", "rtp.heuristic_rtp:TRUE", "-T", "fields",
                           "-e", "sip.Method", "-e", "sip.Status-Code", "-e", "rtp.ssrc"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert {"INVITE", "ACK", "BYE"} <= {r[0] for r in rows}
    assert {"183", "200", "407"} <= {r[1] for r in rows}
    assert sum(1 for r in rows if r[2]) >= 4, "RTP decoded in the early media pcap"
    notfound = list(run_dir.glob("*/the-documented-flow-the-destination-answers-404-not-found.pcap"))
    assert len(notfound) == 1, sorted(p.name for p in pcaps)
    proc = subprocess.run(["tshark", "-r", str(notfound[0]), "-n", "-T", "fields", "-e", "sip.Status-Code"],
                          capture_output=True, text=True, timeout=30)
    assert proc.stdout.split().count("404") == 2, proc.stdout  # destination -> trunk -> UA


@pytest.mark.skipif(shutil.which("capsh") is None, reason="capsh not installed (libcap2-bin)")
def test_the_suite_passes_without_cap_net_raw(out_dir):
    _check(_run(["capsh", "--drop=cap_net_raw", "--", "-c", "exec \"$0\" \"$@\""], out_dir), out_dir / "t")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="becoming nobody needs root and setpriv")
def test_the_suite_passes_as_an_unprivileged_user(out_dir):
    _check(_run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"], out_dir), out_dir / "t")
