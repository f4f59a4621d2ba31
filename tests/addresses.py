"""Each test process's own loopback block, so that two test runs on one machine (a developer and CI, two
checkouts, pytest-xdist workers) never bind, send to or capture on the same address.

A process takes ``127.N.0.0/16`` (N in 10..249) the first time it asks, and holds it until it exits: N is
claimed with an exclusive ``flock`` on ``$TMPDIR/trunkcheck-test-blocks/127.N.lock``, tried from a
pid-based start so that concurrent runs rarely even contend. The kernel drops the lock when the process
dies (a crash or a kill included), so nothing is ever left to clean up. Linux answers on all of 127.0.0.0/8
with no set-up, and 127.0.0.x (the harness's own default role addresses, ``127.0.0.1``) stays out of it.

    from tests.addresses import loopback, block
    UA_IP = loopback(10)                  # "127.N.0.10": the same host numbers the tests always used
    PEER = (loopback(42, subnet=4), 5060) # "127.N.4.42"
    block().base                          # "127.N.0.0": `trunkcheck run --loopback` puts its roles there
    block().rewrite(text)                 # every "127.0.S.H" in an equipment file -> "127.N.S.H"

The session fixture ``loopback_block`` (tests/conftest.py) hands out the same block. A test that must use
a fixed shared address (the server's embedded default, 127.0.0.1:5060) holds ``exclusive("127.0.0.1:5060")``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BLOCKS", "LoopbackBlock", "allocate", "block", "exclusive", "loopback"]

BLOCKS = range(10, 250)
"""The second octet of the blocks handed out (127.10.0.0/16 .. 127.249.0.0/16)."""
LOCK_DIR = Path(tempfile.gettempdir()) / "trunkcheck-test-blocks"
_FIXED = re.compile(r"(?<![\d.])127\.0\.(\d{1,3})\.(\d{1,3})(?![\d])")


@dataclass(frozen=True)
class LoopbackBlock:
    """``127.{octet}.0.0/16``, held by this process while ``lock_fd`` is open."""

    octet: int
    lock_fd: int = -1

    @property
    def base(self) -> str:
        """``127.N.0.0``: the block's first address (the harness's ``--loopback``)."""
        return f"127.{self.octet}.0.0"

    def ip(self, host: int, subnet: int = 0) -> str:
        """``127.N.{subnet}.{host}``."""
        if not (0 <= subnet <= 255 and 0 < host < 255):
            raise ValueError(f"subnet {subnet} / host {host}: use 0..255 and 1..254")
        return f"127.{self.octet}.{subnet}.{host}"

    def rewrite(self, text: str) -> str:
        """``text`` with every ``127.0.S.H`` moved into this block (``127.N.S.H``)."""
        return _FIXED.sub(lambda m: f"127.{self.octet}.{m[1]}.{m[2]}", text)

    def release(self) -> None:
        """Give the block back (a process normally keeps it until it exits)."""
        if self.lock_fd >= 0:
            os.close(self.lock_fd)


def allocate(lock_dir: Path = LOCK_DIR, start: int | None = None) -> LoopbackBlock:
    """Claim a block no other process holds (nor an earlier, unreleased claim of this one): the first
    whose lock file can be locked, trying from ``start`` (default: from the process id)."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    first = (os.getpid() if start is None else start) % len(BLOCKS)
    for i in range(len(BLOCKS)):
        octet = BLOCKS[(first + i) % len(BLOCKS)]
        fd = os.open(lock_dir / f"127.{octet}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return LoopbackBlock(octet, fd)
    raise RuntimeError(f"every loopback block 127.{BLOCKS[0]}-{BLOCKS[-1]}.0.0/16 is held by another test "
                       f"process (locks in {lock_dir})")


_lock = threading.Lock()
_block: LoopbackBlock | None = None


def block() -> LoopbackBlock:
    """This process's block, claimed on first use and kept until the process exits."""
    global _block
    with _lock:
        if _block is None:
            _block = allocate()
        return _block


def loopback(host: int, subnet: int = 0) -> str:
    """``127.N.{subnet}.{host}`` in this process's block."""
    return block().ip(host, subnet)


@contextlib.contextmanager
def exclusive(name: str, timeout: float = 60.0, lock_dir: Path = LOCK_DIR) -> Iterator[None]:
    """Hold a machine-wide lock named ``name`` (e.g. ``"127.0.0.1:5060"``) while the block runs, for the
    few tests that must use a fixed, shared address (the server's embedded default): concurrent test
    processes take turns instead of colliding. TimeoutError after ``timeout`` seconds of waiting."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_dir / f"fixed-{name.replace('/', '_')}.lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} stayed locked by another test process for {timeout:g} s") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)
