"""Reading what SIPp leaves behind: the statistics CSV and the scenario screen (no SIPp needed)."""

from __future__ import annotations

from pathlib import Path

from harness.adapters.sipp_stats import SippResult, parse_stat_csv, scenario_counts

UAC_SCREEN = """\
                                 Messages  Retrans   Timeout   Unexpected-Msg
      INVITE ---------->         200       3         0
         100 <----------         200       0         0         0
         407 <----------         200       0         0         0
         ACK ---------->         200       0
      INVITE ---------->         200       0         0
         200 <----------  E-RTD1 200       0         0         0
         ACK ---------->         200       0
       Pause [      0ms]         200                             0
         BYE ---------->         200       0         0
         200 <----------         199       0         0         1

------------------------------ Test Terminated --------------------------------
"""
UAS_SCREEN = """\
                                 Messages  Retrans   Timeout   Unexpected-Msg
  ----------> INVITE             2         0         0         0

  <---------- 100                2         0
  <---------- 486                2         1         0
  ----------> ACK         E-RTD1 2         0         0         0

  [   1000ms] Pause              2                             0
------------------------------ Test Terminated --------------------------------
"""


def test_client_screen_rows_say_what_sipp_sent_and_received() -> None:
    rows = scenario_counts("old screen\n" + UAC_SCREEN.replace("200       3", "1         0") + "\n" + UAC_SCREEN)
    assert rows[0] == ("INVITE ->", 200, 3, 0, 0)  # the last screen counts, not an earlier one
    assert ("407 <-", 200, 0, 0, 0) in rows
    assert rows[-1] == ("200 <-", 199, 0, 0, 1)
    assert [label for label, *_ in rows].count("INVITE ->") == 2
    assert not any("Pause" in label for label, *_ in rows)


def test_server_screen_arrows_are_read_from_sipps_side() -> None:
    assert scenario_counts(UAS_SCREEN) == [("INVITE <-", 2, 0, 0, 0), ("100 ->", 2, 0, 0, 0),
                                           ("486 ->", 2, 1, 0, 0), ("ACK <-", 2, 0, 0, 0)]
    assert scenario_counts("SIPp failed before any screen") == []


def test_stat_csv_last_line_gives_the_cumulative_counters(tmp_path: Path) -> None:
    header = "StartTime;CurrentTime;SuccessfulCall(C);FailedCall(C);Retransmissions(C);ResponseTime1(C);"
    csv = tmp_path / "stat.csv"
    csv.write_text(f"{header}\n2026-11-26\t07:43:51\t1.0;x;10;0;0;00:00:00:000000;\n"
                   f"2026-11-26\t07:43:52\t2.0;y;198;2;7;00:00:00:012500;\n")
    stats = parse_stat_csv(csv)
    assert stats["SuccessfulCall(C)"] == "198" and stats["FailedCall(C)"] == "2"
    result = SippResult(exit_code=1, successful=198, failed=2, stats=stats)
    assert result.retransmissions == 7 and result.response_time_ms == 12.5 and not result.ok
    assert parse_stat_csv(tmp_path / "missing.csv") == {}
