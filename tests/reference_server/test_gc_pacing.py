"""The server's young GC collections stay small under steady churn (old objects dying as new ones appear)."""

from __future__ import annotations

import asyncio
import gc
from collections import deque

from reference_server.gc_pacing import GcPacer


async def _churn(seconds: float, per_step: int) -> None:
    """Like lingering transactions at steady state: each step makes ``per_step`` containers and frees as
    many old ones, so CPython's allocations-minus-deallocations counter barely moves."""
    live: deque[list[int]] = deque([i] for i in range(20_000))
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        for i in range(per_step):
            live.append([i])
            live.popleft()
        await asyncio.sleep(0.001)


def test_young_generation_is_collected_on_time_under_balanced_churn() -> None:
    scanned: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 0:
            scanned.append(len(gc.get_objects(0)))

    async def run() -> None:
        pacer = GcPacer(tick=0.02)
        pacer.start()
        try:
            await _churn(0.6, 300)
        finally:
            pacer.stop()

    saved = gc.get_threshold()
    gc.set_threshold(14_000, 2, 100)  # what the server used before pacing
    gc.callbacks.append(on_gc)
    try:
        asyncio.run(run())
    finally:
        gc.callbacks.remove(on_gc)
        gc.set_threshold(*saved)
    assert len(scanned) >= 10, f"only {len(scanned)} young collections in 0.6 s"
    assert max(scanned) < 40_000, f"a young collection scanned {max(scanned)} objects"
    assert gc.isenabled()
