"""Event-loop pause diagnostics, on when ``TRUNKCHECK_LOOP_STATS=FILE`` is set (off otherwise, no cost).

Records how long each cyclic-GC collection takes (``gc.callbacks``, per generation) and how late a
callback scheduled every 10 ms actually runs (the event-loop lag). At server stop the distributions
(count, p50, p99, max in ms) and the largest pauses are appended to FILE (``-`` for stderr).
``TRUNKCHECK_LOOP_STATS_STALL_MS=N`` samples the loop thread's stack (and its kernel state) while the loop
has been stuck for N ms, appended at once to FILE.stalls (it survives a SIGKILL);
``TRUNKCHECK_LOOP_STATS_GENSIZE=1`` records how many objects each collection scans (slow: diagnosis only);
``TRUNKCHECK_LOOP_STATS_TYPES=1`` adds the GC-tracked objects by type at stop;
``TRUNKCHECK_LOOP_STATS_GARBAGE=1`` keeps what the cyclic collector frees (gc.DEBUG_SAVEALL: memory
grows) and reports it by type -- a call should leave no reference cycles behind.

    TRUNKCHECK_LOOP_STATS=/tmp/loop.txt .venv/bin/python benchmarks/server_cpu.py --rate 300
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["LoopStats"]

PROBE_INTERVAL = 0.010


def _summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: n=0"
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    over = {t: sum(1 for v in ordered if v * 1000 >= t) for t in (10, 50, 100, 200)}
    return (f"{name}: n={len(ordered)} p50={pct(0.5):.2f}ms p99={pct(0.99):.2f}ms "
            f"p99.9={pct(0.999):.2f}ms max={ordered[-1] * 1000:.2f}ms total={sum(ordered):.2f}s "
            + " ".join(f">={t}ms:{n}" for t, n in over.items()))


class LoopStats:
    """Collects GC pause and loop-lag samples; :meth:`from_env` returns None unless enabled."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.gc_pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.gc_collected: list[tuple[int, float, int]] = []
        self.lags: list[float] = []
        self.gen_sizes: list[tuple[int, int]] = []
        self._gc_started = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._expected = 0.0

    @classmethod
    def from_env(cls) -> LoopStats | None:
        path = os.environ.get("TRUNKCHECK_LOOP_STATS")
        return cls(path) if path else None

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            if os.environ.get("TRUNKCHECK_LOOP_STATS_GENSIZE"):
                g = info["generation"]
                self.gen_sizes.append((g, sum(len(gc.get_objects(i)) for i in range(g + 1))))
            self._gc_started = time.perf_counter()
        else:
            elapsed = time.perf_counter() - self._gc_started
            self.gc_pauses[info["generation"]].append(elapsed)
            self.gc_collected.append((info["generation"], elapsed, info["collected"]))

    def _probe(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        self.lags.append(max(0.0, now - self._expected))
        self._expected = now + PROBE_INTERVAL
        self._last_probe = time.monotonic()
        self._handle = self._loop.call_at(self._expected, self._probe)

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        if os.environ.get("TRUNKCHECK_LOOP_STATS_GARBAGE"):
            gc.set_debug(gc.DEBUG_SAVEALL)
        self._loop = asyncio.get_running_loop()
        self._expected = self._loop.time() + PROBE_INTERVAL
        self._handle = self._loop.call_at(self._expected, self._probe)
        stall_ms = os.environ.get("TRUNKCHECK_LOOP_STATS_STALL_MS")
        if stall_ms:
            self._last_probe = time.monotonic()
            self._main_id = threading.get_ident()
            self._main_native = threading.get_native_id()
            threading.Thread(target=self._watch, args=(float(stall_ms) / 1000,), daemon=True).start()

    def _watch(self, limit: float) -> None:
        """Sample the loop thread's stack while it has not run the probe for ``limit`` s (written at once)."""
        while True:
            time.sleep(0.02)
            late = time.monotonic() - self._last_probe
            if late < limit:
                continue
            frame = sys._current_frames().get(self._main_id)
            stack = "".join(traceback.format_stack(frame)[-14:]) if frame is not None else "?"
            task = f"/proc/self/task/{self._main_native}/"
            try:
                fields = Path(task + "stat").read_text().rsplit(")", 1)[1].split()
                kstate = f"state={fields[0]} utime={fields[11]} stime={fields[12]} wchan={Path(task + 'wchan').read_text()}"
                kstack = Path(task + "stack").read_text() if fields[0] == "D" else ""
            except OSError as exc:
                kstate, kstack = str(exc), ""
            with open(self.path + ".stalls", "a") as out:
                out.write(f"--- {time.time():.3f} late={late * 1000:.0f}ms gc={gc.get_count()} {kstate}\n"
                          f"{kstack}{stack}")

    def stop(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self._handle is not None:
            self._handle.cancel()
        lines = [_summary(f"gc gen{g}", v) for g, v in self.gc_pauses.items()]
        lines.append(_summary("loop lag", self.lags))
        if self.gen_sizes:
            lines.append("objects scanned per collection (gen, n): " + " ".join(f"{g}:{n}" for g, n in self.gen_sizes))
        worst = sorted(self.gc_collected, key=lambda r: -r[1])[:5]
        lines.append("worst gc: " + ", ".join(f"gen{g} {t * 1000:.1f}ms collected={c}" for g, t, c in worst))
        lines.append(f"gc counts now={gc.get_count()} thresholds={gc.get_threshold()} "
                     f"frozen={gc.get_freeze_count()} tracked={len(gc.get_objects())}")
        if os.environ.get("TRUNKCHECK_LOOP_STATS_TYPES"):
            counts = Counter(type(o).__qualname__ for o in gc.get_objects())
            lines.append("tracked by type: " + ", ".join(f"{k}={v}" for k, v in counts.most_common(30)))
        if gc.get_debug() & gc.DEBUG_SAVEALL:
            gc.collect()
            counts = Counter(type(o).__qualname__ for o in gc.garbage)
            lines.append(f"cyclic garbage ({len(gc.garbage)}): "
                         + ", ".join(f"{k}={v}" for k, v in counts.most_common(25)))
        text = "\n".join(lines) + "\n"
        if self.path == "-":
            sys.stderr.write(text)
        else:
            with open(self.path, "a") as out:
                out.write(text)
