"""The layering holds: no import cycle inside or between trunkcheck's packages, type-only imports included.

The graph is read from the source with ``ast`` (every ``import`` and ``from ... import``, whether under
``if TYPE_CHECKING:`` or not), so a cycle fails here before it fails anyone at import time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sipcore", "reference_server", "simulator", "harness", "steps")
# Packages whose internal cycles are being taken apart (issue 12); each leaves this set when it is acyclic.
NOT_YET_ACYCLIC: frozenset[str] = frozenset()
# Nothing below imports from above: each package may import only the packages listed for it.
ALLOWED_DEPENDENCIES = {
    "sipcore": set(),
    "reference_server": {"sipcore"},
    "simulator": {"sipcore"},
    "harness": {"sipcore", "reference_server", "simulator"},
    "steps": {"sipcore", "reference_server", "simulator", "harness"},
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def import_source(package: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` in ``package`` reads from (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The known modules that ``name`` (at ``path``) imports: ``from pkg import mod`` counts as importing
    ``pkg.mod`` when that is a module, else ``pkg`` itself."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            source = import_source(package, node)
            for alias in node.names:
                target = f"{source}.{alias.name}"
                if target in known:
                    edges.add(target)
                elif source in known:
                    edges.add(source)
    edges.discard(name)
    return edges


def import_graph(root: Path, packages: Iterable[str]) -> dict[str, set[str]]:
    known = modules(root, packages)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, pending = work[-1]
            if pending:
                child = pending.pop()
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, sorted(graph.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


GRAPH = import_graph(ROOT, PACKAGES)


def test_every_package_is_read() -> None:
    assert {"sipcore.parser", "reference_server.server", "simulator.ua", "steps.call_steps"} <= set(GRAPH)
    assert any(target.startswith("sipcore.") for target in GRAPH["reference_server.server"])


@pytest.mark.parametrize("package", [p for p in PACKAGES if p not in NOT_YET_ACYCLIC])
def test_no_import_cycle(package: str) -> None:
    inside = [c for c in cycles(GRAPH) if any(m.split(".")[0] == package for m in c)]
    assert inside == [], f"import cycles in {package}: " + "; ".join(" <-> ".join(c) for c in inside)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_runs_back_up(package: str) -> None:
    wrong = sorted(f"{module} imports {target}" for module, targets in GRAPH.items()
                   if module.split(".")[0] == package for target in targets
                   if target.split(".")[0] not in ALLOWED_DEPENDENCIES[package] | {package})
    assert wrong == [], "\n".join(wrong)


def test_the_check_finds_a_cycle_through_a_type_only_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import B\n")
    (package / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n")
    (package / "c.py").write_text("from . import a\n")
    assert cycles(import_graph(tmp_path, ["pkg"])) == [["pkg.a", "pkg.b"]]
