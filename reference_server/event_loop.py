"""Which event loop runs the server: asyncio's own, or uvloop's (libuv) where it is installed.

``trunkcheck serve --loop auto|asyncio|uvloop``: ``auto`` takes uvloop when it can be imported
(``pip install 'trunkcheck[fast]'``) and asyncio's loop otherwise; ``uvloop`` insists (a clear error
without it). The server uses only what both loops implement (readers on its UDP sockets, datagram and
stream endpoints, call_at timers), so the choice changes speed, not behaviour.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

__all__ = ["DEFAULT_LOOP", "LOOP_CHOICES", "LoopFactory", "LoopUnavailable", "loop_factory"]

LOOP_CHOICES = ("auto", "asyncio", "uvloop")
DEFAULT_LOOP = "asyncio"

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class LoopUnavailable(RuntimeError):
    """``--loop uvloop`` where uvloop cannot be imported."""


def _uvloop_factory() -> LoopFactory | None:
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_factory(choice: str) -> tuple[str, LoopFactory]:
    """(the loop's name, a factory making one) for ``--loop CHOICE``."""
    if choice not in LOOP_CHOICES:
        raise ValueError(f"--loop {choice!r}: expected one of {', '.join(LOOP_CHOICES)}")
    if choice != "asyncio":
        factory = _uvloop_factory()
        if factory is not None:
            return "uvloop", factory
        if choice == "uvloop":
            raise LoopUnavailable("--loop uvloop: uvloop is not installed (pip install 'trunkcheck[fast]', "
                                  "or use --loop asyncio)")
    return "asyncio", asyncio.new_event_loop
