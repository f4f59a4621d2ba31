"""Which scenarios a run has, in the order a sequential run takes them, and how ``--shard`` deals them out.

    suite = list_scenarios(features, tags)      # every scenario of the run's feature files, behave's order
    suite.selected                              # those the --tags expressions select
    shard_of(suite.selected, 2, 4)              # --shard 2/4
    parse_shard("2/4")                          # (2, 4); ValueError saying what is wrong

The order is behave's: feature files in the order given (a folder: its files sorted by path), then the
scenarios of each file top to bottom, an outline's example rows in turn. ``--shard I/N`` deals the selected
scenarios out round-robin in that order: the k-th (counting from 0) goes to shard ``k % N + 1``. So the N
shards are disjoint, their union is the run without --shard, each gets every N-th scenario of each feature
(long and short ones alike), and the slice depends only on the feature files and the tags: every CI job of a
matrix computes the same one. Adding a scenario moves the ones after it to other shards; that is fine, the
shards of one commit are what is merged (``trunkcheck merge`` checks they ran the same suite).

A scenario's id is its feature file relative to the suite root (the checkout, ``$TRUNKCHECK_SUITE``, the
installed suite) and its line: ``features/early_media.feature:12`` (an outline row: the row's line), the same
on every machine. The suite's digest hashes the feature files (ids and contents) and the tag expressions.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.settings import REPO

__all__ = ["OUTLINE_NAMES", "Suite", "SuiteScenario", "list_scenarios", "parse_shard", "scenario_id", "shard_of"]

OUTLINE_NAMES = "{name} -- @{row.id}"
"""How an outline's example rows are named (behave's ``scenario_outline_annotation_schema``)."""


@dataclass(frozen=True)
class SuiteScenario:
    id: str  # features/early_media.feature:12: relative to the suite root, the same on every machine
    location: str  # as behave names it in this process (str(scenario.location))
    feature: str
    name: str
    selected: bool  # by the run's --tags


@dataclass(frozen=True)
class Suite:
    scenarios: tuple[SuiteScenario, ...]  # every scenario of the feature files, selected or not
    digest: str  # of the feature files and the tag expressions

    @property
    def selected(self) -> tuple[SuiteScenario, ...]:
        return tuple(s for s in self.scenarios if s.selected)


def scenario_id(location: str, root: Path = REPO) -> str:
    """``path:line`` with the path relative to ``root`` when inside it (else as behave gave it)."""
    path, sep, line = location.rpartition(":")
    if not sep:
        return location
    try:
        relative = Path(os.path.abspath(path)).relative_to(root.resolve()).as_posix()
    except ValueError:
        relative = path
    return f"{relative}:{line}"


def list_scenarios(features: Sequence[Path], tags: Sequence[str] = ()) -> Suite:
    """Every scenario of ``features`` (files or folders) in behave's order, each marked whether the tag
    expressions select it; ValueError naming a feature file that cannot be read or parsed."""
    from behave.configuration import Configuration
    from behave.parser import ParserError
    from behave.runner_util import collect_feature_locations, parse_features

    args = [str(p) for p in features]
    for expr in tags:
        args += ["--tags", expr]
    config = Configuration(args, load_config=False,  # type: ignore[no-untyped-call]  # behave: no annotations
                           scenario_outline_annotation_schema=OUTLINE_NAMES)
    try:
        locations = collect_feature_locations(config.paths)  # type: ignore[no-untyped-call]
        parsed = parse_features(locations, language=getattr(config, "lang", None))  # type: ignore[no-untyped-call]
    except (OSError, ParserError) as exc:
        raise ValueError(f"cannot read the feature files: {exc}") from None
    digest = hashlib.sha256()
    for expr in tags:
        digest.update(f"tags {expr}\n".encode())
    out: list[SuiteScenario] = []
    for feature in parsed:
        if feature is None:
            continue
        path = Path(str(feature.filename))
        digest.update(f"file {scenario_id(f'{path}:0').rpartition(':')[0]}\n".encode())
        digest.update(path.read_bytes())
        for scenario in feature.walk_scenarios():
            location = str(scenario.location)
            out.append(SuiteScenario(scenario_id(location), location, feature.name, scenario.name,
                                     bool(scenario.should_run_with_tags(config.tag_expression))))
    return Suite(tuple(out), digest.hexdigest()[:16])


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4): shard 2 of 4 (1 <= I <= N); ValueError saying what is wrong."""
    index, sep, count = text.strip().partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or n < 1 or not 1 <= i <= n:
        raise ValueError(f"--shard {text!r}: give I/N, shard I of N with 1 <= I <= N (e.g. 2/4)")
    return i, n


def shard_of(scenarios: Sequence[SuiteScenario], index: int, count: int) -> list[SuiteScenario]:
    """Shard ``index`` of ``count`` (1-based): the scenarios at positions index-1, index-1+count, ..."""
    return list(scenarios[index - 1::count])
