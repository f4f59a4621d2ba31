"""benchmarks/overload_figures.py: the overload figures read from SIPp's response-time files (rtd 1/3: INVITE
to its 503; rtd 2: set-up of an admitted call; rtd 4: BYE to 200, a completed call) and judged against the
issue's targets. No SIPp here: the files are written as SIPp writes them (``-trace_rtt``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from overload_figures import OverloadResult, read_rtts  # noqa: E402


def _rtt_file(folder: Path, rows: list[tuple[float, int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["Date_ms;response_time_ms;rtd_no"] + [f"1796680000000;{ms};{rtd}" for ms, rtd in rows]
    (folder / "uac_auth_overload_1234_rtt.csv").write_text("\n".join(lines) + "\n")


def test_figures_from_sipps_rtt_file(tmp_path: Path) -> None:
    refused = [(float(ms), 1) for ms in range(1, 100)] + [(150.0, 3)]  # 100 refusals, one of them slow
    admitted = [(40.0, 2), (31_000.0, 2)] + [(2.0, 4)] * 2
    _rtt_file(tmp_path, refused + admitted)
    result = OverloadResult(1000, 60.0, placed=103, failed=1, rtts=read_rtts(tmp_path), cpu_percent=150.0)
    assert len(result.refused) == 100 and result.admitted == 3 and result.completed == 2
    line = result.line()
    assert "refused_503_ms p50=51 p99=150 p100=150" in line, line
    assert "completed=2 (66.7% of admitted" in line and "max_setup_ms=31000" in line
    problems = result.problems()
    assert problems == ["completed 66.7% of admitted < 95%", "a 503 took 150 ms > 100 ms"], problems


def test_a_call_past_timer_b_and_nothing_wrong(tmp_path: Path) -> None:
    _rtt_file(tmp_path / "late", [(32_500.0, 2), (3.0, 4)])
    late = OverloadResult(10, 1.0, placed=1, failed=0, rtts=read_rtts(tmp_path / "late"), cpu_percent=1.0)
    assert late.problems() == ["a call waited 32500 ms >= Timer B"]
    _rtt_file(tmp_path / "fine", [(20.0, 1), (80.0, 2), (3.0, 4)])
    fine = OverloadResult(10, 1.0, placed=2, failed=1, rtts=read_rtts(tmp_path / "fine"), cpu_percent=1.0)
    assert fine.problems() == [] and fine.line().endswith("-> meets the targets")
