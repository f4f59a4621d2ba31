"""The B2BUA: the calls in progress and the maps that find a call from a message in O(1).

- ``calls``: every call by its own key (the relay's key);
- INVITE server transactions (the caller's INVITE until it has a final response, a re-INVITE being
  relayed) -> call, for CANCEL (the transaction layer names the INVITE a CANCEL matches);
- dialog id (Call-ID, local tag, remote tag, RFC 3261 §12) -> (call, B leg or None for the A leg,
  dialog), for ACK, BYE and every other in-dialog request on either leg.

Policy (routing, authentication, which targets a call rings) is the server's; what a call does with early
media and with the destination's final error is the ``media_policy`` and ``hangup_policy`` of the
:class:`~reference_server.call_context.CallContext` every call is given (the spec's behaviour by default);
call behaviour is :mod:`reference_server.call` and :mod:`reference_server.indialog`. The B2BUA is each
call's :class:`~reference_server.call.CallOwner`.
"""

from __future__ import annotations

import logging

from sipcore.aio.endpoint import SipEndpoint
from sipcore.dialog import Dialog, DialogId, dialog_id_of
from sipcore.errors import SIPParseError
from sipcore.message import Request
from sipcore.sdp import SessionDescription
from sipcore.transaction import RequestReceived, ServerTransaction

from . import indialog
from .call import Call, CallState
from .call_context import CallContext
from .legs import BLeg, Locate, Target

log = logging.getLogger(__name__)

__all__ = ["B2BUA"]

DialogEntry = tuple[Call, BLeg | None, Dialog]


class B2BUA:
    """Calls in progress; see the module docstring."""

    def __init__(self, ctx: CallContext) -> None:
        self.ctx = ctx
        self.calls: dict[str, Call] = {}
        self._by_invite: dict[int, Call] = {}
        self._dialogs: dict[DialogId, DialogEntry] = {}
        self.calls_started = 0

    # -- calls --------------------------------------------------------------------------------------
    def start_call(self, endpoint: SipEndpoint, event: RequestReceived, targets: list[Target], *,
                   trunk: str, caller: str, callee: str, offer: SessionDescription | None = None,
                   locate: Locate | None = None) -> Call:
        """An authenticated INVITE: answer 100 Trying, open the relay, send one B leg per target.
        ``offer``: the INVITE's SDP when the caller has parsed it already (it is not parsed again).
        ``locate``: finds the targets first (a destination named by host name)."""
        assert event.transaction is not None
        call = Call(self.ctx, self, endpoint, event, targets, trunk=trunk, caller=caller, callee=callee,
                    offer=offer, locate=locate)
        self.calls[call.key] = call
        self.calls_started += 1
        self._by_invite[id(event.transaction)] = call
        call.start()
        return call

    def call_finished(self, call: Call) -> None:
        self.calls.pop(call.key, None)
        self.forget_invite(call)
        if call.reinvite is not None:
            self.unwatch_reinvite(call.reinvite.server_transaction)
            call.reinvite = None

    def forget_invite(self, call: Call) -> None:
        if self._by_invite.get(id(call.a_transaction)) is call:
            del self._by_invite[id(call.a_transaction)]

    def watch_reinvite(self, call: Call, transaction: ServerTransaction) -> None:
        self._by_invite[id(transaction)] = call

    def unwatch_reinvite(self, transaction: ServerTransaction) -> None:
        self._by_invite.pop(id(transaction), None)

    def hang_up(self, call: Call, why: str, reason: str | None = None) -> None:
        indialog.hang_up(call, why, reason)

    def close_all(self) -> None:
        """Release every call at once (server shutdown): no BYEs, relays closed."""
        for call in list(self.calls.values()):
            call.finish()

    # -- dialogs ------------------------------------------------------------------------------------
    def add_dialog(self, dialog: Dialog, call: Call, leg: BLeg | None) -> Dialog:
        self._dialogs[dialog.id] = (call, leg, dialog)
        return dialog

    def remove_dialog(self, dialog: Dialog) -> None:
        dialog_id = dialog.id
        entry = self._dialogs.get(dialog_id)
        if entry is not None and entry[2] is dialog:
            del self._dialogs[dialog_id]

    @property
    def pending_invites(self) -> int:
        """INVITE server transactions awaiting their final response (calls being set up, re-INVITEs)."""
        return len(self._by_invite)

    @property
    def dialog_count(self) -> int:
        return len(self._dialogs)

    @property
    def watched_invites(self) -> int:
        """INVITE server transactions a CANCEL may still reach a call through."""
        return len(self._by_invite)

    def _lookup(self, request: Request) -> DialogEntry | None:
        try:
            dialog_id = dialog_id_of(request, uas=True)
        except SIPParseError:
            return None
        return None if dialog_id is None else self._dialogs.get(dialog_id)

    # -- requests for calls -------------------------------------------------------------------------
    def on_cancel(self, event: RequestReceived, endpoint: SipEndpoint) -> None:
        """CANCEL (RFC 3261 §9.2): 481 when it matches no INVITE, else 200, then cancel the call."""
        cancel, invite_transaction = event.request, event.invite_transaction
        call = None if invite_transaction is None else self._by_invite.get(id(invite_transaction))
        ctx = self.ctx
        if invite_transaction is None:
            endpoint.send_response(ctx.response(cancel, 481, to_tag=ctx.ids.tag()), event.transaction)
            return
        to_tag = call.a_tag if call is not None and call.a_transaction is invite_transaction else ctx.ids.tag()
        endpoint.send_response(ctx.response(cancel, 200, to_tag=to_tag), event.transaction)
        if call is None:
            return  # the INVITE already has its final response: the CANCEL has no effect
        if call.a_transaction is invite_transaction:
            call.cancel(cancel.headers.get("Reason"))
        else:
            indialog.cancel_reinvite(call)

    def on_ack(self, ack: Request) -> None:
        """An ACK outside any transaction: for a 2xx the server relayed (initial INVITE or re-INVITE)."""
        entry = self._lookup(ack)
        if entry is None:
            return
        call, leg, dialog = entry
        if leg is None and call.state is CallState.ANSWERED:
            call.on_a_ack(ack)
        elif call.reinvite is not None and call.reinvite.upstream.dialog is dialog:
            indialog.on_reinvite_ack(call, ack)

    def on_request(self, event: RequestReceived, endpoint: SipEndpoint) -> bool:
        """A request with a To tag; False when it belongs to no dialog of ours (the caller answers 481)."""
        entry = self._lookup(event.request)
        if entry is None:
            return False
        call, leg, dialog = entry
        if event.request.method == "PRACK" and leg is None:  # RFC 3262: reference_server.reliable
            call.reliable.on_prack(event, endpoint, dialog)
        else:
            indialog.relay_request(call, leg, dialog, event, endpoint)
        return True
