"""`trunkcheck merge`: shards' run folders joined into one (records in the suite's order, counts, JUnit,
files), and the folders it refuses to join, with a message naming them (no traffic: folders made here)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from harness.cli.merge import main as merge_main
from harness.reports.junit_merge import JUnitMergeError, merge_junit
from harness.reports.merge_runs import MergeError, merge_runs
from harness.reports.record import RunData, RunSummary, ScenarioRecord, SuiteInfo
from harness.settings import Condition

SUITE = ["features/a.feature:5", "features/a.feature:9", "features/b.feature:4", "features/b.feature:8",
         "features/b.feature:12"]
STATUS = {"features/a.feature:9": "failed"}
SHARD = Condition("--shard", "1/2", "only shard 1 of 2")


def _case(sid: str, status: str) -> str:
    file, _, line = sid.rpartition(":")
    inner = {"failed": "<failure message='x'/>", "skipped": "<skipped/>"}.get(status, "")
    return (f'<testcase classname="{file}" name="scenario {line}" status="{status}" time="0.5" file="{file}" '
            f'line="{line}">{inner}</testcase>')


def make_run(folder: Path, ids: list[str], *, shard: tuple[int, int] | None, digest: str = "d1",
             version: str = "1.0", conditions: tuple[Condition, ...] = (), skipped: tuple[str, ...] = ()) -> Path:
    records = []
    for sid in sorted(ids + list(skipped), key=lambda s: (s.split(":")[0], int(s.split(":")[1]))):
        status = "skipped" if sid in skipped else STATUS.get(sid, "passed")
        file, _, line = sid.rpartition(":")
        stem = f"{Path(file).stem}/scenario-{line}"
        records.append(ScenarioRecord(Path(file).stem, f"scenario {line}", sid, status=status, suite_id=sid,
                                      pcap=f"{stem}.pcap" if status != "skipped" else "",
                                      ladder=f"{stem}.ladder.txt" if status != "skipped" else ""))
        if status != "skipped":
            (folder / stem).parent.mkdir(parents=True, exist_ok=True)
            for suffix in (".pcap", ".ladder.txt", ".json"):
                (folder / f"{stem}{suffix}").write_text(f"{sid}{suffix}")
    (folder / "junit").mkdir(parents=True, exist_ok=True)
    for name in ("a", "b"):
        mine = [r for r in records if r.suite_id.startswith(f"features/{name}.")]
        cases = "".join(_case(r.suite_id, r.status) for r in mine)
        (folder / "junit" / f"TESTS-features.{name}.xml").write_text(
            f'<testsuite name="features.{name}" tests="{len(mine)}" errors="0" failures="0" skipped="0" time="1">'
            f'<properties><property name="trunkcheck.shard" value="x"/></properties>{cases}</testsuite>')
    (folder / "equipment").mkdir()
    (folder / "equipment" / "log.txt").write_text(f"log of {folder.name}")
    conditions = conditions + ((replace(SHARD, value=f"{shard[0]}/{shard[1]}"),) if shard else ())
    summary = RunSummary(folder.name, len(ids), 0, 0, len(skipped), 3.0 + len(ids))
    RunData(summary, records, conditions, 100.0, 110.0, None, SuiteInfo(digest, SUITE, shard), version).save(folder)
    return folder


@pytest.fixture
def shards(tmp_path):
    return [make_run(tmp_path / "one", SUITE[0::2], shard=(1, 2)), make_run(tmp_path / "two", SUITE[1::2], shard=(2, 2))]


def test_shards_merge_into_the_whole_run(shards, tmp_path):
    out = tmp_path / "merged"
    data = merge_runs(list(reversed(shards)), out)
    assert [r.suite_id for r in data.records] == SUITE, "the suite's order, whichever shard came first"
    assert (data.summary.total, data.summary.passed, data.summary.failed) == (5, 4, 1)
    assert data.summary.seconds == 6.0, "the longest shard's time"
    assert data.suite is not None and data.suite.shard is None
    assert not any(c.option == "--shard" for c in data.conditions)
    for sid in SUITE:
        file, _, line = sid.rpartition(":")
        assert (out / f"{Path(file).stem}/scenario-{line}.pcap").read_text() == f"{sid}.pcap"
    assert (out / "shards" / "shard-1-of-2" / "equipment" / "log.txt").read_text() == "log of one"
    assert (out / "shards" / "shard-2-of-2" / "equipment" / "log.txt").read_text() == "log of two"
    assert (out / "report.html").is_file() and RunData.load(out) is not None
    b = ET.parse(out / "junit" / "TESTS-features.b.xml").getroot()
    assert [c.get("line") for c in b.iter("testcase")] == ["4", "8", "12"]
    assert (b.get("tests"), b.get("failures")) == ("3", "0")
    a = ET.parse(out / "junit" / "TESTS-features.a.xml").getroot()
    assert (a.get("tests"), a.get("failures"), a.get("skipped")) == ("2", "1", "0")
    assert [(p.get("name"), p.get("value")) for p in a.iter("property")] == [("trunkcheck.conditions", "defaults")]


def test_scenarios_no_shard_selected_are_listed_once(tmp_path):
    extra = ("features/a.feature:20",)
    runs = [make_run(tmp_path / "one", SUITE[0::2], shard=(1, 2), skipped=extra),
            make_run(tmp_path / "two", SUITE[1::2], shard=(2, 2), skipped=extra)]
    data = merge_runs(runs, tmp_path / "merged")
    assert [r.suite_id for r in data.records] == SUITE[:2] + list(extra) + SUITE[2:]
    assert data.summary.skipped == 1 and data.summary.total == 5


@pytest.mark.parametrize("second, words", [
    (dict(version="2.0"), "trunkcheck 1.0 and"),
    (dict(digest="d2"), "different suites"),
    (dict(conditions=(Condition("--tags", "@x", "only @x"),)), "different options"),
    (dict(shard=(1, 2), ids=SUITE[1::2]), "both shard 1/2"),
    (dict(shard=(2, 3)), "different splits"),
    (dict(shard=None, ids=SUITE), "is in both"),
])
def test_runs_that_do_not_belong_together_are_refused(tmp_path, second, words):
    first = make_run(tmp_path / "one", SUITE[0::2], shard=(1, 2))
    args = {"ids": SUITE[1::2], "shard": (2, 2), **second}
    other = make_run(tmp_path / "two", args.pop("ids"), **args)
    with pytest.raises(MergeError, match=words):
        merge_runs([first, other], tmp_path / "merged")
    assert not (tmp_path / "merged").exists(), "nothing written"


def test_a_missing_shard_is_named(shards, tmp_path):
    with pytest.raises(MergeError, match=r"2 of the suite's 5 scenarios are in none.*shards given: 1 of 2"):
        merge_runs(shards[:1], tmp_path / "merged")


def test_folders_that_are_not_runs_or_a_used_output_are_refused(shards, tmp_path):
    with pytest.raises(MergeError, match="no such run folder"):
        merge_runs([shards[0], tmp_path / "nope"], tmp_path / "m1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MergeError, match="no readable run.json"):
        merge_runs([shards[0], tmp_path / "empty"], tmp_path / "m2")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("x")
    with pytest.raises(MergeError, match="not an empty folder"):
        merge_runs(shards, tmp_path / "used")
    with pytest.raises(MergeError, match="given twice"):
        merge_runs([shards[0], shards[0]], tmp_path / "m3")


def test_a_run_of_an_older_trunkcheck_is_refused(shards, tmp_path):
    data = RunData.load(shards[1])
    assert data is not None
    RunData(data.summary, data.records, data.conditions, 0, 0, None, None).save(shards[1])
    with pytest.raises(MergeError, match="older trunkcheck"):
        merge_runs(shards, tmp_path / "merged")


def test_the_command_says_why_and_exits_2(shards, tmp_path, capsys):
    assert merge_main([str(shards[0]), "-o", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trunkcheck merge: ") and "give every shard" in err and "Traceback" not in err
    assert merge_main([str(s) for s in shards] + ["-o", str(tmp_path / "m")]) == 1  # one scenario failed
    assert "5 scenarios, 4 passed, 1 failed" in capsys.readouterr().out


def test_junit_that_is_not_behaves_is_named(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "TESTS-x.xml").write_text("<html>")
    with pytest.raises(JUnitMergeError, match="TESTS-x.xml"):
        merge_junit([tmp_path / "in"], tmp_path / "out")
