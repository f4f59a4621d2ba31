"""Reliable provisional responses (RFC 3262) for the simulated UA and destination.

UA (``prack = True``): ``Supported: 100rel`` in its INVITE, and a PRACK (``RAck: rseq cseq INVITE``) in
the early dialog for each reliable provisional response, once: a retransmission (an RSeq already
acknowledged) gets none, the PRACK's own transaction retransmits it (:class:`PrackSender`).

Destination (``reliable = "on"``): when the INVITE supports 100rel, its 180/183 go with ``Require:
100rel`` and an RSeq (starting at random, one more per response), retransmitted after T1, 2*T1 ...
until the PRACK, and the 2xx waits for the PRACK of the last one (RFC 3262 §3: the 183 carries the SDP
answer). ``reliable = "require"``: an INVITE that does not support 100rel gets 421 Extension Required
(``Require: 100rel``).
"""

from __future__ import annotations

import random

from sipcore.dialog import Dialog
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response
from sipcore.session_timer import MAX_RSEQ, RAck, is_reliable, parse_rack, parse_rseq

from .agent import Agent
from .settings import Addr

__all__ = ["PrackSender", "first_rseq", "rack_of"]


def first_rseq() -> int:
    """A random first RSeq (RFC 3262 §3: between 1 and 2**31 - 1, leaving room to count up)."""
    return random.SystemRandom().randint(1, MAX_RSEQ // 2)


def rack_of(request: Request) -> RAck | None:
    try:
        return parse_rack(request)
    except SIPParseError:
        return None


class PrackSender:
    """The UA's side: PRACK each reliable provisional response of one INVITE, once."""

    def __init__(self, agent: Agent, call_id: str) -> None:
        self.agent, self.call_id = agent, call_id
        self.acked: set[tuple[str | None, int]] = set()  # (To tag, RSeq)
        self.dialogs: dict[str, Dialog] = {}  # early dialogs by To tag
        self.statuses: list[int] = []  # final statuses of the PRACKs sent

    def on_provisional(self, invite: Request, response: Response, target: Addr, headers: list[tuple[str, str]]) -> None:
        if not is_reliable(response) or response.to.tag is None:
            return
        try:
            rseq = parse_rseq(response)
        except SIPParseError as exc:
            self.agent.record.add("note", f"reliable {response.status} with a bad RSeq: {exc}", self.call_id)
            return
        tag = response.to.tag
        if rseq is None or (tag, rseq) in self.acked:
            return
        self.acked.add((tag, rseq))
        agent = self.agent
        ep = agent.ep
        try:
            dialog = self.dialogs.get(tag) or Dialog.from_uac(invite, response)
            self.dialogs[tag] = dialog
            prack = dialog.create_request("PRACK", branch=agent.ids.branch(), local_addr=ep.local_addr,
                                          transport=ep.transport_name,
                                          extra_headers=[("RAck", str(RAck(rseq, response.cseq.seq, "INVITE"))),
                                                         *headers])
        except (ProtocolError, SIPParseError) as exc:
            agent.record.add("note", f"no PRACK for the reliable {response.status}: {exc}", self.call_id)
            return

        def done(event: object) -> None:
            status = getattr(getattr(event, "response", None), "status", None)
            if isinstance(status, int) and status >= 200:
                self.statuses.append(status)

        ep.send_request(prack, target, done)
