"""`trunkcheck merge`: the run folders of a suite's shards (``trunkcheck run --shard I/N``, one per CI job)
joined into one run folder with the reports a run of the whole suite writes.

    data = merge_runs([Path("shard-1"), Path("shard-2")], Path("merged"))     # MergeError: why not

What it checks first, refusing with a message naming the folders: each is a run folder with its data
(``run.json``); all were made by one trunkcheck version, from one suite (the same feature files and --tags:
harness.jobs.selection's digest) with the same options apart from --shard; no scenario ran in two of them
(the same shard given twice, or a whole run next to a shard) and none is missing (a shard left out); the
output folder is new or empty.

What it writes: each scenario's pcap, ladder and record where the shard had them (their paths in the run
folder are the same); each shard's own files (the equipment's log ...) under ``shards/shard-I-of-N/``;
``junit/`` joined (harness.reports.junit_merge) with the merged run's properties; ``run.json``, report.html
and, when the shards validated equipment, the validation report, from the joined records in the suite's
order. The merged run's time is its longest shard's (the shards of a CI matrix run side by side).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from harness.equipment import Equipment
from harness.reports.junit_merge import JUnitMergeError, merge_junit
from harness.reports.record import NOT_APPLICABLE, RUN_DATA, RunData, RunSummary, ScenarioRecord, SuiteInfo
from harness.reports.write import SKIPPED, write_reports
from harness.settings import junit_properties

__all__ = ["MergeError", "merge_runs"]

OWN_FILES = (RUN_DATA, "report.html", "validation-report.html", "validation-report.md")
SHARD_FOLDERS = ("equipment", ".jobs")  # a run's own files, not a scenario's
SHOWN_MISSING = 5


class MergeError(ValueError):
    """The run folders cannot be merged: says which and why."""


def _load(folder: Path) -> RunData:
    if not folder.is_dir():
        raise MergeError(f"{folder}: no such run folder")
    data = RunData.load(folder)
    if data is None:
        raise MergeError(f"{folder}: no readable {RUN_DATA}: not a trunkcheck run folder, or a run that ended "
                         "before its scenarios did")
    if data.suite is None or any(not r.suite_id for r in data.records):
        raise MergeError(f"{folder}: its {RUN_DATA} says nothing of the suite it ran (made by an older trunkcheck): "
                         "run the shards again with this one")
    return data


def _check_alike(runs: Sequence[tuple[Path, RunData]]) -> None:
    (first_dir, first), rest = runs[0], runs[1:]
    assert first.suite is not None
    for folder, data in rest:
        assert data.suite is not None
        if data.version != first.version:
            raise MergeError(f"{first_dir} was made by trunkcheck {first.version} and {folder} by {data.version}: "
                             "merge the shards of one run, made by one trunkcheck version")
        if data.suite.digest != first.suite.digest:
            raise MergeError(f"{first_dir} and {folder} ran different suites (the feature files or --tags differ: "
                             f"suite digest {first.suite.digest} vs {data.suite.digest}, {len(first.suite.scenarios)} "
                             f"vs {len(data.suite.scenarios)} scenarios): merge the shards of one run")
        mine = [str(c) for c in first.conditions if c.option != "--shard"]
        theirs = [str(c) for c in data.conditions if c.option != "--shard"]
        if mine != theirs:
            raise MergeError(f"{first_dir} and {folder} ran with different options ({' '.join(mine) or 'defaults'} "
                             f"vs {' '.join(theirs) or 'defaults'}): merge the shards of one run")
    counts = {data.suite.shard[1] for _, data in runs if data.suite is not None and data.suite.shard}
    if len(counts) > 1:
        raise MergeError(f"the folders are shards of different splits ({' and '.join(f'of {n}' for n in sorted(counts))}"
                         "): merge the shards of one run")
    seen: dict[tuple[int, int], Path] = {}
    for folder, data in runs:
        shard = data.suite.shard if data.suite is not None else None
        if shard is not None and shard in seen:
            raise MergeError(f"{seen[shard]} and {folder} are both shard {shard[0]}/{shard[1]}")
        if shard is not None:
            seen[shard] = folder


def _join(runs: Sequence[tuple[Path, RunData]]) -> tuple[list[tuple[Path, ScenarioRecord]], SuiteInfo]:
    """Each scenario's record with its folder, in the suite's order; MergeError on a duplicate or a gap."""
    suite = runs[0][1].suite
    assert suite is not None
    ran: dict[str, tuple[Path, ScenarioRecord]] = {}
    skipped: dict[str, tuple[Path, ScenarioRecord]] = {}
    for folder, data in runs:
        for rec in data.records:
            if rec.status in SKIPPED:
                skipped.setdefault(rec.suite_id, (folder, rec))
            elif rec.suite_id in ran:
                raise MergeError(f"scenario {rec.suite_id} ({rec.feature}: {rec.scenario}) is in both {ran[rec.suite_id][0]} "
                                 f"and {folder}: give each shard once")
            else:
                ran[rec.suite_id] = (folder, rec)
    missing = [sid for sid in suite.scenarios if sid not in ran]
    if missing:
        count = {data.suite.shard[1] for _, data in runs if data.suite is not None and data.suite.shard}
        given = sorted(data.suite.shard[0] for _, data in runs if data.suite is not None and data.suite.shard)
        hint = (f"; shards given: {', '.join(map(str, given))} of {count.pop()}" if len(count) == 1 else "")
        shown = ", ".join(missing[:SHOWN_MISSING]) + (f" and {len(missing) - SHOWN_MISSING} more"
                                                       if len(missing) > SHOWN_MISSING else "")
        raise MergeError(f"{len(missing)} of the suite's {len(suite.scenarios)} scenarios are in none of the folders "
                         f"({shown}){hint}: give every shard")
    files: dict[str, int] = {}
    for sid in suite.scenarios:
        files.setdefault(sid.rpartition(":")[0], len(files))

    def order(sid: str) -> tuple[int, str, int]:
        file, _, line = sid.rpartition(":")
        return (files.get(file, len(files)), file, int(line) if line.isdigit() else 0)

    everything = {**{k: v for k, v in skipped.items() if k not in ran}, **ran}
    return [everything[sid] for sid in sorted(everything, key=order)], SuiteInfo(suite.digest, suite.scenarios)


def _label(k: int, folder: Path, data: RunData) -> str:
    shard = data.suite.shard if data.suite is not None else None
    return f"shard-{shard[0]}-of-{shard[1]}" if shard else f"{k + 1}-{folder.name}"


def _copy(runs: Sequence[tuple[Path, RunData]], out_dir: Path) -> None:
    """Each shard's scenario files (pcaps, ladders, records: in the feature folders) to the same place in
    ``out_dir``; its other files (the equipment's log ...) under ``shards/shard-I-of-N/``; not its reports."""
    for k, (folder, data) in enumerate(runs):
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if not path.is_file() or rel.parts[0] == "junit" or (len(rel.parts) == 1 and rel.name in OWN_FILES):
                continue
            own = len(rel.parts) == 1 or rel.parts[0] in SHARD_FOLDERS
            target = out_dir / "shards" / _label(k, folder, data) / rel if own else out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def merge_runs(folders: Sequence[Path], out_dir: Path, equipment: Equipment | None = None) -> RunData:
    """Joins the shards' run ``folders`` into ``out_dir`` (see the module's description); ``equipment``: the
    equipment the shards validated, for the validation report (MergeError when they did and it is None)."""
    if len(folders) < 1:
        raise MergeError("give the run folders of the shards to merge")
    if len({f.resolve() for f in folders}) < len(folders):
        raise MergeError("a run folder is given twice: give each shard once")
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise MergeError(f"{out_dir}: exists and is not an empty folder: give a new output folder")
    if any(out_dir.resolve() == f.resolve() or f.resolve() in out_dir.resolve().parents for f in folders):
        raise MergeError(f"{out_dir}: inside a folder being merged: give another output folder")
    runs = [(folder, _load(folder)) for folder in folders]
    _check_alike(runs)
    joined, suite = _join(runs)
    first = runs[0][1]
    if first.equipment_file and equipment is None:
        raise MergeError(f"the shards validated the equipment of {first.equipment_file}: give it (--equipment FILE) "
                         "for the merged validation report")
    records = [rec for _, rec in joined]
    skipped = sum(r.status in SKIPPED for r in records)
    na = sum(r.status == NOT_APPLICABLE for r in records)
    passed = sum(r.status == "passed" for r in records)
    total = len(records) - skipped - na
    summary = RunSummary(out_dir.name, total, passed, total - passed, skipped,
                         max(data.summary.seconds for _, data in runs), not_applicable=na)
    conditions = tuple(c for c in first.conditions if c.option != "--shard")
    data = replace(first, summary=summary, records=records, conditions=conditions, suite=suite,
                   started=min(d.started for _, d in runs), ended=max(d.ended for _, d in runs))
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        merge_junit([folder / "junit" for folder, _ in runs], out_dir / "junit", order=suite.scenarios,
                    properties=junit_properties(conditions))
    except JUnitMergeError as exc:
        raise MergeError(str(exc)) from None
    _copy(runs, out_dir)
    data.save(out_dir)
    write_reports(out_dir, data, equipment)
    return data
