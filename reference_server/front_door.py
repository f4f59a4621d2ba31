"""The dispatcher turns new calls away for a saturated worker itself (``--workers N``): at the front door.

A worker's admission control (:mod:`reference_server.admission`) finds when the worker is saturated, but
an INVITE the worker refuses has first waited in its channel behind the messages of the calls it took: at
twice the server's capacity such refusals took up to 128 ms before this module, and up to 146 ms later on
(the worker refusing as it read them), while the dispatcher's own took 12 ms at most. So the delay rule
refuses here only: a worker tells the dispatcher when its delay state changes
(:data:`OVERLOAD` over its channel: :func:`overload_update`, again at the end of every 50 ms interval it
stays delayed; the dispatcher holds each for :data:`HOLD` seconds, so a lost update cannot cut a worker off
from new calls for longer), and while it is delayed the dispatcher
answers a new INVITE for it (no To tag, no credentials) from the shared socket with the 503 the worker
would have sent -- Retry-After, a Warning naming the worker's cause, the server's Server header -- and
the worker never sees it. An INVITE with credentials (the second half of a call the worker challenged:
taken), a request within a dialog, a response, and anything the dispatcher cannot parse still go to the
worker, which refuses new calls only past its pending limits. The worker's delay state follows its own
event loop (a probe every 10 ms), so it clears once the worker has caught up, and the dispatcher then
sends it new calls again.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass

from sipcore import parse_message
from sipcore.errors import SIPParseError
from sipcore.message import Request

from .sip_util import build_response, warning

__all__ = ["HOLD", "OVERLOAD", "FrontDoor", "Refusal", "overload_update", "read_overload_update"]

OVERLOAD = b"O"
HOLD = 0.25
"""Seconds the dispatcher refuses for a worker after its last "delayed" update (it repeats one every 50 ms)."""
_CREDENTIALS = ("Proxy-Authorization", "Authorization")


def overload_update(delayed: bool, cause: str, retry_after: int) -> bytes:
    """The channel message (without its kind byte) a worker sends when its delay state changes: the
    dispatcher answers with the worker's own Retry-After and cause."""
    return b"1%d\0%s" % (retry_after, cause.encode()) if delayed else b"0"


def read_overload_update(payload: bytes) -> Refusal | None:
    """The refusal the worker would give while it is delayed, None once it is not (or unreadable)."""
    if payload[:1] != b"1":
        return None
    seconds, _, cause = payload[1:].partition(b"\0")
    try:
        return Refusal(max(0, int(seconds)), cause.decode(errors="replace") or "overloaded")
    except ValueError:
        return None


@dataclass(frozen=True)
class Refusal:
    retry_after: int
    cause: str


class FrontDoor:
    """Stateless 503s for new INVITEs, sent by the dispatcher on a saturated worker's behalf."""

    def __init__(self, user_agent: str, tag: Callable[[], str] = lambda: secrets.token_hex(6)) -> None:
        self.user_agent = user_agent
        self.tag = tag
        self.refused = 0
        self._agents: dict[int, str] = {}  # the Warning's agent (host:port) per listen socket

    def refuse(self, data: bytes, peer: tuple[str, int], sock: socket.socket, refusal: Refusal) -> bool:
        """True when ``data`` is a new INVITE without credentials and was answered 503 here."""
        if not data.startswith(b"INVITE "):
            return False
        try:
            message = parse_message(data)
            if not isinstance(message, Request) or message.to.tag is not None:
                return False
        except SIPParseError:  # the worker's own checks answer it
            return False
        if any(message.headers.get(name) is not None for name in _CREDENTIALS):
            return False
        agent = self._agents.get(sock.fileno())
        if agent is None:  # once per listen socket, not a system call per refusal
            host, port = sock.getsockname()[:2]
            agent = self._agents[sock.fileno()] = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        response = build_response(message, 503, to_tag=self.tag(), server=self.user_agent, headers=[
            ("Retry-After", str(refusal.retry_after)), ("Warning", warning(agent, f"overloaded: {refusal.cause}"))])
        try:
            sock.sendto(response.to_bytes(), peer)
        except OSError:  # a full buffer: UDP may lose it, the caller retransmits and is refused again
            pass
        self.refused += 1
        return True
