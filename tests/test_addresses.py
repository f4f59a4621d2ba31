"""The per-process loopback block (tests/addresses.py): two test processes never get the same one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .addresses import BLOCKS, allocate, block

ROOT = Path(__file__).resolve().parents[1]
HOLDER = """
import sys
from tests.addresses import allocate
from pathlib import Path
held = allocate(Path(sys.argv[1]), start=int(sys.argv[2]))
print(held.octet, flush=True)
sys.stdin.readline()  # hold the block until the parent says
"""


def _holder(lock_dir: Path, start: int) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock_dir), str(start)], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def test_two_processes_starting_at_the_same_block_get_different_blocks(tmp_path: Path) -> None:
    first, a = _holder(tmp_path, start=7)
    second, b = _holder(tmp_path, start=7)  # same pid-based start: the lock makes it move on
    try:
        mine = allocate(tmp_path, start=7)  # and this process, a third, moves on again
        assert len({a, b, mine.octet}) == 3 and {a, b, mine.octet} <= set(BLOCKS)
        mine.release()
    finally:
        for proc in (first, second):
            proc.communicate("\n", timeout=10)


def test_a_block_is_free_again_once_its_process_has_exited(tmp_path: Path) -> None:
    proc, octet = _holder(tmp_path, start=3)
    proc.communicate("\n", timeout=10)
    again = allocate(tmp_path, start=3)
    assert again.octet == octet
    again.release()


def test_this_process_keeps_one_block_inside_127_0_0_0_8_but_not_127_0_0_x() -> None:
    mine = block()
    assert block() is mine and mine.octet in BLOCKS
    assert mine.ip(30) == f"127.{mine.octet}.0.30" and mine.ip(42, subnet=4) == f"127.{mine.octet}.4.42"
    assert mine.rewrite('proxy = "udp:127.0.0.20:5060"') == f'proxy = "udp:127.{mine.octet}.0.20:5060"'
