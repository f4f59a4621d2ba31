"""Addresses for interop tests: each pytest process takes its own 127.N.0.0/16 (N from the process id),
so two runs on one machine (a developer and CI, or xdist workers) never fight over a port."""

from __future__ import annotations

import os

NETWORK_OCTET = 10 + os.getpid() % 240


def loopback(subnet: int, host: int) -> str:
    """``127.{per-process}.{subnet}.{host}``: always inside 127.0.0.0/8."""
    return f"127.{NETWORK_OCTET}.{subnet}.{host}"
