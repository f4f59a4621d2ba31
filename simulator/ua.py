"""The simulated UA: calls through the trunk, registers to receive calls, answers them.

    ua = await UserAgent.start(UaSettings(listen=("127.0.0.20", 0), username="alice", password="pw",
                                          target=("127.0.0.10", 5060)))
    call = await ua.call("+15551234567", hold_ms=500)          # sip:+15551234567@{domain}
    assert call.status == 200 and call.rtp_received > 0
    await ua.register(expires=60); ...; await ua.unregister()
    await ua.stop()

Incoming INVITEs for the UA's user are answered 180 then 200 after ``answer_after_ms`` (or as
``incoming_script`` says, a destination's script; 480 when ``answer_incoming`` is off; 404 for another user)
and kept in ``ua.incoming``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sipcore.aio.clock import LOOP_CLOCK, Clock
from sipcore.aio.resolver import SipResolver
from sipcore.errors import SIPParseError
from sipcore.locate import LocateError
from sipcore.transaction import RequestReceived
from sipcore.uri import SipURI, parse_uri

from .agent import Agent, wait_until
from .record import Record
from .register import Registration, RegistrationResult
from .settings import (
    Addr,
    Answer,
    MidCallStep,
    Reject,
    Send180,
    SettingsError,
    Step,
    UaSettings,
    check_addr,
    check_midcall,
    check_sip_uri,
)
from .uac import CallOptions, CallResult, OutgoingCall
from .uas import IncomingCall, UasCall

__all__ = ["CallResult", "IncomingCall", "RegistrationResult", "UserAgent"]


class UserAgent(Agent):
    def __init__(self, settings: UaSettings, record: Record, clock: Clock = LOOP_CLOCK) -> None:
        super().__init__(record, settings.timers, clock)
        self.settings = settings
        self.calls: list[CallResult] = []
        self.incoming: list[IncomingCall] = []
        self.registration: Registration | None = None

    @classmethod
    async def start(cls, settings: UaSettings, record: Record | None = None, *,
                    clock: Clock = LOOP_CLOCK) -> UserAgent:
        """Bind the listen address (SettingsError when it is in use) and start answering requests. Its
        timers run on ``clock`` (see :mod:`simulator.agent`)."""
        ua = cls(settings, record or Record(f"ua {settings.username}", clock=clock), clock)
        await ua._open(settings.transport, settings.listen, auto_100_delay=0.2, tls=settings.tls)
        ua.registration = Registration(ua, settings)
        return ua

    async def stop(self) -> None:
        """Stop refreshing, cancel running calls (bounded), close the socket. Does not unregister."""
        await self._close()

    async def __aenter__(self) -> UserAgent:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- calls --------------------------------------------------------------------------------------
    def _uri_for(self, to: str) -> str:
        if ":" in to.split("@", 1)[0]:
            return check_sip_uri(to, "to")
        return check_sip_uri(f"sip:{to}@{self.settings.domain}", "to")

    async def _targets_for(self, request_uri: str, target: Addr | None) -> list[Addr]:
        """Where the call's INVITE goes, in the order to try: ``target``, else the settings' target and
        alternates, else the Request-URI's server (its IP, or its name located as RFC 3263 says)."""
        s = self.settings
        if target is not None:
            return [check_addr(target, "target")]
        if s.target is not None:
            return [s.target, *s.alternates]
        uri = parse_uri(request_uri)
        if not isinstance(uri, SipURI):
            raise SettingsError(f"no target address for {request_uri}: set target=(ip, port) (the trunk's address)")
        family = "AAAA" if ":" in self.local_addr[0] else "A"
        try:
            located = await SipResolver(s.dns).locate(request_uri, transports=(self.transport_name.lower(),),
                                                      families=(family,))
        except LocateError as exc:
            raise SettingsError(f"no target address for {request_uri}: {exc}") from None
        return [t.addr for t in located]

    async def call(self, to: str, *, target: Addr | None = None, request_uri: str | None = None,
                   hold_ms: int | None = None, cancel_after_ms: int | None = None,
                   cancel_on_ringing: bool = False, expect_remote_bye: bool = False,
                   ring_timeout_ms: int | None = None, remote_bye_timeout_ms: int | None = None,
                   headers: Iterable[tuple[str, str]] = (), midcall: Iterable[MidCallStep] = ()) -> CallResult:
        """Place one call and return how it went (never raises on a SIP outcome; SettingsError on a bad
        argument). ``to`` is a URI, or a number/user put at the trunk domain. The call is held for
        ``hold_ms`` then hung up, or waits for the far end's BYE with ``expect_remote_bye``; ``midcall``
        steps (Hold, Resume, SendDigits) run once it is answered, before ``hold_ms`` counts."""
        s = self.settings
        to_uri = self._uri_for(to)
        ruri = check_sip_uri(request_uri, "request_uri") if request_uri is not None else to_uri
        for name, value in (("hold_ms", hold_ms), ("cancel_after_ms", cancel_after_ms),
                            ("ring_timeout_ms", ring_timeout_ms), ("remote_bye_timeout_ms", remote_bye_timeout_ms)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise SettingsError(f"{name}: {value!r} is not a number of milliseconds >= 0")
        targets = await self._targets_for(ruri, target)
        options = CallOptions(
            to_uri=to_uri, request_uri=ruri, target=targets[0], alternates=tuple(targets[1:]),
            hold_ms=s.hold_ms if hold_ms is None else hold_ms, cancel_after_ms=cancel_after_ms,
            cancel_on_ringing=cancel_on_ringing, expect_remote_bye=expect_remote_bye,
            ring_timeout_ms=s.ring_timeout_ms if ring_timeout_ms is None else ring_timeout_ms,
            remote_bye_timeout_ms=(s.remote_bye_timeout_ms if remote_bye_timeout_ms is None
                                   else remote_bye_timeout_ms),
            extra_headers=tuple(headers), midcall=check_midcall(tuple(midcall)))
        call = OutgoingCall(self, s, options)
        result: CallResult = await self.spawn(call.run())
        self.calls.append(result)
        return result

    # -- registration -------------------------------------------------------------------------------
    async def register(self, expires: int | None = None, *, refresh: bool = True) -> RegistrationResult:
        """REGISTER (answering a 401 with digest); refreshed before expiry while ``refresh``. Without a
        registrar or target address the registrar domain's server is located through DNS (RFC 3263)."""
        assert self.registration is not None
        expires = self.settings.register_expires if expires is None else expires
        try:
            return await self.registration.register(expires, refresh=refresh)
        except LocateError as exc:
            raise SettingsError(f"no registrar address for sip:{self.settings.aor_domain}: {exc}") from None

    async def unregister(self) -> RegistrationResult:
        """REGISTER with Expires 0 (the refresh stops)."""
        assert self.registration is not None
        try:
            return await self.registration.unregister()
        except LocateError as exc:
            raise SettingsError(f"no registrar address for sip:{self.settings.aor_domain}: {exc}") from None

    @property
    def registrations(self) -> list[RegistrationResult]:
        return self.registration.results if self.registration is not None else []

    async def wait_for_registrations(self, count: int, timeout: float) -> bool:
        """True once ``count`` REGISTER exchanges (refreshes included) have finished within ``timeout``
        seconds of the event loop's time (a bound on waiting: refreshes run on the agent's clock)."""
        assert self.registration is not None
        return await self.registration.wait_for_results(count, timeout)

    # -- incoming calls -----------------------------------------------------------------------------
    def on_invite(self, event: RequestReceived) -> None:
        request = event.request
        s = self.settings
        try:
            uri = request.uri_parsed
        except SIPParseError:
            self.respond(request, 416)
            return
        if isinstance(uri, SipURI) and uri.user not in (None, s.username):
            self.respond(request, 404)
            return
        script: tuple[Step, ...] = ((Send180(), Answer(s.answer_after_ms)) if s.answer_incoming
                                    else (Reject(480),))
        if s.incoming_script is not None and s.answer_incoming:
            script = s.incoming_script
        call = UasCall(self, event, script, honour_cancel=True, tone_hz=s.tone_hz, media_host=s.media_host,
                       contact_user=s.username, max_call_ms=3_600_000)
        self.incoming.append(call.info)
        self.spawn(call.run())

    async def wait_for_incoming(self, count: int = 1, timeout: float = 10.0) -> bool:
        """True once ``count`` incoming calls have ended, within ``timeout`` seconds of the event loop's
        time (a bound on waiting, not one of the calls' timers)."""
        return await wait_until(lambda: sum(c.done.is_set() for c in self.incoming) >= count, timeout)
