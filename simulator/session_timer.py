"""Session timers (RFC 4028) for the simulated UA and destination: what the INVITE asks, what a 2xx
answers, and the refreshes one side owes (:class:`Refresher`).

The UA asks for ``session_expires`` (``Supported: timer``, its ``refresher`` choice); the side the 2xx
names as refresher sends a refresh -- UPDATE without a body or a re-INVITE with its SDP unchanged -- at
half the interval (RFC 4028 §10), and again after each, until the call ends. A side told not to refresh
(``refresh = False``: a broken refresher, to test that the trunk ends the call) lets it lapse. Every
incoming INVITE or UPDATE that asks for a session interval is answered with it (:func:`answer_headers`).
The simulator never sends the BYE RFC 4028 gives the other side when a refresh is missing: that is what
the trunk under test is checked for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from sipcore.dialog import Dialog
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response
from sipcore.session_timer import SessionExpires, has_option_tag, parse_session_expires, refresh_delay

from .agent import Agent
from .settings import Addr, SessionTimer

__all__ = ["REFRESH_METHODS", "Refresher", "SessionTimer", "answer_headers", "offer_headers", "session_of"]

REFRESH_METHODS = ("UPDATE", "INVITE")


def offer_headers(timer: SessionTimer) -> list[tuple[str, str]]:
    """Session-Expires for an INVITE, when this side asks for a session interval."""
    if not timer.supported or timer.interval is None:
        return []
    return [("Session-Expires", str(SessionExpires(timer.interval, timer.refresher)))]


def session_of(message: Request | Response) -> SessionExpires | None:
    try:
        return parse_session_expires(message)
    except SIPParseError:
        return None


def answer_headers(request: Request, timer: SessionTimer) -> tuple[list[tuple[str, str]], SessionExpires | None]:
    """The 2xx's Session-Expires (and Require: timer when the requester refreshes) for an INVITE or UPDATE
    that asks for a session interval, and the session agreed; nothing when it asks none or this side has
    no session timers (RFC 4028 §9)."""
    asked = session_of(request)
    if asked is None or not timer.supported:
        return [], None
    refresher = asked.refresher or timer.refresher or "uas"
    if refresher == "uac" and not has_option_tag(request, "timer"):
        refresher = "uas"  # a requester that does not support timer cannot be told to refresh
    agreed = SessionExpires(asked.interval, refresher)
    headers = [("Session-Expires", str(agreed))]
    if refresher == "uac":
        headers.append(("Require", "timer"))
    return headers, agreed


@dataclass
class Refresher:
    """Sends the refreshes one side owes in one dialog, every half interval, until cancelled."""

    agent: Agent
    dialog: Dialog
    target: Addr
    interval: int
    call_id: str
    method: str = "UPDATE"
    sdp: Callable[[], bytes] = bytes
    """This side's current SDP (a re-INVITE refresh offers it unchanged)."""
    extra_headers: tuple[tuple[str, str], ...] = ()
    sent: list[int] = field(default_factory=list)
    """The final status of each refresh sent."""

    async def run(self) -> None:
        agent = self.agent
        while True:
            await agent.clock.sleep(refresh_delay(self.interval))
            ep = agent.ep
            body = self.sdp() if self.method == "INVITE" else b""
            try:
                request = self.dialog.create_request(
                    self.method, branch=agent.ids.branch(), local_addr=ep.local_addr, transport=ep.transport_name,
                    body=body, content_type="application/sdp" if body else None,
                    extra_headers=[("Session-Expires", f"{self.interval};refresher=uac"), ("Supported", "timer"),
                                   *self.extra_headers])
            except ProtocolError as exc:
                agent.record.add("note", f"no session refresh: {exc}", self.call_id)
                return
            agent.record.add("note", f"session refresh ({self.method}, Session-Expires {self.interval})", self.call_id)
            try:
                response = await ep.request(request, self.target, timeout=agent.transaction_bound)
            except TimeoutError as exc:
                agent.record.add("timeout", f"session refresh: {exc}", self.call_id)
                return
            self.sent.append(response.status)
            if self.method == "INVITE" and 200 <= response.status < 300:
                ack = self.dialog.create_ack(request.cseq.seq, agent.ids.branch(), ep.local_addr,
                                             transport=ep.transport_name)
                ep.send_stateless(ack, self.target)
            if not 200 <= response.status < 300:
                agent.record.add("note", f"session refresh answered {response.status}: refreshes stop", self.call_id)
                return
            agreed = session_of(response)
            if agreed is not None:
                self.interval = agreed.interval
                if agreed.refresher == "uas":  # the other side refreshes from now on
                    return


def spawn_refresher(agent: Agent, refresher: Refresher) -> asyncio.Task[None]:
    return agent.spawn(refresher.run())
