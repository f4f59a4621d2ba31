"""sipcore.aio: the asyncio shells around the sans-IO core (the only part of sipcore that does I/O).

They move bytes and keep time, and decide nothing; every SIP rule lives in :mod:`sipcore`.

:class:`SipEndpoint`
    One transport (UDP or TCP on one address) and one :class:`sipcore.TransactionLayer`. What arrives is
    parsed and fed to the layer with ``now`` read from the endpoint's :class:`Clock`; the datagrams it
    returns are sent, its events go to the handler given with the request (client transactions) or to the
    endpoint's ``on_event``, and one timer is re-armed on that clock for the layer's next deadline. ``await endpoint.request(...)`` gives the final
    response of a client transaction.
:class:`UdpTransport`, :class:`TcpTransport`, :class:`TlsTransport`
    The sockets under an endpoint: bytes to parsed messages (:func:`sipcore.parse_message`,
    :class:`sipcore.StreamFramer`) and back; malformed input goes to an error handler. TLS (RFC 3261 §26)
    is the TCP transport over asyncio's ssl: :class:`TlsOptions` (certificate, key, CA file, verify, the
    SIP domain expected of servers, a key log file); a server whose certificate fails the chain or the RFC
    5922 identity check gets no message, and its transactions end in a 503 naming the problem.
:class:`RtpEndpoint`
    One UDP socket for RTP: sends a paced PCMU test tone (:class:`sipcore.RtpStream`) and keeps every
    packet that arrives as a :class:`ReceivedRtp`.
:class:`Clock`, :class:`LoopClock` (``LOOP_CLOCK``), :class:`SteppedClock`
    Time, timers, sleeping and bounded waits for everything above and for the elements built on them
    (the reference server, the simulator): the event loop's clock by default; a stepped clock moves only
    when a test advances it, so timer tests step time instead of waiting for it.
:class:`Tap` (``set_tap``, ``tap_of``, ``report_datagram``)
    What every socket above sends and receives, reported to the tap installed for its event loop: a capture
    that needs no raw socket (harness.capture.socket_capture).
:class:`SipResolver`
    RFC 3263 location over real DNS (dnspython's asyncio resolver, every query bounded): answers the
    queries of :class:`sipcore.Locator`; :func:`locate_blocking` for callers outside an event loop.

Other packages import these names from ``sipcore.aio`` or from the submodule that defines them; only the
names in ``__all__`` (see :mod:`sipcore` for the rule).
"""

from __future__ import annotations

from .clock import LOOP_CLOCK, Clock, LoopClock, SteppedClock, TimerHandle
from .endpoint import EventHandler, ParseErrorHandler, ReceivedObserver, SentObserver, SipEndpoint
from .resolver import SipResolver, locate_blocking
from .rtp import ReceivedRtp, RtpEndpoint, SentEvent
from .tap import Tap, report_datagram, report_stream, set_tap, tap_of
from .tls import HANDSHAKE_TIMEOUT, TlsError, TlsOptions, TlsTransport, client_context, server_context
from .transport import Addr, TcpTransport, Transport, UdpTransport, deliver_datagram

__all__ = [
    "HANDSHAKE_TIMEOUT", "LOOP_CLOCK", "Addr", "Clock", "EventHandler", "LoopClock", "ParseErrorHandler", "ReceivedObserver",
    "ReceivedRtp", "RtpEndpoint", "SentEvent", "SentObserver", "SipEndpoint", "SipResolver", "SteppedClock", "TcpTransport",
    "Tap", "TimerHandle", "TlsError", "TlsOptions", "TlsTransport", "Transport", "UdpTransport", "client_context",
    "deliver_datagram",
    "locate_blocking", "report_datagram", "report_stream", "server_context", "set_tap", "tap_of",
]
