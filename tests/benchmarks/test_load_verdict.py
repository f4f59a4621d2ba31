"""benchmarks/load_verdict.py: when a SIPp load step counts as clean, judged from the CSV files SIPp writes
(``-trace_stat`` statistics and ``-trace_counts`` per-message counts) for the caller (uac_auth.xml) and the
destination (uas.xml). No SIPp and no load here: the files are written as SIPp writes them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import sipp_load  # noqa: E402
from load_verdict import SideCounts, Verdict, judge, max_clean_cps  # noqa: E402

from harness.adapters.sipp_rows import read_rows  # noqa: E402

T0 = 1_796_659_700.0  # Unix time of the run's first row
STAT_COLUMNS = ("IncomingCall(C)", "OutgoingCall(C)", "CurrentCall", "SuccessfulCall(C)", "FailedCall(C)", "FailedUnexpectedMessage(C)", "OutOfCallMsgs(C)",
                "DeadCallMsgs(C)", "Retransmissions(C)", "FailedMaxUDPRetrans(C)", "WatchdogMinor(C)")
# The scenario rows of -trace_counts, as SIPp names them: (message, received?) in scenario order.
CALLER_SCENARIO = [("INVITE", False), ("100", True), ("407", True), ("ACK", False), ("INVITE", False),
                   ("100", True), ("180", True), ("183", True), ("200", True), ("ACK", False), ("Pause", None),
                   ("BYE", False), ("200", True)]
DESTINATION_SCENARIO = [("INVITE", True), ("100", False), ("180", False), ("200", False), ("INVITE", True),
                        ("BYE", True), ("ACK", True), ("BYE", True), ("200", False), ("200", False), ("ACK", True),
                        ("Pause", None)]  # uas.xml: BYE before ACK (rows 5, 9, 10) or after it (6, 7, 8)


def _count_columns(scenario: list[tuple[str, bool | None]]) -> list[str]:
    columns = []
    for index, (name, received) in enumerate(scenario):
        kinds = (("Sessions", "Unexp") if received is None else ("Recv", "Retrans", "Timeout", "Unexp") if received
                 else ("Sent", "Retrans", "Timeout"))
        columns += [f"{index}_{name}_{kind}" for kind in kinds]
    return columns


def _time(offset: float) -> str:
    return f"2026-12-07\t16:08:20.000000\t{T0 + offset:.6f}"


def write_run(folder: Path, scenario: list[tuple[str, bool | None]], rows: list[tuple[float, dict[str, int]]],
              ) -> Path:
    """A SIPp work folder holding stat.csv and <scenario>_<pid>_counts.csv, with one row per (seconds after
    T0, cumulative counters of either file); counters not named are 0."""
    folder.mkdir(parents=True, exist_ok=True)
    counts = _count_columns(scenario)
    stat_lines = ["StartTime;LastResetTime;CurrentTime;ElapsedTime(C);" + ";".join(STAT_COLUMNS) + ";"]
    count_lines = ["CurrentTime;ElapsedTime;" + ";".join(counts) + ";"]
    for offset, values in rows:
        elapsed = "00:01:00:000000"  # (not read)
        stat_lines.append(f"{_time(0)};{_time(0)};{_time(offset)};{elapsed};"
                          + ";".join(str(values.get(c, 0)) for c in STAT_COLUMNS) + ";")
        count_lines.append(f"{_time(offset)};{elapsed};" + ";".join(str(values.get(c, 0)) for c in counts) + ";")
    (folder / "stat.csv").write_text("\n".join(stat_lines) + "\n")
    (folder / "sipp_4242_counts.csv").write_text("\n".join(count_lines) + "\n")
    return folder


def _plus(*parts: dict[str, int] | None) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, value in (part or {}).items():
            total[name] = total.get(name, 0) + value
    return total


def side(folder: Path, since: float | None = None) -> SideCounts:
    """As sipp_load reads a side: its counters from the last row at or before ``since`` to its last row."""
    return sipp_load.read_side(folder, finished=True, since=since)


RATE, WARMUP, STEP = 400, 40.0, 60.0
WARM_CALLS, CALLS = RATE * 40, RATE * 60
WINDOW = T0 + WARMUP  # when sipp_load began the measured window (Unix time)
PLACED_BEFORE, OPEN_BEFORE = 15_840, 10  # the caller's last row before the window: at 39.6 s
PLACED = WARM_CALLS + CALLS - PLACED_BEFORE  # the window's calls as its rows count them (from 39.6 s)


def step(tmp_path: Path, *, caller: dict[str, int] | None = None, destination: dict[str, int] | None = None,
         caller_before: dict[str, int] | None = None, destination_before: dict[str, int] | None = None,
         elapsed: float = 60.4, step_s: float = STEP, warmup_s: float = WARMUP) -> Verdict:
    """One caller placing WARM_CALLS + CALLS calls at 400 cps from T0, its window beginning 40 s in (its
    last row before that at 39.6 s, 10 calls in progress), its last call placed ``elapsed`` s into the
    window: ``caller`` and ``destination`` add counters to a clean window (at the last row),
    ``caller_before`` and ``destination_before`` to the warm-up (from the row at 39.6 s on)."""
    total = WARM_CALLS + CALLS
    warm_uac = _plus({"OutgoingCall(C)": PLACED_BEFORE, "SuccessfulCall(C)": PLACED_BEFORE - OPEN_BEFORE,
                      "CurrentCall": OPEN_BEFORE}, caller_before)
    end = _plus({"OutgoingCall(C)": total, "SuccessfulCall(C)": total}, caller_before, caller)
    end["CurrentCall"] = (caller or {}).get("CurrentCall", 0)
    uac = write_run(tmp_path / "caller", CALLER_SCENARIO,
                    [(1, {"OutgoingCall(C)": 400, "SuccessfulCall(C)": 399, "CurrentCall": 1}),
                     (39.6, warm_uac),
                     (70, _plus(warm_uac, {"OutgoingCall(C)": 12_000, "SuccessfulCall(C)": 12_000})),
                     (WARMUP + elapsed, end), (WARMUP + elapsed + 0.1, end)])
    warm = _plus({"IncomingCall(C)": 15_830, "SuccessfulCall(C)": 14_200}, destination_before)
    uas = write_run(tmp_path / "destination", DESTINATION_SCENARIO,
                    [(0, {}), (39.6, warm),
                     (70, _plus(warm, {"IncomingCall(C)": 12_000, "SuccessfulCall(C)": 12_000})),
                     (WARMUP + elapsed + 4.5, _plus(warm, {"IncomingCall(C)": CALLS + 10,
                                                           "SuccessfulCall(C)": CALLS + 1_630}, destination))])
    placed = sipp_load.placing_seconds(read_rows(uac / "stat.csv"), WINDOW)
    return judge(calls=CALLS, step_s=step_s, warmup_s=warmup_s, elapsed_s=placed, caller=side(uac, WINDOW),
                 destination=side(uas, since=WINDOW))


def test_a_quiet_step_is_clean(tmp_path: Path) -> None:
    verdict = step(tmp_path)
    assert verdict.clean and verdict.per_definition, verdict.problems
    assert verdict.label == "clean"
    assert max_clean_cps([(400, verdict)]) == 400


@pytest.mark.parametrize(("where", "counters", "expected"), [
    ("caller", {"Retransmissions(C)": 1}, "caller: retransmissions, 1 sent"),  # an INVITE or BYE sent again
    ("caller", {"8_200_Retrans": 2}, "caller: retransmissions, 0 sent and 2 received"),  # the server's 200
    ("destination", {"Retransmissions(C)": 3}, "destination: retransmissions, 3 sent"),  # its 200, ACK late
    ("destination", {"0_INVITE_Retrans": 1}, "destination: retransmissions, 0 sent and 1 received"),
    ("destination", {"4_INVITE_Recv": 1}, "destination: retransmissions, 0 sent and 1 received"),  # absorbed
])
def test_a_retransmission_on_either_side_is_not_clean(tmp_path: Path, where: str, counters: dict[str, int],
                                                       expected: str) -> None:
    verdict = step(tmp_path, **{where: counters})  # type: ignore[arg-type]
    assert not verdict.clean
    assert any(p.startswith(expected) for p in verdict.problems), verdict.problems
    assert max_clean_cps([(400, verdict)]) == 0


def test_calls_whose_bye_overtook_the_ack_at_the_destination_are_not_retransmissions(tmp_path: Path) -> None:
    both_orders = {"0_INVITE_Recv": 900, "6_ACK_Recv": 880, "7_BYE_Recv": 880, "5_BYE_Recv": 20, "10_ACK_Recv": 20}
    verdict = step(tmp_path, destination=both_orders)
    assert verdict.clean, verdict.problems


@pytest.mark.parametrize(("where", "counters", "expected"), [
    ("caller", {"SuccessfulCall(C)": -1, "FailedCall(C)": 1, "FailedMaxUDPRetrans(C)": 1},
     "caller: 1 failed calls"),
    ("caller", {"SuccessfulCall(C)": -1}, f"caller: {PLACED + 9} of {PLACED + 10} calls succeeded"),
    ("caller", {"SuccessfulCall(C)": -1, "CurrentCall": 1}, f"caller: {PLACED + 9} of {PLACED + 10} calls succeeded"),
    ("caller", {"OutgoingCall(C)": -400, "SuccessfulCall(C)": -400}, f"caller: placed {PLACED - 400} of the "
     f"step's {CALLS} calls"),
    ("destination", {"FailedCall(C)": 2}, "destination: 2 failed calls"),
    ("caller", {"OutOfCallMsgs(C)": 1}, "caller: 1 unexpected messages"),
    ("destination", {"FailedUnexpectedMessage(C)": 1}, "destination: 1 unexpected messages"),
    ("destination", {"DeadCallMsgs(C)": 4}, "destination: 4 unexpected messages"),
    ("destination", {"6_ACK_Unexp": 1}, "destination: 1 unexpected messages"),
])
def test_failed_calls_and_unexpected_messages_on_either_side_are_not_clean(
        tmp_path: Path, where: str, counters: dict[str, int], expected: str) -> None:
    verdict = step(tmp_path, **{where: counters})  # type: ignore[arg-type]
    assert not verdict.clean and expected in verdict.problems, verdict.problems


def test_both_sides_are_judged_over_the_window_not_the_warm_up(tmp_path: Path) -> None:
    """The warm-up runs in the same SIPp processes: what they counted before the window is not judged."""
    warm_trouble = {"Retransmissions(C)": 5, "FailedCall(C)": 1, "OutOfCallMsgs(C)": 2, "0_INVITE_Retrans": 3}
    verdict = step(tmp_path, caller_before=warm_trouble, destination_before=warm_trouble)
    assert verdict.clean, verdict.problems
    assert not step(tmp_path / "after", destination={"Retransmissions(C)": 1}).clean
    assert not step(tmp_path / "caller-after", caller={"Retransmissions(C)": 1}).clean


def test_the_window_counts_the_calls_in_progress_at_its_start(tmp_path: Path) -> None:
    """The caller's window ends the calls placed in it plus those open at its first row (CurrentCall)."""
    assert step(tmp_path).clean
    caller = side(tmp_path / "caller", WINDOW)
    assert (caller.placed, caller.open_at_start, caller.open_at_end) == (PLACED, OPEN_BEFORE, 0)
    assert caller.successful == PLACED + OPEN_BEFORE
    warm = sipp_load.read_side(tmp_path / "caller", finished=True, until=WINDOW)
    assert (warm.placed, warm.successful) == (PLACED_BEFORE, PLACED_BEFORE - OPEN_BEFORE)


