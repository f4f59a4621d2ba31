"""What a run's reports are written from: one record per scenario (written as ``<scenario>.json`` beside
its pcap when the scenario ends) and the run's summary.

    record = ScenarioRecord("Early media", "The documented early media flow", "features/early_media.feature:5")
    records = load_records(run_dir)                # every <scenario>.json of a run, in the order they ran
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

__all__ = ["NOT_APPLICABLE", "RunSummary", "ScenarioRecord", "load_records"]

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


def load_records(run_dir: Path) -> list[ScenarioRecord]:
    """Every `<scenario>.json` the run wrote, in the order the scenarios ran (file modification order)."""
    names = {f.name for f in fields(ScenarioRecord)}
    out = []
    paths = sorted((p for p in run_dir.glob("*/*.json")), key=lambda p: p.stat().st_mtime_ns)
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "scenario" in data:
            out.append(ScenarioRecord(**{k: v for k, v in data.items() if k in names}))
    return out
