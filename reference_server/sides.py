"""The two sides of a confirmed call as the in-dialog relay sees them (:class:`Side`), and a re-INVITE
on its way from one side to the other (:class:`ReInvite`, at most one per call at a time)."""

from __future__ import annotations

from dataclasses import dataclass

from sipcore.aio.endpoint import SipEndpoint
from sipcore.dialog import Dialog
from sipcore.message import Request
from sipcore.transaction import ClientTransaction, ServerTransaction

from .call_context import CallContext
from .sip_util import Addr, Reliable2xx

__all__ = ["ReInvite", "Side"]


@dataclass(frozen=True)
class Side:
    """One leg of the call as the in-dialog relay sees it."""

    name: str  # "A" (the caller) or "B" (the destination)
    endpoint: SipEndpoint
    addr: Addr
    dialog: Dialog

    def local(self, ctx: CallContext) -> Addr:
        return ctx.local(self.endpoint)


@dataclass(eq=False)
class ReInvite:
    """A re-INVITE relayed from ``upstream`` to ``downstream``, until its ACK has crossed."""

    upstream: Side
    request: Request
    server_transaction: ServerTransaction
    downstream: Side
    forwarded: Request
    transaction: ClientTransaction | None = None
    ack: Request | None = None
    retransmit: Reliable2xx | None = None
    directions: dict[str, str] | None = None  # the media directions before its offer (restored on failure)
