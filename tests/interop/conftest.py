"""Addresses for interop tests: each pytest process has its own 127.N.0.0/16 (tests/addresses.py, claimed
with a lock file), so two runs on one machine (a developer and CI, or xdist workers) never fight over a
port."""

from __future__ import annotations

from ..addresses import block


def loopback(subnet: int, host: int) -> str:
    """``127.{per-process}.{subnet}.{host}``: always inside 127.0.0.0/8."""
    return block().ip(host, subnet)
