"""Memory growth diagnostics, on when ``TRUNKCHECK_MEM_TRACE=FILE`` is set (off otherwise, no cost).

Every ``TRUNKCHECK_MEM_TRACE_INTERVAL`` seconds (default 30) it appends one block to FILE (``-`` for
stderr): the process's RSS and CPU seconds, the CPU ms per INVITE accepted since the last block, the
server's per-call tables (calls, dialogs, transactions, timer heap, nonce replay records, failed-auth
sources, registrations, relays), the GC-tracked objects by type with their change since the last block,
and the allocator's view (``sys._debugmallocstats``' arena count). ``TRUNKCHECK_MEM_TRACE_MALLOC=N``
also starts :mod:`tracemalloc` (N frames; slows the server down several times) and prints the 15 source
lines whose live allocations grew most since the first block: what a growing table is made of.

    TRUNKCHECK_MEM_TRACE=/tmp/mem.txt python -m reference_server --config server.toml

Each block walks every GC-tracked object (0.1-0.3 s at 200 cps): the event loop stalls meanwhile, and
the admission control (reference_server.admission) may answer INVITEs 503. Diagnosis only.

Something that grows past the 32 s transaction linger while the load is steady is either objects kept
past their call (a table's length, or a type count, keeps rising) or only the allocator's high water (RSS
rises while every count is flat).
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import sys
import time
import tracemalloc
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import ReferenceServer

__all__ = ["MemTrace", "server_tables"]


def server_tables(server: ReferenceServer) -> dict[str, int]:
    """The length of every table the server keeps per call, per transaction or per client."""
    tables = {"calls": len(server.b2bua.calls), "b2bua_dialogs": server.b2bua.dialog_count,
              "relays": server.relays.active, "relays_parked": server.relays.parked,
              "ports_in_use": server.relays.allocator.in_use,
              "registrations": server.registrar.binding_count,
              "auth_failure_sources": server.auth.limiter.tracked_sources,
              "nonce_records": server.auth.tracked_nonces}
    for endpoint in server.endpoints:
        layer = endpoint.layer
        if layer is not None:
            name = endpoint.transport_name.lower()
            for key, value in layer.table_sizes().items():
                tables[f"{name}_{key}"] = value
    return tables


def _rss_kb() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemTrace:
    """Writes a block of figures every ``interval`` s; :meth:`from_env` returns None unless enabled."""

    def __init__(self, path: str, server: ReferenceServer, interval: float = 30.0, malloc_frames: int = 0) -> None:
        self.path = path
        self.server = server
        self.interval = interval
        self.malloc_frames = malloc_frames
        self._handle: asyncio.TimerHandle | None = None
        self._types: Counter[str] = Counter()
        self._baseline: tracemalloc.Snapshot | None = None
        self._started = 0.0
        self._cpu = 0.0
        self._invites = 0

    @classmethod
    def from_env(cls, server: ReferenceServer) -> MemTrace | None:
        path = os.environ.get("TRUNKCHECK_MEM_TRACE")
        if not path:
            return None
        interval = float(os.environ.get("TRUNKCHECK_MEM_TRACE_INTERVAL") or 30.0)
        frames = int(os.environ.get("TRUNKCHECK_MEM_TRACE_MALLOC") or 0)
        return cls(path, server, interval, frames)

    def start(self) -> None:
        if self.malloc_frames:
            tracemalloc.start(self.malloc_frames)
        self._started = time.monotonic()
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._sample)

    def _cpu_seconds(self) -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def _sample(self) -> None:
        self._write(self.block())
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._sample)

    def block(self) -> str:
        """The figures now, as text (also what each interval writes)."""
        cpu, invites = self._cpu_seconds(), self.server.b2bua.calls_started
        calls = invites - self._invites
        per_call = f"{(cpu - self._cpu) * 1000 / calls:.3f}" if calls else "-"
        self._cpu, self._invites = cpu, invites
        lines = [f"--- t={time.monotonic() - self._started:.0f}s rss={_rss_kb() / 1024:.1f}MiB cpu={cpu:.1f}s "
                 f"calls_started={invites} cpu_ms_per_call={per_call} gc_tracked={len(gc.get_objects())} "
                 f"gc_counts={gc.get_count()}",
                 "tables: " + " ".join(f"{k}={v}" for k, v in server_tables(self.server).items())]
        types = Counter(type(o).__qualname__ for o in gc.get_objects())
        grown = ", ".join(f"{k}={v}({v - self._types.get(k, 0):+d})" for k, v in types.most_common(25))
        lines.append("tracked by type: " + grown)
        self._types = types
        if self.malloc_frames and tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)])
            if self._baseline is None:
                self._baseline = snapshot
            else:
                diffs = snapshot.compare_to(self._baseline, "traceback")[:15]
                for diff in diffs:
                    where = " <- ".join(f"{f.filename.rsplit('/', 2)[-2:][-1]}:{f.lineno}" for f in diff.traceback)
                    lines.append(f"  {diff.size_diff / 1024:+.0f} KiB {diff.count_diff:+d} blocks  {where}")
            current, peak = tracemalloc.get_traced_memory()
            lines.append(f"tracemalloc current={current / 2**20:.1f}MiB peak={peak / 2**20:.1f}MiB")
        return "\n".join(lines) + "\n"

    def _write(self, text: str) -> None:
        if self.path == "-":
            sys.stderr.write(text)
            sys.stderr.flush()
        else:
            with open(self.path, "a") as out:
                out.write(text)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._write(self.block() + "--- stopped\n")
        if tracemalloc.is_tracing():
            tracemalloc.stop()
