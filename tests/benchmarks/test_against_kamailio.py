"""benchmarks/sipp_load.py --against kamailio: the summary lines a user reads off the run (no load here;
tests/interop/test_load_smoke.py runs it against a real Kamailio)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import sipp_load  # noqa: E402
from kamailio_load import CFG, KamailioUnderLoad, ratio_line  # noqa: E402
from load_verdict import Verdict  # noqa: E402

CLEAN, DIRTY = Verdict(True, True), Verdict(False, True, ("caller: 3 failed calls",))


def test_the_ratio_is_the_reference_figure_over_kamailios() -> None:
    assert ratio_line(1000, 2500) == "ratio: 0.40 (max_clean_cps / kamailio_max_clean_cps = 1000 / 2500)"
    assert ratio_line(None, 2500).startswith("ratio: none (quick")
    assert ratio_line(1000, 0) == "ratio: none (Kamailio held none of its rates clean)"


def test_a_figure_at_the_highest_rate_tried_says_it_is_a_lower_bound() -> None:
    args = sipp_load._parse(["--rates", "800,1000"])
    assert sipp_load.summary([(800, CLEAN), (1000, DIRTY)], args) == (800, "max_clean_cps: 800")
    assert sipp_load.summary([(800, CLEAN), (1000, CLEAN)], args) == (
        1000, "max_clean_cps: 1000 (the highest rate tried: a lower bound)")
    assert sipp_load.summary([(1000, CLEAN), (1500, DIRTY)], args, prefix="kamailio_") == (
        1000, "kamailio_max_clean_cps: 1000")


def test_a_quick_run_never_prints_a_max_clean_cps() -> None:
    args = sipp_load._parse(["--quick", "--against", "kamailio"])
    quick = Verdict(True, False)
    best, line = sipp_load.summary([(10, quick), (20, quick)], args, prefix="kamailio_")
    assert best is None and line.startswith("kamailio_quick_clean_cps: 20 (quick, not per definition")


def test_against_takes_only_kamailio_and_its_own_rates(capsys: pytest.CaptureFixture[str]) -> None:
    args = sipp_load._parse(["--against", "kamailio", "--kamailio-rates", "3000,2000"])
    assert args.against == "kamailio" and args.kamailio_rates == [2000, 3000]
    with pytest.raises(SystemExit):
        sipp_load._parse(["--against", "opensips"])
    assert "invalid choice: 'opensips'" in capsys.readouterr().err


def test_kamailio_runs_the_example_config_quietly_with_room_for_the_load() -> None:
    """The benchmark's Kamailio is the example config, logging at WARNING (as the reference server does
    under load) with 512 MB of shared memory, its figures summed over its forked workers."""
    kamailio = KamailioUnderLoad(("127.0.2.10", 5060), ("127.0.2.12", 5080)) if CFG.is_file() else None
    if kamailio is None:
        pytest.fail(f"{CFG} is missing")
    try:
        command = kamailio.command
        assert command[command.index("-f") + 1] == str(CFG)
        assert command[command.index("-m") + 1] == "512"
        assert "LOG_LEVEL=0" in command and "LISTEN_IP=127.0.2.10" in command and "DEST_PORT=5080" in command
    finally:
        kamailio.close()
