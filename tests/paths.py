"""Where the tests' data lives: the RFC 4475 torture messages (exact bytes, vendored from the RFC) and the
spec under test, both inside the repository so a fresh clone tests without anything beside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RFC4475_DIR = ROOT / "tests" / "data" / "rfc4475"
SPEC = ROOT / "spec" / "voipbin-trunk.txt"
