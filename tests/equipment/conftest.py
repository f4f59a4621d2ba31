"""Fixtures of the equipment tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .run_support import examples_in_block


@pytest.fixture(scope="session")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/equipment/ moved into this test process's own loopback block (run_support.examples_in_block)."""
    return examples_in_block(tmp_path_factory.mktemp("examples"))
