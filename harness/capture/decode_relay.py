"""One tshark for the worker processes of a ``trunkcheck run --jobs N``: the run's process keeps the long-lived
decoder (harness.capture.decode_stream), each worker hands it its captures over a pipe of its own.

    # the run's process, one thread per worker (it ends when the worker closes its RemoteDecoder):
    threading.Thread(target=serve, args=(run_end, decoder), daemon=True).start()
    # the worker (harness.suite.session uses it in place of a StreamDecoder of its own):
    decoder = RemoteDecoder(worker_end)
    items = decoder.submit(pcap).result(timeout)        # list[Decoded], as StreamDecoder gives

tshark's start-up costs about a quarter of a second of CPU; with a decoder per worker a run paid it once per
worker. The pcaps stay where the scenarios wrote them (the run's folder, which the workers share); only the
path goes one way and the decoded packets (or the error, as its text) the other. A decode that fails, or a
run that is gone, fails that capture's future with DecodeError, as a decoder of the worker's own would.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from harness.capture.decode import DecodeError
from harness.capture.decode_stream import StreamDecoder
from harness.capture.decoded import Decoded

__all__ = ["RemoteDecoder", "serve"]


def serve(conn: Connection, decoder: StreamDecoder) -> None:
    """Decode the captures the worker at the other end of ``conn`` asks for, until it closes its end."""
    send_lock = threading.Lock()

    def reply(job: int, future: Future[list[Decoded]]) -> None:
        err = future.exception()
        message = ("decoded", job, future.result()) if err is None else ("failed", job, str(err))
        with send_lock, contextlib.suppress(OSError, ValueError):
            conn.send(message)

    while True:
        try:
            kind, job, path = conn.recv()
        except (EOFError, OSError, ValueError, TypeError):
            return
        if kind == "decode":
            decoder.submit(path).add_done_callback(functools.partial(reply, job))
        elif kind == "close":
            with send_lock, contextlib.suppress(OSError, ValueError):
                conn.send(("closed", job, None))
            return


class RemoteDecoder:
    """A worker's handle on the run's decoder: ``submit`` as StreamDecoder's; thread-safe."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._jobs: dict[int, Future[list[Decoded]]] = {}
        self._ids = itertools.count(1)
        self._closed = False
        self._reader = threading.Thread(target=self._read, name="decode relay", daemon=True)
        self._reader.start()

    def warm_up(self) -> None:
        """Nothing to start: the run's decoder is running."""

    def submit(self, path: str | Path) -> Future[list[Decoded]]:
        future: Future[list[Decoded]] = Future()
        with self._lock:
            if self._closed:
                future.set_exception(DecodeError("the run's decoder is no longer reachable"))
                return future
            job = next(self._ids)
            self._jobs[job] = future
            try:
                self._conn.send(("decode", job, str(path)))
            except (OSError, ValueError) as err:
                del self._jobs[job]
                future.set_exception(DecodeError(f"cannot reach the run's decoder: {err}"))
        return future

    def close(self, timeout: float = 5.0) -> None:
        """Tell the run this worker is done with its decoder (bounded), and fail what is still pending."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with contextlib.suppress(OSError, ValueError):
                self._conn.send(("close", 0, ""))
        self._reader.join(timeout)
        if not self._reader.is_alive():
            self._conn.close()
        self._fail_pending("the decoder was closed")

    def _read(self) -> None:
        while True:
            try:
                kind, job, value = self._conn.recv()
            except (EOFError, OSError, ValueError, TypeError):
                break
            if kind == "closed":
                break
            with self._lock:
                future = self._jobs.pop(job, None)
            if future is None:
                continue
            if kind == "decoded":
                future.set_result(value)
            else:
                future.set_exception(DecodeError(str(value)))
        self._fail_pending("the run's decoder went away before answering")

    def _fail_pending(self, why: str) -> None:
        with self._lock:
            jobs: list[Any] = list(self._jobs.values())
            self._jobs.clear()
        for future in jobs:
            if not future.done():
                future.set_exception(DecodeError(why))
