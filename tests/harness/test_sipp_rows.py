"""Reading SIPp's periodic CSV rows and the counters between two instants (no SIPp needed)."""

from __future__ import annotations

from pathlib import Path

from harness.adapters.sipp_rows import counters_between, counts_file, read_rows, row_epoch

HEADER = "StartTime;LastResetTime;CurrentTime;ElapsedTime(C);SuccessfulCall(C);Retransmissions(C);ResponseTime1(C);"


def _row(epoch: float, ok: int, retrans: int) -> str:
    now = f"2026-12-07\t16:09:13.403446\t{epoch:.6f}"
    return f"{now};{now};{now};00:00:01:000000;{ok};{retrans};00:00:00:012500;"


def test_counters_between_two_instants_come_from_the_rows_either_side(tmp_path: Path) -> None:
    csv = tmp_path / "stat.csv"
    csv.write_text("\n".join([HEADER, _row(1000.0, 0, 0), _row(1001.0, 40, 1), _row(1002.0, 90, 1),
                              _row(1003.0, 130, 4)]) + "\n")
    rows = read_rows(csv)
    assert len(rows) == 4 and row_epoch(rows[1]) == 1001.0
    assert counters_between(rows)["SuccessfulCall(C)"] == 130  # the whole run
    during = counters_between(rows, since=1001.5)  # from the row written at 1001.0 on
    assert during["SuccessfulCall(C)"] == 90 and during["Retransmissions(C)"] == 3
    before = counters_between(rows, until=1001.5)
    assert before["SuccessfulCall(C)"] == 40 and before["Retransmissions(C)"] == 1
    assert "ResponseTime1(C)" not in during  # not a counter


def test_missing_files_give_no_rows_and_no_counters(tmp_path: Path) -> None:
    assert read_rows(tmp_path / "stat.csv") == [] and read_rows(None) == []
    assert counters_between([]) == {} and counters_between([], since=5.0) == {}
    assert counts_file(tmp_path) is None
    (tmp_path / "uas_123_counts.csv").write_text("CurrentTime;ElapsedTime;0_INVITE_Recv;\n")
    assert counts_file(tmp_path) == tmp_path / "uas_123_counts.csv"
    assert read_rows(counts_file(tmp_path)) == []
