"""The simulated destination: the carrier gateway or phone the trunk relays calls to.

    dest = await Destination.start(DestinationSettings(
        listen=("127.0.0.30", 5080),
        script=[Send100(), Send183(early_media=True), Answer(after_ms=500), HangupAfter(2000)]))
    ...
    await dest.wait_for_calls(1, timeout=5)
    call = dest.calls[0]            # IncomingCall: statuses sent, CANCEL/ACK/BYE seen, RTP counts
    await dest.stop()

Every INVITE is answered by the same script (see :mod:`simulator.settings` for the steps and their order),
or by the script of the number it calls (``DestinationSettings.numbers``, by the Request-URI's user part);
every request and response it sees or sends is in ``dest.record``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sipcore.aio.clock import LOOP_CLOCK, Clock
from sipcore.transaction import RequestReceived
from sipcore.uri import SipURI

from .agent import Agent, wait_until
from .record import Record
from .settings import (
    Addr,
    Answer,
    DestinationSettings,
    HangupAfter,
    NeverAnswer,
    Reject,
    Send100,
    Send180,
    Send183,
    SettingsError,
    Step,
    Wait,
)
from .uas import IncomingCall, UasCall

__all__ = ["Destination", "IncomingCall", "script_for"]


def script_for(*, wait_ms: int = 0, send_100: bool = True, ringing: bool = True, early_media: bool = False,
               answer_after_ms: int = 0, reject: int | None = None, reason: str | None = None,
               reason_header: str | None = None, never_answer: bool = False,
               hangup_after_ms: int | None = None, reject_after_ms: int = 0) -> tuple[Step, ...]:
    """The script for a behaviour given as options, steps in the documented order: wait, 100, 180, 183
    (early media), then answer (after a delay, optionally hanging up later), reject (after a delay) or
    never answer."""
    if reject is not None and never_answer:
        raise SettingsError("reject and never-answer cannot both be set")
    if hangup_after_ms is not None and (reject is not None or never_answer):
        raise SettingsError("hangup-after needs the call to be answered (not rejected or never answered)")
    if reject is None and (reason is not None or reason_header is not None or reject_after_ms):
        raise SettingsError("a reason phrase, Reason header or reject delay needs a reject status")
    steps: list[Step] = []
    if wait_ms:
        steps.append(Wait(wait_ms))
    if send_100:
        steps.append(Send100())
    if ringing:
        steps.append(Send180())
    if early_media:
        steps.append(Send183(early_media=True))
    if reject is not None:
        if reject_after_ms:
            steps.append(Wait(reject_after_ms))
        steps.append(Reject(reject, reason, reason_header))
    elif never_answer:
        steps.append(NeverAnswer())
    else:
        steps.append(Answer(answer_after_ms))
        if hangup_after_ms is not None:
            steps.append(HangupAfter(hangup_after_ms))
    return tuple(steps)


class Destination(Agent):
    def __init__(self, settings: DestinationSettings, record: Record, clock: Clock = LOOP_CLOCK) -> None:
        super().__init__(record, settings.timers, clock)
        self.settings = settings
        self.calls: list[IncomingCall] = []

    @classmethod
    async def start(cls, settings: DestinationSettings, record: Record | None = None, *,
                    clock: Clock = LOOP_CLOCK) -> Destination:
        """Bind the listen address (SettingsError when it is in use) and answer INVITEs by the script.
        The transaction layer sends no 100 Trying of its own: the script decides. Its timers (and the
        script's waits) run on ``clock`` (see :mod:`simulator.agent`)."""
        name = f"destination {settings.listen[0]}:{settings.listen[1]}"
        dest = cls(settings, record or Record(name, clock=clock), clock)
        await dest._open(settings.transport, settings.listen, auto_100_delay=None, tls=settings.tls)
        return dest

    @classmethod
    async def for_behaviour(cls, listen: Addr = ("127.0.0.1", 5080), *, record: Record | None = None,
                            transport: str = "UDP", honour_cancel: bool = True,
                            settings: dict[str, Any] | None = None, clock: Clock = LOOP_CLOCK,
                            **behaviour: Any) -> Destination:
        """Start with the script :func:`script_for` makes of ``behaviour`` (``early_media=True``,
        ``answer_after_ms=500``, ``reject=404`` ...); ``settings`` holds other DestinationSettings fields."""
        base = DestinationSettings(listen=listen, transport=transport, honour_cancel=honour_cancel,
                                   script=script_for(**behaviour))
        return await cls.start(replace(base, **(settings or {})), record, clock=clock)

    async def stop(self) -> None:
        """Cancel calls still running (their RTP stops), wait for them (bounded), close the socket."""
        await self._close()

    async def __aenter__(self) -> Destination:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def on_invite(self, event: RequestReceived) -> None:
        s = self.settings
        uri = event.request.uri_parsed
        script = s.script_for_user(uri.user if isinstance(uri, SipURI) else None) if s.numbers else s.script
        call = UasCall(self, event, script, honour_cancel=s.honour_cancel, tone_hz=s.tone_hz,
                       media_host=s.media_host, contact_user=s.contact_user, max_call_ms=s.max_call_ms,
                       keep_sending_on_hold=s.keep_sending_on_hold,
                       reliable=s.reliable, session_timer=s.session_timer)
        self.calls.append(call.info)
        self.spawn(call.run())

    async def wait_for_calls(self, count: int = 1, timeout: float = 10.0) -> bool:
        """True once ``count`` calls have ended (whatever their outcome) within ``timeout`` seconds of the
        event loop's time: a bound on waiting for what the calls do, not one of their timers."""
        return await wait_until(lambda: sum(c.done.is_set() for c in self.calls) >= count, timeout)

    @property
    def finished_calls(self) -> list[IncomingCall]:
        return [c for c in self.calls if c.done.is_set()]
