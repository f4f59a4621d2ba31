"""harness/ is made of parts (subpackages), each for one thing, layered so that a part imports only the
parts below it: what a reader of docs/architecture.md is told, checked on the source (type-only imports
included, as in tests/test_import_graph.py)."""

from __future__ import annotations

import ast
import importlib

import pytest

from tests.test_import_graph import GRAPH, ROOT

HARNESS = ROOT / "harness"
TOP = {"harness.suite_root", "harness.topology", "harness.settings"}
LOW = {"harness.suite_root", "harness.topology", "harness.settings", "harness.ladder", "harness.capture",
       "harness.equipment", "harness.adapters", "harness.reports", "harness.jobs"}
# Each part, and the parts it may import: nothing imports a part above it.
MAY_IMPORT = {
    "harness.suite_root": set(),
    "harness.topology": set(),
    "harness.settings": {"harness.suite_root", "harness.topology"},
    "harness.ladder": {"harness.suite_root"},
    "harness.capture": {"harness.ladder"},
    "harness.equipment": set(),
    "harness.adapters": {"harness.equipment"},
    "harness.jobs": {"harness.settings", "harness.topology", "harness.suite_root"},
    "harness.reports": {"harness.equipment", "harness.settings", "harness.jobs"},
    "harness.docker": {"harness.equipment", "harness.adapters", "harness.reports", "harness.settings",
                       "harness.suite_root", "harness.topology"},
    "harness.suite": LOW,
    "harness.cli": LOW | {"harness.suite", "harness.docker"},
}


def part_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_harness_is_these_parts_and_a_handful_of_modules_at_its_top() -> None:
    packages = {f"harness.{p.name}" for p in HARNESS.iterdir() if (p / "__init__.py").is_file()}
    modules = {f"harness.{p.stem}" for p in HARNESS.glob("*.py") if p.stem != "__init__"}
    assert packages == set(MAY_IMPORT) - TOP
    assert modules == TOP


@pytest.mark.parametrize("part", sorted(MAY_IMPORT))
def test_a_part_imports_only_the_parts_below_it(part: str) -> None:
    wrong = sorted(f"{module} imports {target}" for module, targets in GRAPH.items()
                   if part_of(module) == part for target in targets
                   if target.startswith("harness.") and part_of(target) not in MAY_IMPORT[part] | {part})
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize("part", sorted(set(MAY_IMPORT) - TOP))
def test_each_part_says_what_it_is_for_and_exports_its_api(part: str) -> None:
    init = HARNESS / part.split(".")[1] / "__init__.py"
    tree = ast.parse(init.read_text())
    doc = ast.get_docstring(tree)
    assert doc and len(doc) > 80, f"{init}: open with a docstring saying what {part} is for"
    package = importlib.import_module(part)
    exported = getattr(package, "__all__", None)
    assert exported, f"{part} has no __all__"
    assert [name for name in exported if not hasattr(package, name)] == []
