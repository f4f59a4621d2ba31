"""Every module is small enough to read in one sitting: at most 450 lines (docs/CONVENTIONS.md aims for
400). A module over the limit is split by what it does, not trimmed of its docstrings."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sipcore", "reference_server", "simulator", "harness", "steps")
MAX_LINES = 450


def line_count(path: Path) -> int:
    """Lines as ``wc -l`` and an editor count them (a last line without a newline counts too)."""
    return len(path.read_text(encoding="utf-8").splitlines())


def modules(root: Path) -> list[Path]:
    found = [p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))]
    hooks = root / "environment.py"
    return found + [hooks] if hooks.is_file() else found


def oversized(root: Path, limit: int = MAX_LINES) -> list[str]:
    """``path: N lines`` for each module over ``limit``, the largest first."""
    sizes = sorted(((line_count(p), p.relative_to(root).as_posix()) for p in modules(root)), reverse=True)
    return [f"{name}: {lines} lines" for lines, name in sizes if lines > limit]


def test_every_package_is_measured() -> None:
    measured = {p.relative_to(ROOT).parts[0] for p in modules(ROOT)}
    assert set(PACKAGES) | {"environment.py"} <= measured


def test_no_module_is_over_the_limit() -> None:
    wrong = oversized(ROOT)
    assert wrong == [], f"modules over {MAX_LINES} lines (split them):\n" + "\n".join(wrong)


def test_the_check_names_each_offender_with_its_size(tmp_path: Path) -> None:
    (tmp_path / "harness" / "sub").mkdir(parents=True)
    (tmp_path / "harness" / "sub" / "big.py").write_text("x = 1\n" * 451)
    (tmp_path / "harness" / "ok.py").write_text("x = 1\n" * 450)
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "bigger.py").write_text("x = 1\n" * 600 + "y = 2")  # no final newline
    assert oversized(tmp_path) == ["steps/bigger.py: 601 lines", "harness/sub/big.py: 451 lines"]
