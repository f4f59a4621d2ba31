"""Every row SIPp wrote to one of its periodic CSV files, and its counters between two instants of a run.

Two files qualify: the statistics (``-trace_stat -stf FILE -fd N``: cumulative counters end in ``(C)``)
and the per-message counts (``-trace_counts``: ``<scenario>_<pid>_counts.csv`` in SIPp's working
directory, columns ``<index>_<message>_<Sent|Recv|Retrans|Timeout|Unexp>``, all cumulative). Both have a
header line, then one row per ``-fd`` period and one or two more at exit; fields are separated by ``;``
and ``CurrentTime`` reads ``DATE<tab>TIME<tab>EPOCH``. What happened between two instants is the last
row's counters minus those of the last row written at or before the earlier instant, so a window is as
fine as ``-fd`` (1 s by default in :class:`harness.adapters.sipp.SippRun`).

    rows = read_rows(workdir / "stat.csv")
    during = counters_between(rows, since=step_started_epoch)   # {"FailedCall(C)": 0, ...}
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["counters_between", "counts_file", "read_rows", "row_at_or_before", "row_epoch", "row_int"]

Row = dict[str, str]


def read_rows(path: Path | None) -> list[Row]:
    """All data rows of a SIPp ``;``-separated CSV, oldest first; [] when the file is absent or empty."""
    if path is None:
        return []
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except FileNotFoundError:
        return []
    if len(lines) < 2:
        return []
    header = lines[0].split(";")
    return [{name: value for name, value in zip(header, line.split(";"), strict=False) if name}
            for line in lines[1:]]


def counts_file(workdir: Path) -> Path | None:
    """The ``-trace_counts`` file SIPp wrote in ``workdir`` (its name holds SIPp's pid), or None."""
    found = sorted(workdir.glob("*_counts.csv"))
    return found[-1] if found else None


def row_epoch(row: Row) -> float | None:
    """When SIPp wrote the row (Unix time, from the last tab-separated part of ``CurrentTime``)."""
    try:
        return float(row.get("CurrentTime", "").split("\t")[-1])
    except ValueError:
        return None


def _integers(row: Row | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, value in (row or {}).items():
        try:
            out[name] = int(value)
        except ValueError:
            continue
    return out


def row_int(row: Row | None, name: str) -> int:
    """One integer column of a row (a gauge such as ``CurrentCall`` or a counter); 0 if absent."""
    try:
        return int((row or {}).get(name, ""))
    except ValueError:
        return 0


def row_at_or_before(rows: Sequence[Row], instant: float) -> Row | None:
    """The last row SIPp wrote at or before ``instant`` (Unix time); None if it wrote none by then."""
    chosen = None
    for row in rows:
        epoch = row_epoch(row)
        if epoch is not None and epoch <= instant:
            chosen = row
    return chosen


def counters_between(rows: Sequence[Row], since: float | None = None, until: float | None = None) -> dict[str, int]:
    """The integer counters counted after ``since`` and up to ``until`` (Unix times; None: the run's start,
    its last row). Only cumulative counters (``(C)``, every counts-file column) mean something here."""
    end = rows[-1] if until is None and rows else (row_at_or_before(rows, until) if until is not None else None)
    start = row_at_or_before(rows, since) if since is not None else None
    last, first = _integers(end), _integers(start)
    return {name: value - first.get(name, 0) for name, value in last.items()}
