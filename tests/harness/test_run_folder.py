"""Where a run's results go and how messages show paths: one rule for `trunkcheck run` and its docker
topology (harness.settings)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.settings import RunSettings, display_path, free_run_id, new_run_id


def test_a_run_never_lands_in_a_folder_holding_earlier_results(tmp_path: Path) -> None:
    (tmp_path / "ci-7").mkdir()
    (tmp_path / "ci-7" / "report.html").write_text("an earlier run")
    (tmp_path / "ci-7-2").mkdir()
    assert free_run_id(tmp_path, "ci-7") == "ci-7-2"  # an empty folder is taken
    (tmp_path / "ci-7-2" / "run.json").write_text("{}")
    assert free_run_id(tmp_path, "ci-7") == "ci-7-3"
    assert free_run_id(tmp_path, "ci-8") == "ci-8"


def test_a_run_is_named_by_when_it_started() -> None:
    assert re.fullmatch(r"\d{8}-\d{6}", new_run_id())
    assert re.fullmatch(r"\d{8}-\d{6}", RunSettings().run_id)


def test_paths_are_shown_relative_to_the_working_directory_when_inside_it(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "captures" / "ci-7" / "report.html") == "captures/ci-7/report.html"
    assert display_path(Path("/nonexistent/trunkcheck/x.pcap")) == "/nonexistent/trunkcheck/x.pcap"
    assert display_path(tmp_path / "eq.toml", base=tmp_path.parent) == f"{tmp_path.name}/eq.toml"
