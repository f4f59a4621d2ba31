"""Packages use each other through public names only, and sipcore's public names are its ``__all__``.

The rule (stated in sipcore's docstring): reference_server, simulator, harness and steps (with the behave
hooks in environment.py) may import a sipcore name from ``sipcore`` or from the submodule that defines it,
but only a name in ``sipcore.__all__`` (``sipcore.aio.__all__`` for the asyncio shells). No package
imports, or reaches through an imported name for, another package's underscore names; inside sipcore no
module imports another module's underscore names either. Imports are read from the source with ``ast``,
wherever they stand (function bodies and ``if TYPE_CHECKING:`` blocks included).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import sipcore
import sipcore.aio

from .test_import_graph import import_source

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sipcore", "reference_server", "simulator", "harness", "steps")
HOOKS = "environment.py"  # behave's hooks: part of the steps layer


@dataclass(frozen=True)
class Use:
    """One name one module takes from another: ``from source import name`` (``name`` None for a plain
    ``import source``), or ``bound.attr`` through a name bound by an import (``via`` says which)."""

    where: str  # path:line
    importer: str  # the importing module's package ("environment.py" counts as steps)
    source: str  # the module the name comes from, absolute
    name: str | None
    via: str = ""

    def __str__(self) -> str:
        what = f"import {self.source}" if self.name is None else f"from {self.source} import {self.name}"
        return f"{self.where}: {what}{f' (used as {self.via})' if self.via else ''}"


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def source_files(root: Path) -> Iterator[tuple[Path, str]]:
    """Each module of the packages (and the hooks file) with its dotted name."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield path, ".".join(parts)
    if (root / HOOKS).is_file():
        yield root / HOOKS, "environment"


def dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None when the chain does not start at a plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def uses_in(path: Path, module: str, root: Path) -> list[Use]:
    """Every import in ``path``, plus the attribute chains read through the names those imports bind."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    importer = "steps" if module == "environment" else module.split(".")[0]
    rel = path.relative_to(root)
    uses: list[Use] = []
    bound: dict[str, str] = {}  # local name -> dotted origin ("sipcore.digest" or "harness.checks.check_x")
    modules: set[str] = set()  # the local names a plain ``import`` bound to a module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                uses.append(Use(f"{rel}:{node.lineno}", importer, alias.name, None))
                local = alias.asname or alias.name.split(".")[0]
                bound[local] = alias.name if alias.asname else local
                modules.add(local)
        elif isinstance(node, ast.ImportFrom):
            source = import_source(package, node)
            for alias in node.names:
                uses.append(Use(f"{rel}:{node.lineno}", importer, source, alias.name))
                bound[alias.asname or alias.name] = f"{source}.{alias.name}"
    inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            chain = dotted(node)
            if chain is None or chain[0] not in bound:
                continue
            origin = bound[chain[0]]
            if chain[0] in modules and origin.split(".")[0] == "sipcore":
                # sipcore.aio.SipEndpoint: the first part that is not a module is the name taken
                parts = chain[1:]
                while len(parts) > 1 and is_module(f"{origin}.{parts[0]}"):
                    origin, parts = f"{origin}.{parts[0]}", parts[1:]
                uses.append(Use(f"{rel}:{node.lineno}", importer, origin, parts[0], via=".".join(chain)))
            elif any(is_private(p) for p in chain[1:]):
                private = next(p for p in chain[1:] if is_private(p))
                uses.append(Use(f"{rel}:{node.lineno}", importer, origin, private, via=".".join(chain)))
    return uses


def all_uses(root: Path) -> list[Use]:
    return [use for path, module in source_files(root) for use in uses_in(path, module, root)]


def private_across_packages(uses: Iterable[Use]) -> list[str]:
    """Rule (a): a package takes no underscore name (nor underscore module) from another package."""
    wrong = []
    for use in uses:
        source_package = use.source.split(".")[0]
        if source_package not in PACKAGES or source_package == use.importer:
            continue
        names = [*use.source.split("."), *([use.name] if use.name is not None else [])]
        if any(is_private(n) for n in names):
            wrong.append(str(use))
    return sorted(set(wrong))


def private_inside_sipcore(uses: Iterable[Use]) -> list[str]:
    """Inside sipcore, no module imports another module's underscore names."""
    return sorted(str(u) for u in uses if u.importer == "sipcore" and not u.via
                  and u.source.startswith("sipcore") and u.name is not None and is_private(u.name))


def is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def api_of(source: str) -> object:
    """The package whose ``__all__`` governs names taken from ``source``."""
    return sipcore.aio if source == "sipcore.aio" or source.startswith("sipcore.aio.") else sipcore


def outside_sipcore_api(uses: Iterable[Use]) -> list[str]:
    """Rule (b): every sipcore name another package takes is in the API, and is the API's object."""
    wrong = []
    for use in uses:
        if use.importer == "sipcore" or use.source.split(".")[0] != "sipcore":
            continue
        if use.name is None:
            if use.source not in ("sipcore", "sipcore.aio"):
                wrong.append(f"{use}: binds a submodule; write `from {use.source} import NAME`")
            continue
        api = api_of(use.source)
        public: list[str] = getattr(api, "__all__", [])
        if use.name not in public:
            wrong.append(f"{use}: {use.name} is not in {api.__name__}.__all__")
        elif getattr(importlib.import_module(use.source), use.name, None) is not getattr(api, use.name):
            wrong.append(f"{use}: not the object {api.__name__}.{use.name} names")
    return sorted(set(wrong))


