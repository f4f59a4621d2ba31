"""The server's young GC collections stay small under steady churn (old objects dying as new ones appear),
and scan what survives them once."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from reference_server.gc_pacing import GcPacer

ROOT = Path(__file__).resolve().parents[2]


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
        if phase == "start" and info["generation"] < 2:
            scanned.append(sum(len(gc.get_objects(g)) for g in range(info["generation"] + 1)))

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


def test_an_object_that_survives_a_young_collection_is_old_after_it() -> None:
    """A lingering transaction's objects are scanned by one young collection, not by one per generation."""
    young: list[int] = []

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] < 2:
            young.append(info["generation"])

    async def run() -> bool:
        pacer = GcPacer(tick=0.01)
        pacer.start()
        try:
            survivor = [[1], [2]]  # tracked, and alive across the collections below
            young.clear()
            while len(young) < 1:
                await asyncio.sleep(0.005)
            return any(o is survivor for o in gc.get_objects(2))
        finally:
            pacer.stop()

    gc.callbacks.append(on_gc)
    try:
        old = asyncio.run(run())
    finally:
        gc.callbacks.remove(on_gc)
    assert old, "an object that survived a young collection is still young: the next one scans it again"


TRIM_CHILD = """
import asyncio
from reference_server.gc_pacing import GcPacer, heap_trimmer

def rss_mib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) // 1024

async def main(trim_every):
    # 3 KB blocks (the C heap, as datagrams and serialized messages are), one in 50 still alive: the
    # freed ones between them are no use to the system until the heap is trimmed
    blocks = [bytes(3000) + bytes([i % 256]) for i in range(40_000)]
    kept = blocks[::50]
    del blocks
    before = rss_mib()
    pacer = GcPacer(tick=0.01, trim_every=trim_every)
    pacer.start()
    await asyncio.sleep(0.2)
    pacer.stop()
    print(before, rss_mib(), pacer.trims, len(kept), heap_trimmer() is not None)

asyncio.run(main(int(__import__("sys").argv[1])))
"""


def _rss_after_pacing(trim_every: int) -> tuple[int, int, int, bool]:
    out = subprocess.run([sys.executable, "-c", TRIM_CHILD, str(trim_every)], capture_output=True, text=True,
                         timeout=60, check=True, cwd=ROOT).stdout.split()
    return int(out[0]), int(out[1]), int(out[2]), out[4] == "True"


def test_the_pacer_gives_the_freed_c_heap_back_to_the_system() -> None:
    before, after, trims, glibc = _rss_after_pacing(5)
    if not glibc:
        pytest.skip("no glibc malloc_trim on this system: nothing to trim with")
    assert trims >= 2
    assert before > 100 and after < before / 2, f"RSS {before} MiB -> {after} MiB after {trims} trims"
    untrimmed_before, untrimmed_after, no_trims, _ = _rss_after_pacing(0)  # trim_every=0: never
    assert no_trims == 0 and untrimmed_after > untrimmed_before * 0.8


def test_ticks_ride_on_the_admission_probe_without_a_timer_of_their_own() -> None:
    """With the admission control's probe as its beat the pacer wakes the loop no more: it collects on the
    first probe at or after each tick's due time, ten probes (of 10 ms) per 100 ms tick."""
    from reference_server.admission import Admission, AdmissionConfig
    from sipcore.aio.clock import SteppedClock

    async def run() -> None:
        clock = SteppedClock()
        admission = Admission(AdmissionConfig(max_loop_lag=60.0, probe_interval=0.01), clock, lambda: 0)
        admission.start()
        pacer = GcPacer(tick=0.1)
        loop = asyncio.get_running_loop()
        timers_before = len(loop._scheduled)  # type: ignore[attr-defined]
        pacer.start(admission)
        try:
            assert len(loop._scheduled) == timers_before, "the pacer armed a loop timer"  # type: ignore[attr-defined]
            assert clock.pending == 1  # the probe's timer, nothing else
            await clock.advance(1.05)  # probes at 10, 20 ... 1050 ms: ticks due at 100, 200 ... 1000 ms
            assert pacer.ticks == 10
            assert not gc.isenabled()
        finally:
            pacer.stop()
            admission.stop()
        assert admission.after_probe is None and gc.isenabled()

    asyncio.run(run())