@pytest.mark.parametrize(("elapsed", "clean"), [(61.9, True), (62.5, False), (66.0, False)])
def test_the_rate_is_held_only_within_two_seconds_of_the_step(tmp_path: Path, elapsed: float, clean: bool) -> None:
    """``elapsed``: when (after the window began) the caller's OutgoingCall(C) first showed its last call."""
    verdict = step(tmp_path, elapsed=elapsed)
    assert verdict.clean is clean, verdict.problems
    if not clean:
        assert any(p.startswith("rate not held") for p in verdict.problems)


def test_a_step_shorter_than_60_s_never_gives_max_clean_cps(tmp_path: Path) -> None:
    short = step(tmp_path, step_s=10.0, elapsed=10.3)
    assert short.clean and not short.per_definition
    assert short.label == "clean (quick, not per definition)"
    assert max_clean_cps([(400, short)]) is None
    full = step(tmp_path / "full")
    assert max_clean_cps([(300, full), (400, short)]) is None
    short_warmup = step(tmp_path / "warm", warmup_s=20.0)
    assert not short_warmup.per_definition and max_clean_cps([(400, short_warmup)]) is None


def test_max_clean_cps_is_the_highest_rate_below_the_first_unclean_one() -> None:
    clean, dirty = Verdict(True, True), Verdict(False, True, ("caller: 3 failed calls",))
    assert max_clean_cps([(500, clean), (400, clean), (450, dirty)]) == 400
    assert max_clean_cps([(400, dirty), (450, clean)]) == 0
    assert max_clean_cps([]) is None


@pytest.mark.parametrize("argv", [["--step", "10"], ["--step-seconds", "59"], ["--warmup", "20"]])
def test_the_cli_refuses_a_step_or_warm_up_too_short_for_the_definition(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        sipp_load._parse(argv)
    assert exc.value.code == 2
    assert "--quick" in capsys.readouterr().err
    assert sipp_load._parse([*argv, "--quick"]).quick


def test_sipp_watchdog_trips_are_read_for_the_note_but_do_not_decide(tmp_path: Path) -> None:
    """SIPp counts its own stalls (WatchdogMinor/Major): sipp_load prints them as a warning that the machine
    starved the load generator; the verdict stays the definition's."""
    verdict = step(tmp_path, caller={"WatchdogMinor(C)": 2})
    assert verdict.clean
    assert side(tmp_path / "caller").watchdog_trips == 2
