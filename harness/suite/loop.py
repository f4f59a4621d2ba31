"""An asyncio event loop on a thread of its own, so synchronous behave steps can drive the asyncio reference
server and simulators, and servers outlive the step that started them.

    loop = LoopThread()
    server = loop.run(start_server(), timeout=5, what="reference server start-up")
    loop.close()

Every `run` is bounded: past its timeout the coroutine is cancelled and `StepTimeout` says what did not
finish and within how long.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "StepTimeout"]

T = TypeVar("T")


class StepTimeout(TimeoutError):
    """A bounded wait of the harness ran out."""


class LoopThread:
    def __init__(self, name: str = "trunkcheck-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        if not self._ready.wait(5.0):
            raise RuntimeError("the harness event loop thread did not start within 5 s")

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        self.loop.run_forever()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float, what: str) -> T:
        """Run `coro` on the loop and wait for its result at most `timeout` seconds."""
        if not self.alive:
            coro.close()
            raise RuntimeError(f"cannot run {what}: the harness event loop is not running")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise StepTimeout(f"{what} did not finish within {timeout:g} s") from None

    def idle(self, horizon: float, timeout: float = 1.0) -> bool | None:
        """Whether the loop has nothing to do now (no callback ready, no socket ready to read or write) and no
        timer due within ``horizon`` seconds: then nothing running on it sends anything in that time. None
        when this loop cannot tell (an event loop without asyncio's selector internals) or did not answer
        within ``timeout``."""
        loop = self.loop
        if not self.alive or not all(hasattr(loop, a) for a in ("_ready", "_scheduled", "_selector")):
            return None
        answer: concurrent.futures.Future[bool] = concurrent.futures.Future()

        def probe() -> None:  # on the loop's thread, between two of its callbacks
            ready: Any = getattr(loop, "_ready")  # noqa: B009 - asyncio's internals, checked above
            if ready or getattr(loop, "_selector").select(0):  # noqa: B009
                answer.set_result(False)
                return
            due = loop.time() + horizon
            answer.set_result(not any(not h.cancelled() and h.when() <= due for h in getattr(loop, "_scheduled")))  # noqa: B009

        try:  # probe one iteration later: call_soon_threadsafe's own wake-up (the self-pipe) is read by then
            loop.call_soon_threadsafe(loop.call_soon, probe)
            return answer.result(timeout)
        except (RuntimeError, concurrent.futures.TimeoutError):
            return None

    def close(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=timeout / 2)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()
