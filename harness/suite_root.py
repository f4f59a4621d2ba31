"""Where the conformance suite lives: ``features/``, ``steps/``, ``environment.py``, ``spec/``,
``examples/``, and where a run's output goes by default (``captures/``).

In a checkout (or an editable install) the suite is the repository, next to the ``harness`` package, and
run folders go to its ``captures/``. An installed wheel carries the suite as the package ``trunkcheck_suite``
(pyproject.toml maps the repository root to it), laid out as behave wants it; its folder is in
site-packages, so run folders then go to ``captures/`` in the current directory. ``$TRUNKCHECK_SUITE``
names another suite folder (the Docker image sets it to its WORKDIR, /work) and its ``captures/``.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = ["SUITE_ENV", "SUITE_PACKAGE", "default_output", "installed_suite", "suite_root"]

SUITE_ENV = "TRUNKCHECK_SUITE"
SUITE_PACKAGE = "trunkcheck_suite"
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def _is_suite(folder: Path) -> bool:
    return (folder / "features").is_dir() and (folder / "environment.py").is_file()


def installed_suite() -> Path | None:
    """The folder of the installed ``trunkcheck_suite`` package when it holds the suite, else None."""
    try:
        spec = importlib.util.find_spec(SUITE_PACKAGE)
    except (ImportError, ValueError):
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folder = Path(location).resolve()
        if _is_suite(folder):
            return folder
    return None


def suite_root() -> Path:
    """``$TRUNKCHECK_SUITE``; else the checkout holding the harness package; else the current directory when
    it holds a suite (``features/`` and ``environment.py``, e.g. a checkout next to an installed wheel); else
    the installed ``trunkcheck_suite``; else the harness package's folder (where nothing is found, which a
    run reports as a missing feature folder)."""
    named = os.environ.get(SUITE_ENV)
    if named:
        return Path(named).resolve()
    if (_PACKAGE_PARENT / "features").is_dir():
        return _PACKAGE_PARENT
    cwd = Path.cwd()
    if _is_suite(cwd):
        return cwd.resolve()
    return installed_suite() or _PACKAGE_PARENT


def default_output() -> Path:
    """Where run folders go unless ``--output`` says: ``captures/`` of the suite's folder, or of the current
    directory when the suite is the installed package (site-packages is no place for a run's output)."""
    root = suite_root()
    if not os.environ.get(SUITE_ENV) and root != _PACKAGE_PARENT and root == installed_suite():
        return Path.cwd().resolve() / "captures"
    return root / "captures"
