"""Session timers (RFC 4028) on one call through the B2BUA.

The server refreshes nobody's session itself: the refresh is the caller's or the destination's, and the
server relays it, like any re-INVITE or UPDATE (:mod:`reference_server.indialog`). What it adds:

- the caller's INVITE is refused with 422 and ``Min-SE`` when it asks for an interval under the server's
  ``min_se`` and says it supports ``timer`` (:func:`interval_too_small`; a caller that does not would not
  understand the 422: its interval is raised to ``min_se`` instead);
- the INVITE to the destination asks for the caller's interval (or ``session_expires``), never less than
  ``min_se``, with ``Supported: timer`` and ``Min-SE``; the refresher the caller asked for is kept, and a
  caller that does not support ``timer`` (so cannot refresh) gets ``refresher=uas``: the destination
  refreshes;
- the destination's 2xx gives the interval and the refresher; a destination without session timers
  leaves it to the caller (``refresher=uac``) when the caller supports them. The caller's 2xx says so
  (``Require: timer`` when the caller refreshes), and so does the 2xx to a refresh that the far end
  answered without ``Session-Expires``;
- every 2xx to a relayed re-INVITE or UPDATE restarts the session; when none has come by the interval
  minus the smaller of 32 s and a third of it (RFC 4028 §10) the server ends the call with BYE on both
  legs, ``Reason: Q.850;cause=102`` (recovery on timer expiry).
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Protocol

from sipcore.aio.clock import TimerHandle
from sipcore.errors import SIPParseError
from sipcore.message import Message, Request, Response
from sipcore.q850 import reason_header
from sipcore.session_timer import (
    SessionExpires,
    bye_delay,
    has_option_tag,
    parse_min_se,
    parse_session_expires,
)

from .call_context import CallContext
from .call_state import CallState
from .session_config import SessionTimerConfig

log = logging.getLogger("reference_server.call")

__all__ = ["Call", "CallTimer", "interval_too_small"]

EXPIRED_CAUSE = 102  # Q.850: recovery on timer expiry


class _Owner(Protocol):
    def hang_up(self, call: Any, why: str, reason: str | None = None) -> None: ...


class Call(Protocol):
    """What the session timer reads of its call (:class:`reference_server.call.Call`)."""

    a_invite: Request
    ctx: CallContext
    state: CallState

    @property
    def owner(self) -> _Owner: ...


def interval_too_small(invite: Request, config: SessionTimerConfig) -> int | None:
    """The Min-SE to answer 422 with when ``invite`` asks for less than ``config.min_se`` and supports
    ``timer`` (RFC 4028 §9), else None. SIPParseError for a malformed Session-Expires."""
    asked = parse_session_expires(invite)
    if asked is None or asked.interval >= config.min_se or not has_option_tag(invite, "timer"):
        return None
    return config.min_se


def _session_expires(message: Message, call_id: str) -> SessionExpires | None:
    try:
        return parse_session_expires(message)
    except SIPParseError as exc:
        log.info("call %s: Session-Expires ignored: %s", call_id, exc)
        return None


class CallTimer:
    """The session timer of one call; see the module docstring."""

    def __init__(self, call: Call, config: SessionTimerConfig) -> None:
        self._call, self.config = weakref.ref(call), config  # no cycle: an ended call is freed at once
        invite = call.a_invite
        self.call_id = invite.call_id
        self.caller_supports = has_option_tag(invite, "timer")
        self.asked = _session_expires(invite, self.call_id)
        try:
            self.caller_min_se = parse_min_se(invite, 0)
        except SIPParseError:
            self.caller_min_se = 0
        self.interval: int | None = None  # the session interval agreed (None: no session timer)
        self.refreshes = 0
        self._handle: TimerHandle | None = None

    @property
    def call(self) -> Call:
        call = self._call()
        if call is None:
            raise ReferenceError("the call has been released")
        return call

    def invite_headers(self) -> list[tuple[str, str]]:
        """Session-Expires and Min-SE for the INVITE to the destination."""
        config = self.config
        interval = max(self.asked.interval if self.asked is not None else config.session_expires, config.min_se)
        refresher = self.asked.refresher if self.asked is not None else None
        if not self.caller_supports:
            refresher = "uas"
        return [("Session-Expires", str(SessionExpires(interval, refresher))),
                ("Min-SE", str(max(self.caller_min_se, config.min_se)))]

    def answer_headers(self, answer: Response) -> list[tuple[str, str]]:
        """The destination's 2xx decides the session; the header fields for the caller's 2xx. Starts the
        session's clock."""
        agreed = _session_expires(answer, self.call_id)
        if agreed is None:
            if not self.caller_supports or self.asked is None:
                return []  # neither side runs a session timer
            agreed = SessionExpires(max(self.asked.interval, self.config.min_se), "uac")
        elif agreed.refresher is None:
            agreed = SessionExpires(agreed.interval, "uac")
        if agreed.refresher == "uac" and not self.caller_supports:
            log.info("call %s: the destination left the refresh to a caller without session timers: "
                     "no session timer", self.call_id)
            return []
        self.interval = agreed.interval
        self._arm()
        if not self.caller_supports:
            return []
        return [("Session-Expires", str(agreed)), *self._require(agreed)]

    def refreshed(self, request: Request, response: Response) -> list[tuple[str, str]]:
        """A 2xx to a relayed re-INVITE or UPDATE: the session starts over (with the interval it names).
        The header fields to add to the relayed 2xx: Session-Expires when the far end sent none although
        the request asked for one (the server supports timers: the requester refreshes)."""
        if self.interval is None or self.call.state not in (CallState.ANSWERED, CallState.CONFIRMED):
            return []
        extra: list[tuple[str, str]] = []
        agreed = _session_expires(response, self.call_id)
        if agreed is None:
            asked = _session_expires(request, self.call_id)
            if asked is not None:
                agreed = SessionExpires(max(asked.interval, self.config.min_se), asked.refresher or "uac")
                extra = [("Session-Expires", str(agreed)), *self._require(agreed)]
        if agreed is not None:
            self.interval = agreed.interval
        self.refreshes += 1
        self._arm()
        return extra

    @staticmethod
    def _require(agreed: SessionExpires) -> list[tuple[str, str]]:
        # RFC 4028 §9: a 2xx naming the UAC as refresher requires it to understand timer
        return [("Require", "timer")] if agreed.refresher == "uac" else []

    def _arm(self) -> None:
        self.stop()
        assert self.interval is not None
        self._handle = self.call.ctx.clock.call_later(bye_delay(self.interval), self._expired)

    def _expired(self) -> None:
        self._handle = None
        call = self.call
        if call.state not in (CallState.ANSWERED, CallState.CONFIRMED):
            return
        why = (f"no session refresh within {bye_delay(self.interval or 0):g} s of the last "
               f"(Session-Expires {self.interval}, RFC 4028 §10)")
        call.owner.hang_up(call, why, reason_header(EXPIRED_CAUSE, "Session timer expired"))

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
