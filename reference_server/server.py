"""The reference trunk server: one SIP endpoint per listen address, and what each request gets.

A request goes through, in order: method inspection (501 + Allow), the RFC 3261 §8.2 checks of
:func:`sipcore.checks.check_request` (416, 420, 415, 406; before routing, so the RFC 4475 application
tests get the answer the RFC names whatever domain they address), dialog matching (a To tag: relayed in its call, or
481), domain routing (404 for an unknown trunk or a domain not served here: no open relay; routing precedes
authentication, so nobody is challenged for a trunk that does not exist), Max-Forwards (483), then per
method: OPTIONS 200, REGISTER to the registrar (401 challenge), INVITE on a trunk (IP auth or a 407
challenge in the trunk's realm) or to a registered extension (a trusted peer, or a 407 in the registrar
realm), handed to the B2BUA. Credentials whose digest uri designates neither the Request-URI nor this server
get 400 with a Warning naming the uri (RFC 7616 §3.4.6), not another challenge. Every Warning the server
sends names it by the host:port of the endpoint the request came in on (the warn-agent of RFC 3261 §20.43).

Everything the server times (transactions, Timer C, 2xx retransmissions, nonce and registration expiry,
the failed-auth window) reads and arms one :class:`~sipcore.aio.clock.Clock`, the event loop's unless
another is given: a test steps a :class:`~sipcore.aio.clock.SteppedClock` instead of waiting.

``ReferenceServer(config).start()`` runs it inside any asyncio program (tests, the harness);
``python -m reference_server`` runs it as a process (:mod:`reference_server.cli`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import random
from collections.abc import Iterable
from typing import Any

from sipcore.aio.clock import LOOP_CLOCK, Clock, TimerHandle
from sipcore.aio.endpoint import SipEndpoint
from sipcore.aio.resolver import SipResolver
from sipcore.aio.tls import TlsError
from sipcore.aio.transport import Addr
from sipcore.checks import check_request
from sipcore.errors import SIPParseError
from sipcore.ids import IdGenerator
from sipcore.message import Request
from sipcore.sdp import SessionDescription
from sipcore.stateless import error_response_bytes
from sipcore.timers import TimerConfig
from sipcore.transaction import Event, RequestReceived
from sipcore.uri import SipURI

from .admission import Admission, AdmissionConfig
from .auth_policy import AuthDecision, AuthPolicy, Decision
from .b2bua import B2BUA
from .call_context import CallContext
from .call_policy import SPEC_HANGUP, SPEC_MEDIA, HangupPolicy, MediaPolicy
from .call_timer import interval_too_small
from .config import ListenAddress, ServerConfig
from .legs import Target
from .listeners import open_listener
from .media import parse_sdp
from .registrar import Registrar
from .relay_registry import RelayRegistry
from .routing import Route, TrunkRouter
from .rtp_relay import PortAllocator
from .sip_util import (
    ACCEPT,
    ALLOW,
    ALLOWED_METHODS,
    SDP,
    SUPPORTED,
    SUPPORTED_OPTION_TAGS,
    build_response,
    host_port,
    local_addr,
    warning,
)
from .srtp_media import srtp_refusal
from .trunk_calls import TrunkDestinations

log = logging.getLogger("reference_server")

__all__ = ["ListenError", "ReferenceServer", "with_listen"]

_DIALOG_ONLY = frozenset({"BYE", "INFO", "UPDATE", "PRACK"})
_SDP_METHODS = frozenset({"INVITE", "UPDATE"})
PURGE_INTERVAL = 30.0


class ListenError(RuntimeError):
    """A listen address could not be bound (in use, not local ...)."""


def _understood_bodies(request: Request) -> tuple[str, ...]:
    """Body types the server takes in ``request``: SDP in offers and answers (INVITE, UPDATE); any other
    request's body (INFO's application/dtmf-relay ...) is relayed untouched, so whatever it is."""
    if request.method in _SDP_METHODS or request.content_type is None:
        return (SDP,)
    return (request.content_type,)


def _same_host(a: str, b: str) -> bool:
    return a.strip("[]").lower() == b.strip("[]").lower()


class ReferenceServer:
    """The reference trunk. ``timers`` (T1, T2, T4) and ``timer_c`` (seconds a ringing B leg may take)
    are the RFC's unless given; ``clock`` times everything (see the module docstring)."""

    def __init__(self, config: ServerConfig, *, media_policy: MediaPolicy = SPEC_MEDIA,
                 hangup_policy: HangupPolicy = SPEC_HANGUP, timers: TimerConfig | None = None,
                 timer_c: float = 180.0, clock: Clock = LOOP_CLOCK, secret_key: bytes | None = None,
                 rng: random.Random | None = None, admission: AdmissionConfig | None = None) -> None:
        self.config = config
        self.timers = timers or TimerConfig()
        self.clock = clock
        self.router = TrunkRouter(config)
        self.auth = AuthPolicy(config, secret_key or os.urandom(32))
        self.registrar = Registrar.from_config(
            config.registrar, aor_exists=lambda user: config.extension_password(user) is not None)
        media = config.media
        self.relays = RelayRegistry(PortAllocator(media.address, media.port_min, media.port_max), media.address,
                                    clock=clock)
        # Tags, branches and Call-IDs need uniqueness, not secrecy (nonces come from AuthPolicy's secret key):
        # a generator seeded from the OS is enough, and spares a system call per identifier.
        self.ids = IdGenerator(rng or random.Random(os.urandom(32)))
        self.b2bua = B2BUA(CallContext(self.ids, self.timers, self.relays, clock, media.address,
                                       user_agent=config.user_agent, timer_c=timer_c, media_policy=media_policy,
                                       hangup_policy=hangup_policy, srtp=media.srtp,
                                       session_timer=config.session_timer))
        self.endpoints: list[SipEndpoint] = []
        self.resolver = SipResolver(config.dns)  # for destinations named by host name; asks nothing until then
        self.destinations = TrunkDestinations(self.ids, clock, self.resolver, self._endpoint_for,
                                              via_host=media.address, user_agent=config.user_agent,
                                              health=self.b2bua.ctx.health)
        self._local_hosts: set[str] = set()
        self._purge: TimerHandle | None = None
        self.malformed = 0
        self.admission = None if admission is None else Admission(
            admission, clock, lambda: self.b2bua.pending_invites, user_agent=config.user_agent, tag=self.ids.tag)

    # -- lifecycle ----------------------------------------------------------------------------------
    @property
    def local_addresses(self) -> tuple[ListenAddress, ...]:
        """Where the server listens, with the ports actually bound (port 0 in the config picks one)."""
        return tuple(ListenAddress(ep.transport_name.lower(), *ep.local_addr) for ep in self.endpoints)

    @property
    def active_calls(self) -> int:
        return len(self.b2bua.calls)

    async def start(self) -> None:
        """Bind every listen address; ListenError (after closing what was opened) if one cannot be."""
        if self.endpoints:
            raise RuntimeError("the server is already started")
        bound: dict[str, int] = {}  # host -> port of the first endpoint there (port 0: share it)
        for listen in self.config.listen:
            try:
                endpoint = await self._open(listen, bound.get(listen.host))
            except (OSError, TlsError) as exc:
                self._close_endpoints()
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise ListenError(f"cannot listen on {listen}: {why}") from exc
            bound.setdefault(listen.host, endpoint.local_addr[1])
            # the warn-agent of its Warning headers (RFC 3261 §20.43): this server's host:port there
            endpoint.agent = host_port(*local_addr(endpoint, self.config.media.address))
            self.endpoints.append(endpoint)
        self._local_hosts = {a.host for a in self.config.listen} | {ep.local_addr[0] for ep in self.endpoints}
        if self._local_hosts & {"0.0.0.0", "::"}:  # a wildcard listener: at least loopback and the media IP
            self._local_hosts |= {"127.0.0.1", "::1", self.config.media.address}
        self.auth.set_listen_addresses(self._listen_addresses())
        self._purge = self.clock.call_later(PURGE_INTERVAL, self._purge_bindings)
        if self.admission is not None:
            self.admission.start()
        log.info("listening on %s", ", ".join(str(a) for a in self.local_addresses))
        self.destinations.start(self.config.trunks, self.endpoints)

    def _listen_addresses(self) -> list[tuple[str, int]]:
        """(IP, port) of every endpoint, a wildcard one on each of the local hosts."""
        pairs = []
        for endpoint in self.endpoints:
            host, port = endpoint.local_addr[:2]
            hosts = [h for h in self._local_hosts if h not in ("0.0.0.0", "::")] if host in ("0.0.0.0", "::") else [host]
            pairs += [(h, port) for h in hosts]
        return pairs

    async def _open(self, listen: ListenAddress, shared_port: int | None) -> SipEndpoint:
        kwargs: dict[str, Any] = {"timers": self.timers, "on_parse_error": self._parse_error,
                                  "clock": self.clock}
        if listen.transport == "tls":
            kwargs["tls"] = self.config.tls.options()
        screen = None if self.admission is None else self.admission.screen
        if listen.port == 0 and shared_port:
            try:  # the same port number for UDP and TCP, like the default 5060
                return await open_listener(listen.transport, listen.host, shared_port, self._on_event,
                                           screen=screen, **kwargs)
            except OSError:
                pass
        return await open_listener(listen.transport, listen.host, listen.port, self._on_event, screen=screen,
                                   **kwargs)

    async def stop(self) -> None:
        """Release every call, relay and socket."""
        if self._purge is not None:
            self._purge.cancel()
            self._purge = None
        if self.admission is not None:
            self.admission.stop()
        self.destinations.stop()
        self.b2bua.close_all()
        self.relays.close_all()
        self._close_endpoints()
        await asyncio.sleep(0)  # let the transports' close callbacks run

    def _close_endpoints(self) -> None:
        for endpoint in self.endpoints:
            endpoint.close()
        self.endpoints.clear()

    def _purge_bindings(self) -> None:
        self.registrar.purge(self.clock.time())
        self.relays.trim()  # an idle server closes its parked relay sockets too
        self._purge = self.clock.call_later(PURGE_INTERVAL, self._purge_bindings)

    # -- input --------------------------------------------------------------------------------------
    def _parse_error(self, data: bytes, addr: Addr, error: SIPParseError) -> None:
        self.malformed += 1
        if error_response_bytes(data, error) is None:
            log.info("dropped %d bytes from %s:%d: %s", len(data), addr[0], addr[1], error)

    def _on_event(self, event: Event, endpoint: SipEndpoint) -> None:
        if not isinstance(event, RequestReceived):
            return  # timeouts of our error responses, ends of transactions, responses to stray CANCELs
        try:
            self._on_request(event, endpoint)
        except SIPParseError as exc:
            log.info("%s from %s:%d rejected: %s", event.request.method, *event.addr, exc)
            transaction = event.transaction
            answered = transaction is not None and transaction.last_response is not None and (
                transaction.last_response.status >= 200)
            if transaction is not None and not answered and event.request.method != "ACK":
                self._reply(endpoint, event, exc.status_hint, why=str(exc))

    def _reply(self, endpoint: SipEndpoint, event: RequestReceived, status: int, reason: str | None = None, *,
               headers: Iterable[tuple[str, str]] = (), why: str = "") -> None:
        """Answer the request of ``event`` through its own server transaction."""
        extra = list(headers)
        if why:
            extra.append(("Warning", warning(endpoint.warn_agent, why)))
        response = build_response(event.request, status, reason, to_tag=self.ids.tag(), headers=extra,
                                  server=self.config.user_agent)
        endpoint.send_response(response, event.transaction)

    def _on_request(self, event: RequestReceived, endpoint: SipEndpoint) -> None:
        request = event.request
        method = request.method
        if method == "ACK":
            self.b2bua.on_ack(request)
            return
        if method == "CANCEL":
            self.b2bua.on_cancel(event, endpoint)
            return
        if method not in ALLOWED_METHODS:
            self._reply(endpoint, event, 501, headers=[("Allow", ALLOW)], why=f"method {method[:40]} is not implemented")
            return
        refusal = check_request(request, supported_schemes=("sip",), supported_extensions=SUPPORTED_OPTION_TAGS,
                                accepted_content_types=_understood_bodies(request), to_tag=self.ids.tag,
                                warn_agent=endpoint.warn_agent)
        if refusal is not None:
            log.info("%s from %s:%d refused %d", method, *event.addr, refusal.status)
            if self.config.user_agent:
                refusal.headers.add("Server", self.config.user_agent)
            endpoint.send_response(refusal, event.transaction)
            return
        if request.to.tag is not None:
            if not self.b2bua.on_request(event, endpoint):
                self._reply(endpoint, event, 481, why="no such dialog")
            return
        if method in _DIALOG_ONLY:
            self._reply(endpoint, event, 481, why=f"{method} outside a dialog")
            return
        route = self.router.route_request(request, self._local_hosts)
        if method == "OPTIONS":
            self._options(endpoint, event, route)
        elif route.status is not None:
            self._reply(endpoint, event, route.status, why=route.reason)
        elif method == "REGISTER":
            self._register(event, endpoint, route)
        elif request.max_forwards == 0:
            self._reply(endpoint, event, 483, why="Max-Forwards is 0")
        else:
            self._invite(event, endpoint, route)

    def _options(self, endpoint: SipEndpoint, event: RequestReceived, route: Route) -> None:
        uri = event.request.uri_parsed
        ours = isinstance(uri, SipURI) and any(_same_host(uri.host, h) for h in self._local_hosts)
        if route.status is not None and not ours:
            self._reply(endpoint, event, route.status, why=route.reason)
            return
        self._reply(endpoint, event, 200, headers=[("Allow", ALLOW), ("Accept", ACCEPT), ("Supported", SUPPORTED)])

    # -- REGISTER -----------------------------------------------------------------------------------
    def _register(self, event: RequestReceived, endpoint: SipEndpoint, route: Route) -> None:
        request, now = event.request, self.clock.time()
        if route.kind != "registrar":
            self._reply(endpoint, event, 405, headers=[("Allow", ALLOW.replace(", REGISTER", ""))],
                        why=f"{route.domain} is a trunk: trunks do not register")
            return
        aor = route.user or "?"
        decision = self.auth.check_register(request, event.addr[0], now)
        if not decision.allowed:
            self._refuse(endpoint, event, decision)
            log.info("register aor=%s contacts=- status=%s from=%s:%d (%s)", aor, decision.status, *event.addr,
                     decision.reason)
            return
        result = self.registrar.handle_register(request, now, event.addr, endpoint.transport_name,
                                                date=self.clock.wall())
        why = result.reason if result.status >= 300 else ""
        self._reply(endpoint, event, result.status, headers=result.headers, why=why)
        log.info("register aor=%s contacts=%d status=%d from=%s:%d", aor, len(result.bindings), result.status,
                 *event.addr)

    def _refuse(self, endpoint: SipEndpoint, event: RequestReceived, decision: AuthDecision) -> None:
        assert decision.status is not None
        headers = decision.response_headers()
        if decision.decision is Decision.BAD_REQUEST:
            headers.append(("Warning", warning(endpoint.warn_agent, decision.reason)))
        self._reply(endpoint, event, decision.status, headers=headers)

    # -- INVITE -------------------------------------------------------------------------------------
    def _invite(self, event: RequestReceived, endpoint: SipEndpoint, route: Route) -> None:
        request, source, now = event.request, event.addr[0], self.clock.time()
        if route.kind == "trunk":
            assert route.trunk is not None
            decision = self.auth.check_invite(route.trunk, request, source, now)
        else:
            decision = self.auth.check_call_to_extension(request, source, now)
        if not decision.allowed:
            log.info("INVITE %s from %s:%d: %s %s", request.call_id, *event.addr, decision.status, decision.reason)
            self._refuse(endpoint, event, decision)
            return
        if not request.contacts:
            self._reply(endpoint, event, 400, why="INVITE without Contact (RFC 3261 §8.1.1.8)")
            return
        try:
            offer = parse_sdp(request)  # checked here, and handed to the call so it is parsed once
        except SIPParseError as exc:
            self._reply(endpoint, event, 400, why=f"malformed SDP: {exc}")
            return
        refusal = srtp_refusal(offer, self.config.media.srtp)
        if refusal is not None:  # RFC 3264 §6: no stream of the offer is acceptable
            log.info("INVITE %s from %s:%d: 488 %s", request.call_id, *event.addr, refusal)
            self._reply(endpoint, event, 488, why=refusal)
            return
        min_se = interval_too_small(request, self.config.session_timer)  # RFC 4028 §9
        if min_se is not None:
            self._reply(endpoint, event, 422, headers=[("Min-SE", str(min_se))],
                        why=f"Session-Expires below this server's minimum of {min_se} s")
            return
        if route.kind == "trunk":
            self._trunk_call(event, endpoint, route, offer)
        else:
            self._extension_call(event, endpoint, route, offer)

    def _caller(self, request: Request) -> tuple[str, str | None]:
        uri = request.from_.uri
        user = uri.user if isinstance(uri, SipURI) and uri.user else "anonymous"
        return user, request.from_.display_name

    @staticmethod
    def _callee(request: Request) -> str | None:
        """The dialled user as written (escapes kept): the Request-URI user, else the To user."""
        for uri in (request.uri_parsed, request.to.uri):
            if isinstance(uri, SipURI) and uri.user:
                return uri.user
        return None

    def _endpoint_for(self, transport: str, prefer: SipEndpoint) -> SipEndpoint | None:
        wanted = transport.upper()
        if prefer.transport_name == wanted:
            return prefer
        return next((ep for ep in self.endpoints if ep.transport_name == wanted), None)

    def _trunk_call(self, event: RequestReceived, endpoint: SipEndpoint, route: Route,
                    offer: SessionDescription | None) -> None:
        request, trunk = event.request, route.trunk
        assert trunk is not None
        callee = self._callee(request)
        if callee is None:
            self._reply(endpoint, event, 484, why="no number to call in the Request-URI or To")
            return
        user, display = self._caller(request)
        plan = self.destinations.plan(trunk, request, endpoint, caller=user, display=display, callee=callee)
        if plan.refusal is not None:
            status, why = plan.refusal
            log.info("INVITE %s on trunk %s: %d %s", request.call_id, trunk.name, status, why)
            self._reply(endpoint, event, status, headers=[("Retry-After", str(plan.retry_after))], why=why)
            return
        if plan.dns is not None:
            dest, identity = plan.dns, plan.identity
            self.b2bua.start_call(endpoint, event, [], trunk=trunk.name, caller=user, callee=callee, offer=offer,
                                  locate=lambda: self.destinations.locate(trunk, dest, identity, endpoint))
            return
        self.b2bua.start_call(endpoint, event, plan.targets, trunk=trunk.name, caller=user, callee=callee,
                              offer=offer)

    def _extension_call(self, event: RequestReceived, endpoint: SipEndpoint, route: Route,
                        offer: SessionDescription | None) -> None:
        request, user = event.request, route.user
        if user is None or self.config.extension_password(user) is None:
            self._reply(endpoint, event, 404, why=f"no extension {user!r} in {route.domain}")
            return
        bindings = self.registrar.lookup(user, self.clock.time())
        caller, display = self._caller(request)
        targets = []
        for binding in bindings:
            out = self._endpoint_for(binding.transport, endpoint)
            if out is not None:
                targets.append(Target(binding.uri, f"sip:{user}@{self.config.registrar.domain}",
                                      str(request.from_.uri), display, binding.source, out, srtp=None))
        if not targets:
            self._reply(endpoint, event, 480, why=f"extension {user} has no registered contact")
            return
        self.b2bua.start_call(endpoint, event, targets, trunk=f"registrar:{route.domain}", caller=caller,
                              callee=user, offer=offer)


def with_listen(config: ServerConfig, *addresses: str) -> ServerConfig:
    """``config`` listening on ``addresses`` ("udp:127.0.0.1:0" picks a free port: for tests)."""
    listen = []
    for text in addresses:
        transport, host, port = text.rsplit(":", 2) if text.count(":") >= 2 else (text, "127.0.0.1", "0")
        listen.append(ListenAddress(transport.lower(), host.strip("[]"), int(port)))
    return dataclasses.replace(config, listen=tuple(listen))

