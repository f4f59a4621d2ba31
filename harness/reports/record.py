"""What a run's reports are written from: one record per scenario (written as ``<scenario>.json`` beside
its pcap when the scenario ends), the run's summary, and the whole run's data (``run.json``).

    record = ScenarioRecord("Early media", "The documented early media flow", "features/early_media.feature:5")
    records = load_records(run_dir)                # every <scenario>.json of a run, in the order they ran
    RunData(summary, records, conditions, started, ended).save(run_dir)     # run.json
    data = RunData.load(run_dir)                   # what every report of the run is written from
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.settings import Condition

__all__ = ["NOT_APPLICABLE", "RUN_DATA", "RunData", "RunSummary", "ScenarioRecord", "SuiteInfo", "load_records",
           "tool_version"]

RUN_DATA = "run.json"

NOT_APPLICABLE = "n/a"  # a scenario for a feature the equipment under test does not claim


@dataclass
class ScenarioRecord:
    """What the report shows of one scenario (written as `<scenario>.json` beside its pcap)."""

    feature: str
    scenario: str
    location: str
    status: str = "untested"
    seconds: float = 0.0
    tags: list[str] = field(default_factory=list)
    pcap: str = ""  # relative to the run folder
    ladder: str = ""
    expected: list[dict[str, str]] = field(default_factory=list)  # {"title", "text"}
    observed: str = ""
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    packets: int = 0
    decode_wait: float = 0.0  # seconds the first assertion waited for the decode
    explain: list[str] = field(default_factory=list)  # the simulators' own records, on failure
    equipment_log: str = ""  # the UA under test's own log for this scenario (relative to the run folder)
    suite_id: str = ""  # features/x.feature:12, the same on every machine (harness.jobs.selection)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    total: int
    passed: int
    failed: int
    skipped: int
    seconds: float
    not_applicable: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.total > 0


@dataclass(frozen=True)
class SuiteInfo:
    """What a run selected of the suite: the digest of its feature files and tags, the ids of the scenarios
    selected (before --shard) in the suite's order, and the shard this run was (I, N), if any. Shards of one
    suite have the same digest and ids; `trunkcheck merge` checks it."""

    digest: str
    scenarios: list[str]
    shard: tuple[int, int] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SuiteInfo:
        shard = data.get("shard")
        return cls(str(data["digest"]), [str(s) for s in data["scenarios"]],
                   (int(shard[0]), int(shard[1])) if shard else None)


def tool_version() -> str:
    """The installed trunkcheck's version ("unknown" from a source tree never installed)."""
    from importlib import metadata

    try:
        return metadata.version("trunkcheck")
    except metadata.PackageNotFoundError:
        return "unknown"


def _record(data: dict[str, Any]) -> ScenarioRecord:
    names = {f.name for f in fields(ScenarioRecord)}
    return ScenarioRecord(**{k: v for k, v in data.items() if k in names})


@dataclass
class RunData:
    """A run's result as data, kept in its folder as ``run.json``: its reports are written from it (by the
    run, or, in the docker topology, by the host, which adds the log of the equipment's container)."""

    summary: RunSummary
    records: Sequence[ScenarioRecord]  # in the order the scenarios ran, skipped ones included
    conditions: tuple[Condition, ...] = ()  # the run's options that differ from the defaults
    started: float = 0.0  # wall clock (time.time())
    ended: float = 0.0
    equipment_file: str | None = None  # the equipment file, as the run was given it
    suite: SuiteInfo | None = None  # what the run selected of the suite (None: a run that left no such data)
    version: str = field(default_factory=tool_version)  # trunkcheck's, when the run was made

    def save(self, run_dir: Path) -> Path:
        path = run_dir / RUN_DATA
        data = {"summary": asdict(self.summary), "records": [asdict(r) for r in self.records],
                "conditions": [asdict(c) for c in self.conditions], "started": self.started, "ended": self.ended,
                "equipment_file": self.equipment_file, "version": self.version,
                "suite": asdict(self.suite) if self.suite is not None else None}
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, run_dir: Path) -> RunData | None:
        """The run's data, or None when the run left none (it ended before its scenarios did)."""
        try:
            data = json.loads((run_dir / RUN_DATA).read_text(encoding="utf-8"))
            suite = data.get("suite")
            return cls(RunSummary(**data["summary"]), [_record(r) for r in data["records"]],
                       tuple(Condition(**c) for c in data["conditions"]), float(data["started"]),
                       float(data["ended"]), data.get("equipment_file"),
                       SuiteInfo.from_json(suite) if suite else None, str(data.get("version") or "unknown"))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def load_records(run_dir: Path) -> list[ScenarioRecord]:
    """Every `<scenario>.json` the run wrote, in the order the scenarios ran (file modification order)."""
    out = []
    paths = sorted((p for p in run_dir.glob("*/*.json")), key=lambda p: p.stat().st_mtime_ns)
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "scenario" in data:
            out.append(_record(data))
    return out
