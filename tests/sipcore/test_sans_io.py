"""The SIP core is sans-IO: no module outside sipcore/aio/ imports asyncio, socket or time (time is a
parameter, ``now``), so every state machine runs the same under a fake clock as on the wire."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIPCORE = Path(__file__).resolve().parents[2] / "sipcore"
FORBIDDEN = {"asyncio", "socket", "time", "threading", "selectors", "select"}
SANS_IO_MODULES = sorted(p for p in SIPCORE.glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_sans_io_modules_are_all_checked() -> None:
    names = {p.stem for p in SANS_IO_MODULES}
    assert {"parser", "transaction_layer", "digest_server", "dialog", "sdp", "rtp"} <= names


@pytest.mark.parametrize("path", SANS_IO_MODULES, ids=lambda p: p.name)
def test_module_does_no_io(path: Path) -> None:
    assert imported_modules(path) & FORBIDDEN == set(), f"{path.name} imports I/O or the clock"


def test_the_check_would_catch_an_import_of_time(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from __future__ import annotations\nimport os\nfrom time import monotonic\n")
    assert imported_modules(module) & FORBIDDEN == {"time"}
