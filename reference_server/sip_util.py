"""Small things the server and its calls share: what the server allows, its Contact, building responses."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable

from sipcore.aio.clock import Clock, TimerHandle
from sipcore.aio.endpoint import SipEndpoint
from sipcore.headers import quote
from sipcore.message import Request, Response, make_response
from sipcore.timers import TimerConfig

__all__ = ["ACCEPT", "ALLOW", "ALLOWED_METHODS", "SDP", "SUPPORTED", "SUPPORTED_OPTION_TAGS", "Addr", "Reliable2xx", "build_response", "contact_uri", "host_port",
           "local_addr", "warning"]

Addr = tuple[str, int]

#: Methods the server implements (RFC 3261 §8.2.1: anything else is 501 Not Implemented with Allow).
ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "UPDATE", "PRACK")
ALLOW = ", ".join(ALLOWED_METHODS)
#: Option tags (RFC 3261 §19.2) the server implements: reliable provisionals (RFC 3262), session timers (RFC 4028).
SUPPORTED_OPTION_TAGS = ("100rel", "timer")
SUPPORTED = ", ".join(SUPPORTED_OPTION_TAGS)
SDP = "application/sdp"
ACCEPT = SDP


def host_port(host: str, port: int | None = None) -> str:
    """``host:port`` with an IPv6 address in brackets (RFC 3261 §25.1)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


@functools.lru_cache(maxsize=256)
def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def local_addr(endpoint: SipEndpoint, fallback_host: str) -> Addr:
    """The address to put in Via and Contact for ``endpoint`` (``fallback_host`` when bound to 0.0.0.0)."""
    host, port = endpoint.local_addr
    return (fallback_host if _unspecified(host) else host, port)


def contact_uri(endpoint: SipEndpoint, fallback_host: str) -> str:
    """``<sip:host:port>`` of the server on this endpoint, ``;transport=tcp`` over TCP (``tls`` over TLS)."""
    host, port = local_addr(endpoint, fallback_host)
    transport = f";transport={endpoint.transport_name.lower()}" if endpoint.transport_name != "UDP" else ""
    return f"<sip:{host_port(host, port)}{transport}>"


def warning(agent: str, text: str) -> str:
    """A Warning value (RFC 3261 §20.43, code 399 miscellaneous) naming what was wrong."""
    return f"399 {agent or 'trunkcheck'} {quote(text.replace(chr(13), ' ').replace(chr(10), ' ')[:200])}"


def build_response(request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None,
                   headers: Iterable[tuple[str, str]] = (), server: str = "",
                   copy_record_route: bool = False, body: bytes = b"", content_type: str | None = None) -> Response:
    """make_response plus the extra header fields, a Server header (when configured), Content-Length and,
    with a ``body``, its ``content_type``: the fields ``set_body`` would leave, in its order (Content-Type
    last). ``headers`` holds neither Content-Type nor Content-Length."""
    fields = [*headers, ("Server", server)] if server else list(headers)
    fields.append(("Content-Length", str(len(body))))
    if body and content_type is not None:
        fields.append(("Content-Type", content_type))
    response = make_response(request, status, reason, to_tag=to_tag, copy_record_route=copy_record_route,
                             headers=fields)
    response.body = body
    return response


def _nothing() -> None:
    pass


class Reliable2xx:
    """Sends a 2xx to an INVITE again until its ACK arrives (RFC 3261 §13.3.1.4): after T1, doubling up
    to T2, over UDP; after 64*T1 without an ACK ``on_timeout`` is called (the session should end). The
    timers run on ``clock``.

    One timer at a time, for whichever comes first: the next retransmission or giving up (a 2xx is
    usually ACKed before T1, so a second timer would only be armed to be cancelled)."""

    def __init__(self, endpoint: SipEndpoint, response: Response, addr: Addr, timers: TimerConfig,
                 on_timeout: Callable[[], None], *, clock: Clock) -> None:
        self._endpoint, self._response, self._addr = endpoint, response, addr
        self._t2, self._on_timeout, self._clock = timers.t2, on_timeout, clock
        self._give_up_at = clock.time() + 64 * timers.t1
        self._interval: float | None = timers.t1 if timers.retransmits else None  # None: no resends
        self._handle: TimerHandle | None = self._schedule()

    def _schedule(self) -> TimerHandle:
        when = self._give_up_at
        if self._interval is not None:
            when = min(self._clock.time() + self._interval, when)
        return self._clock.call_at(when, self._fire)

    def _fire(self) -> None:
        assert self._handle is not None
        if self._handle.when() >= self._give_up_at:  # 64*T1 without an ACK
            on_timeout = self._on_timeout
            self.stop()
            on_timeout()
            return
        assert self._interval is not None
        self._endpoint.send_stateless(self._response, self._addr)
        self._interval = min(2 * self._interval, self._t2)
        self._handle = self._schedule()

    def stop(self) -> None:
        """The ACK came (or the call ended): no more retransmissions."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._on_timeout = _nothing  # the owner (a call) holds this object: no cycle outliving it
