"""The server's SIP listeners: a :class:`~sipcore.aio.endpoint.SipEndpoint` per listen address, whose
transport hands each message to a screen (admission control, :mod:`reference_server.admission`) before the
endpoint's transaction layer sees it.

``open_listener`` binds one; a multi-worker server's workers build theirs over the datagrams their
dispatcher hands them (:mod:`reference_server.worker`) with the same screen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from sipcore.aio.clock import LOOP_CLOCK, Clock
from sipcore.aio.endpoint import EventHandler, SipEndpoint
from sipcore.aio.transport import Addr, TcpTransport, Transport, UdpTransport
from sipcore.errors import SIPParseError
from sipcore.message import Request, Response

__all__ = ["MessageHandler", "Screen", "TransportFactory", "open_listener", "screened"]

Message = Request | Response
MessageHandler = Callable[[Message, Addr, Transport], None]
ErrorHandler = Callable[[bytes, Addr, SIPParseError, Transport], None]
UnreachableHandler = Callable[[Addr, OSError], None]
TransportFactory = Callable[[MessageHandler, ErrorHandler, UnreachableHandler], Awaitable[Transport]]
#: Sees each message before the endpoint does; True when it answered the message itself (not delivered).
Screen = Callable[[Message, Addr, Transport], bool]


def screened(deliver: MessageHandler, screen: Screen | None) -> MessageHandler:
    """``deliver`` behind ``screen``."""
    if screen is None:
        return deliver

    def on_message(message: Message, addr: Addr, transport: Transport) -> None:
        if not screen(message, addr, transport):
            deliver(message, addr, transport)

    return on_message


async def open_listener(transport: str, host: str, port: int, on_event: EventHandler, *, screen: Screen | None,
                        **kwargs: Any) -> SipEndpoint:
    """A SipEndpoint on ``transport`` host:port; with a ``screen``, UDP and TCP messages pass it first.
    ``kwargs`` are SipEndpoint's (timers, clock, on_parse_error ...)."""
    kind = transport.upper()
    if screen is None or kind not in ("UDP", "TCP"):
        return await SipEndpoint.open(transport, host, port, on_event, **kwargs)
    clock = cast(Clock, kwargs.get("clock", LOOP_CLOCK))

    async def make(on_message: MessageHandler, on_error: ErrorHandler,
                   on_unreachable: UnreachableHandler) -> Transport:
        deliver = screened(on_message, screen)
        if kind == "UDP":
            return await UdpTransport.listen(host, port, deliver, on_error, on_unreachable)
        return await TcpTransport.listen(host, port, deliver, on_error, on_unreachable, clock=clock)

    return await SipEndpoint.over(make, on_event, reliable=kind == "TCP", **kwargs)
