"""Where the conformance suite lives: ``features/``, ``steps/``, ``environment.py``, ``spec/`` (and, by
default, ``captures/``).

In a checkout (or an editable install) that is the repository, next to the ``harness`` package. Installed
as a wheel the package sits in site-packages, away from the suite: then ``$TRUNKCHECK_SUITE`` names the
folder (the Docker image sets it to its WORKDIR, /work), or the current directory is used when it holds
``features/``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SUITE_ENV", "suite_root"]

SUITE_ENV = "TRUNKCHECK_SUITE"
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


def suite_root() -> Path:
    """``$TRUNKCHECK_SUITE``, else the folder holding the harness package when the suite is there, else the
    current directory when it holds ``features/``, else the harness package's folder."""
    named = os.environ.get(SUITE_ENV)
    if named:
        return Path(named).resolve()
    if (_PACKAGE_PARENT / "features").is_dir():
        return _PACKAGE_PARENT
    cwd = Path.cwd()
    if (cwd / "features").is_dir():
        return cwd.resolve()
    return _PACKAGE_PARENT