USES = all_uses(ROOT)


def test_every_package_is_read() -> None:
    importers = {use.importer for use in USES}
    assert set(PACKAGES) <= importers
    assert any(u.source == "sipcore.message" and u.importer == "reference_server" for u in USES)
    assert any(u.where.startswith(HOOKS) for u in USES)


def test_no_package_imports_another_packages_private_names() -> None:
    wrong = private_across_packages(USES)
    assert wrong == [], "private names taken across packages (make them public):\n" + "\n".join(wrong)


def test_no_sipcore_module_imports_another_modules_private_names() -> None:
    wrong = private_inside_sipcore(USES)
    assert wrong == [], "underscore names shared between sipcore modules:\n" + "\n".join(wrong)


def test_other_packages_use_only_sipcore_public_api() -> None:
    wrong = outside_sipcore_api(USES)
    assert wrong == [], "sipcore names used outside its API (add them to __all__ or use a public one):\n" + \
        "\n".join(wrong)


@pytest.mark.parametrize("api", [sipcore, sipcore.aio], ids=lambda m: m.__name__)
def test_the_api_lists_each_name_once_and_every_name_exists(api: object) -> None:
    public: list[str] = getattr(api, "__all__", [])
    assert len(public) > 10
    assert sorted(n for n in set(public) if public.count(n) > 1) == []
    assert [n for n in public if not hasattr(api, n)] == []
    assert [n for n in public if is_private(n)] == []


def test_the_layer_overview_names_only_api_members() -> None:
    """The docstring's :class:/:func: references without a dot are names a reader can import from sipcore."""
    doc = sipcore.__doc__ or ""
    named = {part.split("`")[1] for part in doc.split(":")[1:] if part.startswith("`") and "`" in part[1:]}
    plain = {n for n in named if "." not in n and not n.startswith("~")}
    assert {"Request", "parse_message", "TransactionLayer", "Dialog", "DigestServer"} <= plain
    assert sorted(plain - set(sipcore.__all__)) == []


def test_importing_the_sans_io_core_loads_no_event_loop_or_sockets() -> None:
    """``import sipcore`` (the whole API) must not pull in the asyncio layer: the core stays sans-IO."""
    code = ("import sys, sipcore\n"
            "loaded = [m for m in ('asyncio', 'socket', 'selectors', 'sipcore.aio') if m in sys.modules]\n"
            "print(' '.join(loaded))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []


# The checks catch what they are meant to catch.


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checks_catch_private_names_across_packages(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "harness/__init__.py": "",
        "harness/a.py": "from harness.b import _same_package\n",
        "harness/b.py": "_same_package = 1\n",
        "steps/s.py": ("from harness.a import _helper\nfrom harness import b\nimport harness._hidden\n"
                       "def f():\n    return b._value\n"),
        "simulator/__init__.py": "",
        "simulator/m.py": "from harness.b import public\n",
    })
    wrong = private_across_packages(all_uses(tmp_path))
    assert len(wrong) == 3
    assert any("_helper" in w for w in wrong) and any("b._value" in w for w in wrong)
    assert any("import harness._hidden" in w for w in wrong)


def test_the_checks_catch_sipcore_modules_sharing_private_names(tmp_path: Path) -> None:
    write_tree(tmp_path, {"sipcore/__init__.py": "", "sipcore/a.py": "from .b import _fast, slow\n",
                          "sipcore/b.py": "def _fast(): ...\ndef slow(): ...\n"})
    wrong = private_inside_sipcore(all_uses(tmp_path))
    assert [w.split(": ")[1] for w in wrong] == ["from sipcore.b import _fast"]


def test_the_checks_catch_sipcore_names_outside_the_api(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "harness/__init__.py": "",
        "harness/a.py": ("from sipcore.message import Request\n"  # in the API
                         "from sipcore import parse_message\n"  # in the API
                         "from sipcore.headers import split_list\n"  # a sipcore internal
                         "from sipcore.aio.transport import Addr\n"  # in sipcore.aio's API
                         "from sipcore.aio.transport import MAX_DATAGRAM\n"  # not in it
                         "from sipcore import parser\n"  # a module, not a name
                         "import sipcore.digest\n"
                         "import sipcore\n"
                         "def f():\n"
                         "    return sipcore.aio.SipEndpoint, sipcore.Request, sipcore.rtp.RtpPacket.parse\n"),
    })
    wrong = outside_sipcore_api(all_uses(tmp_path))
    assert len(wrong) == 4, wrong
    assert any("split_list is not in sipcore.__all__" in w for w in wrong)
    assert any("MAX_DATAGRAM is not in sipcore.aio.__all__" in w for w in wrong)
    assert any("parser is not in sipcore.__all__" in w for w in wrong)
    assert any("import sipcore.digest: binds a submodule" in w for w in wrong)
