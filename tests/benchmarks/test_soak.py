"""benchmarks/soak.py: its checkpoints and its definition of flat (RSS growth under 5 % and CPU per call
within 10 % from the middle checkpoint to the last), and its refusal of a run too short to be the soak.
The soak itself (minutes of SIPp load) is run by hand; see its docstring."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from soak import Checkpoint, checkpoints_for, flat_verdict, main  # noqa: E402


def _at(minute: float, rss_mib: float, cpu_ms: float) -> Checkpoint:
    return Checkpoint(minute, 12_000 * int(minute), 12_000 * int(minute), 0, 0, int(rss_mib * 1024), cpu_ms, "1.0")


def test_the_soak_checks_minutes_1_5_and_10_and_a_quick_run_1_25_and_2() -> None:
    assert checkpoints_for(10, quick=False) == [1.0, 5.0, 10.0]
    assert checkpoints_for(2, quick=True) == [1.25, 2.0]  # both CPU windows (30 s) after the 32 s linger fills


def test_flat_means_rss_up_less_than_5_percent_and_cpu_per_call_within_10_percent() -> None:
    rss_flat, cpu_flat, text = flat_verdict(_at(5, 170, 1.80), _at(10, 174, 1.95))
    assert rss_flat and cpu_flat and "rss_flat: yes" in text and "+2.4 %" in text
    rss_flat, cpu_flat, text = flat_verdict(_at(5, 140, 1.80), _at(10, 170, 2.00))  # the outside run's creep
    assert not rss_flat and not cpu_flat
    assert "rss_flat: NO (minute 5 -> 10: +21.4 %" in text and "cpu_per_call_flat: NO (minute 5 -> 10: +11.1 %" in text


def test_a_short_run_must_say_it_is_quick(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--minutes", "1"])
    assert "use at least 2, or --quick" in capsys.readouterr().err
