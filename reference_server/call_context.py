"""What every call of a server shares (:class:`CallContext`), handed to each call when it starts: the
identifier generator, the transaction timers and Timer C, the media relays, the clock that times the
call, the two call policies, and the server's own name and address. A call reaches nothing else of the
server; what it reports back (dialogs to match, the call's end) goes to its owner, the B2BUA
(:class:`reference_server.call.CallOwner`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sipcore.aio.clock import Clock
from sipcore.aio.endpoint import SipEndpoint
from sipcore.errors import ProtocolError
from sipcore.ids import IdGenerator
from sipcore.message import Request, Response
from sipcore.timers import TimerConfig
from sipcore.transaction import RequestReceived

from .call_policy import SPEC_HANGUP, SPEC_MEDIA, HangupPolicy, MediaPolicy
from .destination_health import DestinationHealth
from .lazy_timers import LazyTimers
from .relay_registry import RelayRegistry
from .session_config import SessionTimerConfig
from .sip_util import Addr, build_response, contact_uri, local_addr

__all__ = ["CallContext"]


@dataclass(frozen=True, eq=False)
class CallContext:
    """The services a call uses; see the module docstring."""

    ids: IdGenerator
    timers: TimerConfig
    relays: RelayRegistry
    clock: Clock
    fallback_host: str
    """The server's address on an endpoint bound to a wildcard (Via, Contact, SDP)."""
    user_agent: str = ""
    """The Server / User-Agent header value ("" sends none)."""
    timer_c: float = 180.0
    """Seconds a ringing B leg may take before it is cancelled (RFC 3261 §16.6 step 11)."""
    media_policy: MediaPolicy = SPEC_MEDIA
    hangup_policy: HangupPolicy = SPEC_HANGUP
    session_timer: SessionTimerConfig = SessionTimerConfig()
    """Session timers (RFC 4028): the interval asked of the destination, the smallest accepted."""
    srtp: bool = True
    """Whether calls take SRTP ([media] srtp): best-effort SRTP offers are answered in clear when not."""
    contact_endpoints: dict[int, SipEndpoint] = field(default_factory=dict)
    """By ``id`` of an endpoint, the endpoint whose address a Contact sent from it names instead: a worker
    of a multi-worker server names its own port, not the listen address its dispatcher shares."""
    health: DestinationHealth = field(default_factory=DestinationHealth)
    """Destinations down after a 503 with Retry-After (reference_server.failover)."""
    leg_clock: Clock = field(init=False, repr=False)
    """``clock`` for the B legs' Timer C and CANCEL give-up timers, which are nearly always cancelled before
    they fire: they share one timer of ``clock`` (reference_server.lazy_timers)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "leg_clock", LazyTimers(self.clock))

    def local(self, endpoint: SipEndpoint) -> Addr:
        """The server's address on ``endpoint``, for Via and Contact."""
        return local_addr(endpoint, self.fallback_host)

    def contact(self, endpoint: SipEndpoint) -> str:
        """The server's Contact on ``endpoint``."""
        return contact_uri(self.contact_endpoints.get(id(endpoint), endpoint), self.fallback_host)

    def response(self, request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None,
                 headers: Iterable[tuple[str, str]] = (), copy_record_route: bool = False, body: bytes = b"",
                 content_type: str | None = None) -> Response:
        """A response from this server (its Server header, Content-Length; see ``build_response``)."""
        return build_response(request, status, reason, to_tag=to_tag, headers=headers, server=self.user_agent,
                              copy_record_route=copy_record_route, body=body, content_type=content_type)

    def respond(self, endpoint: SipEndpoint, event: RequestReceived, status: int, reason: str | None = None, *,
                headers: Iterable[tuple[str, str]] = (), quiet: bool = False) -> None:
        """Answer the request of ``event`` on ``endpoint``, through its own server transaction; with
        ``quiet``, a transaction that has its final response already is no error."""
        try:
            endpoint.send_response(self.response(event.request, status, reason, headers=headers), event.transaction)
        except ProtocolError:
            if not quiet:
                raise
