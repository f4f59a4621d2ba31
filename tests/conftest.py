"""Session-wide test settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .addresses import LoopbackBlock, block


@pytest.fixture(scope="session", autouse=True)
def _sipp_folders_under_pytest_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests drive SIPp into unclean runs on purpose (wrong passwords, stopped UAS); the folders SIPp keeps
    for those go under pytest's own temporary base (which pytest prunes), not loose in /tmp."""
    folder = tmp_path_factory.mktemp("sipp")
    previous = os.environ.get("TRUNKCHECK_SIPP_TMPDIR")
    os.environ["TRUNKCHECK_SIPP_TMPDIR"] = str(folder)
    yield
    if previous is None:
        os.environ.pop("TRUNKCHECK_SIPP_TMPDIR", None)
    else:
        os.environ["TRUNKCHECK_SIPP_TMPDIR"] = previous


@pytest.fixture(scope="session")
def loopback_block() -> LoopbackBlock:
    """This test process's own 127.N.0.0/16 (tests/addresses.py): bind, send and capture only there."""
    return block()
