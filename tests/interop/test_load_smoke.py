"""benchmarks/sipp_load.py --quick: the SIPp load benchmark runs end to end against the reference server
(short steps, a low rate cap) and ends with the ``max_clean_cps: N`` line the full run reports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.adapters.sipp import SIPP_MISSING, find_sipp

from .conftest import loopback

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.interop, pytest.mark.slow,
              pytest.mark.skipif(find_sipp() is None, reason=SIPP_MISSING)]


@pytest.mark.timeout(180)
def test_quick_load_benchmark_holds_a_clean_rate() -> None:
    addresses = ",".join(loopback(3, host) for host in (30, 31, 32))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sipp_load.py"), "--quick", "--verbose",
                           "--addresses", addresses], cwd=ROOT, capture_output=True, text=True, timeout=150)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines, proc.stderr
    match = re.fullmatch(r"max_clean_cps: (\d+)", lines[-1])
    assert match, f"last line {lines[-1]!r} is not 'max_clean_cps: N'\n{proc.stdout}"
    assert int(match.group(1)) > 0, f"not even the lowest rate ran clean:\n{proc.stdout}"
    steps = [line for line in lines if line.startswith("rate=")]
    assert steps and all("server cpu=" in s and "peak_rss=" in s for s in steps), proc.stdout
