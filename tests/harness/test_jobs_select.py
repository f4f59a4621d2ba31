"""--shard's slices of the suite, --jobs' refusals, and the artifact names a --jobs run plans (no traffic)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from harness.cli.run import main as run_main
from harness.jobs.refusal import jobs_refusal, worker_roles
from harness.jobs.scenario_filter import Claims, Only
from harness.jobs.selection import SuiteScenario, list_scenarios, parse_shard, scenario_id, shard_of
from harness.settings import FEATURES, REPO, RunSettings
from harness.suite.jobs import plan_stems
from harness.suite.runner import run_suite
from harness.topology import RoleAddresses


@pytest.fixture(scope="module")
def suite():
    return list_scenarios([FEATURES])


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_the_shards_are_disjoint_and_make_up_the_suite(suite, count):
    shards = [shard_of(suite.selected, i, count) for i in range(1, count + 1)]
    ids = [s.id for shard in shards for s in shard]
    assert len(ids) == len(set(ids)), "no scenario in two shards"
    assert sorted(ids) == sorted(s.id for s in suite.selected)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1, "round-robin: shard sizes differ by one at most"


def test_a_shard_is_the_same_every_time_and_every_nth_scenario(suite):
    again = list_scenarios([FEATURES])
    assert [s.id for s in shard_of(again.selected, 2, 3)] == [s.id for s in shard_of(suite.selected, 2, 3)]
    assert again.digest == suite.digest
    assert [s.id for s in shard_of(suite.selected, 2, 3)] == [s.id for s in suite.selected[1::3]]


def test_scenario_ids_are_relative_to_the_suite_root(suite, monkeypatch, tmp_path):
    assert all(s.id.startswith("features/") and s.id.rpartition(":")[2].isdigit() for s in suite.scenarios)
    assert len({s.id for s in suite.scenarios}) == len(suite.scenarios), "an outline row has an id of its own"
    monkeypatch.chdir(tmp_path)  # behave names locations relative to the working directory; ids do not change
    assert [s.id for s in list_scenarios([FEATURES]).scenarios] == [s.id for s in suite.scenarios]
    assert scenario_id(f"{REPO}/features/x.feature:12") == "features/x.feature:12"


def test_tags_select_and_change_the_digest(suite):
    tagged = list_scenarios([FEATURES], ["@registration"])
    assert 0 < len(tagged.selected) < len(suite.selected)
    assert "features/registration.feature" in {s.id.partition(":")[0] for s in tagged.selected}
    assert "features/early_media.feature" not in {s.id.partition(":")[0] for s in tagged.selected}
    assert tagged.digest != suite.digest
    assert [s.id for s in tagged.scenarios] == [s.id for s in suite.scenarios], "unselected ones are still listed"


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "1/0", "-1/2", ""])
def test_a_bad_shard_is_refused_naming_the_option(text):
    with pytest.raises(ValueError, match="--shard"):
        parse_shard(text)
    err = io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(err):
        assert run_main([f"--shard={text}", "--output", "/nonexistent"]) == 2
    assert "--shard" in err.getvalue() and "Traceback" not in err.getvalue()


def test_parse_shard_reads_i_of_n():
    assert parse_shard("2/4") == (2, 4) and parse_shard(" 1/1 ") == (1, 1)


def test_jobs_with_equipment_under_test_are_refused_before_anything_runs(tmp_path):
    settings = RunSettings(jobs=2, equipment=REPO / "examples" / "equipment" / "kamailio-trunk.toml",
                           output=tmp_path)
    why = jobs_refusal(settings)
    assert why is not None and "--equipment" in why and "--shard" in why
    err = io.StringIO()
    result = run_suite(settings, io.StringIO(), err)
    assert result.exit_code == 2 and "fixed addresses" in err.getvalue()
    assert not any(tmp_path.iterdir()), "nothing was run or written"


@pytest.mark.parametrize("changes, words", [
    ({"jobs": 0}, "1 <= N"), ({"jobs": 99}, "1 <= N"), ({"topology": "docker"}, "docker"),
    ({"interface": "eth1"}, "--interface"), ({"roles": RoleAddresses.loopback("127.255.254.0")}, "--loopback"),
])
def test_jobs_that_cannot_work_are_refused_saying_why(changes, words):
    why = jobs_refusal(replace(RunSettings(jobs=4), **changes))
    assert why is not None and words in why


def test_one_job_and_a_roomy_block_are_fine():
    assert jobs_refusal(RunSettings()) is None and jobs_refusal(RunSettings(jobs=4)) is None


def test_each_worker_takes_the_next_loopback_block():
    roles = RoleAddresses.loopback("127.42.0.0")
    assert worker_roles(roles, 0) == roles
    moved = worker_roles(roles, 2)
    assert moved["UA"] == "127.42.2.10" and moved["VoIPBin"] == "127.42.2.20"
    assert {role: ip.rsplit(".", 1)[1] for role, ip in moved.items()} == \
        {role: ip.rsplit(".", 1)[1] for role, ip in roles.items()}, "the same hosts, in the next /24 but one"
    assert all(ip.startswith("127.42.2.") for ip in moved.values())


def test_planned_stems_follow_a_sequential_runs_names_with_duplicates_numbered():
    scenarios = [SuiteScenario(f"f:{k}", f"f:{k}", "Early media", name, True)
                 for k, name in enumerate(["The flow", "The flow", "Other", "The flow"])]
    assert list(plan_stems(scenarios).values()) == ["early-media/the-flow", "early-media/the-flow-2",
                                                    "early-media/other", "early-media/the-flow-3"]


def test_claims_give_each_scenario_to_exactly_one_taker(tmp_path):
    order = ["a:1", "a:2", "b:3"]
    first, second = Claims(tmp_path, order), Claims(tmp_path, order)
    assert first.take("a:1") and not second.take("a:1")
    assert second.take("a:2") and not first.take("a:2")
    assert not first.take("elsewhere:9"), "only the run's scenarios"
    assert first.taken == ["a:1"] and second.taken == ["a:2"]
    assert Only.of(["x:1"]).take("x:1") and not Only.of(["x:1"]).take("x:2")


def test_the_features_folder_exists_for_these_tests():
    assert Path(FEATURES, "registration.feature").is_file()


def test_a_scenario_whose_worker_died_is_an_error_saying_so(tmp_path):
    from types import SimpleNamespace

    from harness.jobs.selection import Suite
    from harness.reports.record import ScenarioRecord
    from harness.suite.jobs import _records

    scenarios = [SuiteScenario(f"features/x.feature:{k}", f"x.feature:{k}", "X", f"s{k}", k != 4) for k in (1, 2, 3, 4)]
    suite = Suite(tuple(scenarios), "d")
    mine = [s for s in scenarios if s.selected]
    (tmp_path / "1").write_text("4242\n")  # worker 1 (pid 4242) took the second scenario, then died
    workers = {object(): (0, SimpleNamespace(pid=4141)), object(): (1, SimpleNamespace(pid=4242))}
    done = {"x.feature:1": ScenarioRecord("X", "s1", "x.feature:1", status="passed")}
    out = _records(suite, mine, done, {1: "ended (exit status -9) without its results"}, tmp_path, workers)
    assert [(r.scenario, r.status) for r in out] == [("s1", "passed"), ("s2", "error"), ("s3", "error"),
                                                     ("s4", "skipped")]
    assert "worker 1 took this scenario and stopped before it ended: ended (exit status -9)" in (out[1].error or "")
    assert "no worker took this scenario" in (out[2].error or "")
    assert [r.suite_id for r in out] == [s.id for s in scenarios]
