"""harness.adapters.server_process.tree_usage: a server's CPU and memory summed over its processes, as the
load benchmarks print them; PSS counts memory the processes share once (Kamailio's shared memory)."""

from __future__ import annotations

import mmap
import multiprocessing
import os
import time
from multiprocessing.connection import Connection

import pytest

from harness.adapters.server_process import tree_usage

SHARED = 64 * 1024 * 1024


def _child(region: mmap.mmap, ready: Connection) -> None:
    region.seek(0)
    for offset in range(0, SHARED, mmap.PAGESIZE):  # touch every page: resident in the child too
        region[offset] = 1
    ready.send("touched")
    ready.recv()  # until the parent has read its figures


@pytest.mark.skipif(not os.path.exists(f"/proc/{os.getpid()}/smaps_rollup"), reason="no /proc/PID/smaps_rollup "
                    "(Linux >= 4.14)")
def test_summed_pss_counts_shared_memory_once_where_summed_rss_counts_it_per_process() -> None:
    region = mmap.mmap(-1, SHARED)  # anonymous and shared, as Kamailio's -m memory
    for offset in range(0, SHARED, mmap.PAGESIZE):
        region[offset] = 1
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(target=_child, args=(region, theirs))
    child.start()
    try:
        assert ours.poll(20), "the child did not touch the shared pages in 20 s"
        ours.recv()
        alone = tree_usage(os.getpid(), pss=False)
        both = tree_usage(os.getpid(), pss=True)
        shared_mib = SHARED / 1024
        assert both.rss_kb >= 2 * shared_mib, both  # counted in each of the two processes
        assert alone.pss_kb == 0  # not read unless asked for
        assert both.pss_kb < both.rss_kb - shared_mib * 0.9, both  # counted once between them
        assert both.pss_kb >= shared_mib * 0.9, both
        assert both.cpu_seconds >= 0 and both.peak_rss_kb >= both.rss_kb - 4096
    finally:
        ours.send("done")
        child.join(10)
        if child.is_alive():
            child.kill()
            time.sleep(0.1)
        region.close()
