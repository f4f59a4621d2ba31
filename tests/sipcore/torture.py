"""The RFC 4475 torture messages (shared test data): the manifest and the exact bytes of each message."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache

from ..paths import RFC4475_DIR


@dataclass(frozen=True)
class TortureMessage:
    file: str
    section: str
    title: str
    kind: str
    """valid, invalid, transaction, application or backcompat (RFC 4475 §3.1.1 to §3.4)."""
    expected: str

    @property
    def data(self) -> bytes:
        return load(self.file)


@cache
def manifest() -> tuple[TortureMessage, ...]:
    with (RFC4475_DIR / "MANIFEST.tsv").open(newline="", encoding="utf-8") as f:
        return tuple(TortureMessage(row["file"], row["rfc4475_section"], row["title"], row["class"],
                                    row["expected_behaviour_summary"])
                     for row in csv.DictReader(f, delimiter="\t"))


@cache
def load(file: str) -> bytes:
    return (RFC4475_DIR / file).read_bytes()
