"""Several processes' JUnit XML joined into one run's: the workers of a ``--jobs`` run, or the shards that
``trunkcheck merge`` joins. behave writes one file per feature file (``TESTS-<feature>.xml``, one
``<testsuite>``); the joined folder has one per feature file too, each ``<testsuite>`` with the testcases of
every source in the suite's order, its counts (tests, failures, errors, skipped, time) recounted from them,
and the run's ``<properties>``.

    merge_junit([run_dir / ".jobs/w0/junit", ...], run_dir / "junit", order=ids, properties=props)

A testcase is matched by where its scenario is (its ``file`` and ``line`` attributes, harness.reports.junit):
when two sources have one (a scenario every worker skipped because --tags did not select it), the one that
ran wins, else the first.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["JUnitMergeError", "merge_junit"]

SKIPPED_TAGS = ("skipped",)


class JUnitMergeError(ValueError):
    """A JUnit file that cannot be read: names it."""


def _key(case: ET.Element) -> str:
    file, line = case.get("file"), case.get("line")
    if file and line:
        return f"{file}:{line}"
    return f"{case.get('classname')}::{case.get('name')}"


def _ran(case: ET.Element) -> bool:
    return case.find("skipped") is None


def _sort_key(key: str, order: Mapping[str, int]) -> tuple[int, str, int]:
    if key in order:
        return (order[key], "", 0)
    file, _, line = key.rpartition(":")
    return (len(order), file, int(line) if line.isdigit() else 0)


def _read(path: Path) -> ET.Element:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise JUnitMergeError(f"{path}: not readable JUnit XML: {exc}") from None
    if root.tag != "testsuite":
        raise JUnitMergeError(f"{path}: expected a <testsuite> (behave's JUnit XML), found <{root.tag}>")
    return root


def merge_junit(sources: Sequence[Path], target: Path, *, order: Sequence[str] = (),
                properties: Sequence[tuple[str, str]] | None = None) -> list[Path]:
    """Joins the ``TESTS-*.xml`` of each folder in ``sources`` into ``target`` (created); ``order``: scenario
    ids (``file:line``) in the suite's order; ``properties``: the joined run's (default: the first source's).
    Returns the files written, sorted. JUnitMergeError names a file that is not behave's JUnit XML."""
    rank = {key: k for k, key in enumerate(order)}
    suites: dict[str, ET.Element] = {}
    cases: dict[str, dict[str, ET.Element]] = {}
    for folder in sources:
        for path in sorted(folder.glob("TESTS-*.xml")):
            root = _read(path)
            suites.setdefault(path.name, root)
            found = cases.setdefault(path.name, {})
            for case in root.findall("testcase"):
                key = _key(case)
                if key not in found or (_ran(case) and not _ran(found[key])):
                    found[key] = case
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, first in sorted(suites.items()):
        suite = ET.Element("testsuite", {k: v for k, v in first.attrib.items()
                                         if k not in ("tests", "failures", "errors", "skipped", "time")})
        props = ET.SubElement(suite, "properties")
        given = first.find("properties")
        for prop_name, value in properties if properties is not None else \
                [(p.get("name", ""), p.get("value", "")) for p in (given if given is not None else [])]:
            ET.SubElement(props, "property", name=prop_name, value=value)
        chosen = [case for _, case in sorted(cases[name].items(), key=lambda kv: _sort_key(kv[0], rank))]
        suite.extend(chosen)
        suite.set("tests", str(len(chosen)))
        suite.set("errors", str(sum(c.find("error") is not None for c in chosen)))
        suite.set("failures", str(sum(c.find("failure") is not None for c in chosen)))
        suite.set("skipped", str(sum(c.find("skipped") is not None for c in chosen)))
        suite.set("time", str(round(sum(float(c.get("time") or 0) for c in chosen), 6)))
        path = target / name
        ET.ElementTree(suite).write(path, encoding="UTF-8", xml_declaration=True)
        written.append(path)
    return written
