"""What a --jobs run does once, before it forks its workers, so that each worker does not do it again: the
suite's step definitions are loaded (and their imports made) in the run's process, and the capture probe
leaves no thread behind (a process with one thread forks its workers; else they come from a fork server,
where nothing the run loaded is shared)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness.capture.sniffer import CaptureNotPermitted
from harness.settings import RunSettings
from harness.suite import behave_run
from harness.suite.hooks import check_capture
from harness.suite.jobs import worker_context

ROOT = Path(__file__).resolve().parents[2]


def test_steps_loaded_before_the_fork_are_not_loaded_again_by_a_worker(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    settings = RunSettings(run_id="t", features=[Path("features/domains.feature")], jobs=2)
    behave_run.load_steps(settings, tmp_path)
    assert str(ROOT / "steps") in behave_run._STEPS_LOADED
    from behave import runner_util
    from behave.step_registry import registry

    assert any("calls" in m.pattern for m in registry.steps["when"])

    def no_second_load(*args: object) -> None:
        raise AssertionError("the steps were loaded again")

    monkeypatch.setattr(runner_util, "load_step_modules", no_second_load)
    monkeypatch.setattr("behave.runner.load_step_modules", no_second_load)
    worker = behave_run._runner(behave_run._configuration(settings, tmp_path))
    with worker.path_manager:
        worker.setup_paths()
        worker.load_step_definitions()  # a worker's behave run: nothing to do


def test_the_capture_probe_leaves_no_thread_so_the_workers_fork_from_the_run(tmp_path):
    before = threading.active_count()
    try:
        check_capture("lo")
    except CaptureNotPermitted:
        pytest.skip("no CAP_NET_RAW here: the probe cannot open a packet socket")
    assert threading.active_count() == before
    if before == 1:
        assert worker_context().get_start_method() == "fork"
