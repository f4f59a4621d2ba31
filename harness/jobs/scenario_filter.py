"""Which of a behave run's scenarios this process runs: the before_scenario hook asks ``take(location)``
(behave's ``str(scenario.location)``) of the filter trunkcheck put in behave's user data as
``scenario_filter``; a scenario it declines is left out of this process's results and reports (another
shard, or another worker of the run, has it).

    Only({"features/x.feature:12", ...})     # --shard: the slice's scenarios
    Claims(folder, order)                      # --jobs: a queue the workers share, first come first served

Claims are files: a worker takes scenario k by creating ``folder/k`` exclusively (O_CREAT|O_EXCL), which
exactly one process can do. Every worker walks the scenarios in the suite's order, so together they take
them in that order, each worker the next one free as soon as it is done with its last: a queue, with no
process to serve it and nothing to lose if a worker dies.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Claims", "Only"]


@dataclass(frozen=True)
class Only:
    """A fixed set of scenarios (by behave location)."""

    locations: frozenset[str]

    @classmethod
    def of(cls, locations: Iterable[str]) -> Only:
        return cls(frozenset(locations))

    def take(self, location: str) -> bool:
        return location in self.locations


class Claims:
    """The scenarios of ``order`` (behave locations), each taken by exactly one of the processes sharing
    ``folder``; a location not in ``order`` is never taken."""

    def __init__(self, folder: Path, order: Sequence[str]) -> None:
        self.folder = folder
        self.index = {location: k for k, location in enumerate(order)}
        self.taken: list[str] = []  # by this process, in order

    def take(self, location: str) -> bool:
        k = self.index.get(location)
        if k is None:
            return False
        try:
            fd = os.open(self.folder / str(k), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)
        self.taken.append(location)
        return True
