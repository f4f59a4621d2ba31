"""The caller's side of a call that forks: one A-leg early dialog per B-leg early dialog.

A call to an extension with several registered contacts rings them all at once (one B leg each), and a
destination may fork too; each B early dialog (a distinct To tag on a B leg, RFC 3261 §12.1) is relayed to
the caller as an early dialog of its own, under a To tag of the server's (RFC 3261 §13.2.2.4: the caller
sees the forks as a proxy's caller would). The first B early dialog gets the call's first tag (``a_tag``),
each further one a new tag; a 2xx is relayed under the tag of the early dialog it confirms (a new one when
its B dialog had no early phase), and that A dialog is the one the call keeps: the others end with the
2xx (the caller keeps exactly one confirmed dialog). A final error carries ``a_tag``.

Early media: every relayed 18x with SDP re-points the relay's B side at that fork's media, so the caller
hears the fork that sent the most recent 183 with SDP; RTP from the other forks is dropped by the relay
(:mod:`reference_server.latching`: once the new SDP address has latched, other sources are strangers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from sipcore.dialog import Dialog
from sipcore.errors import ProtocolError, SIPParseError
from sipcore.message import Request, Response

from .legs import BLeg

log = logging.getLogger("reference_server.call")

__all__ = ["CallerDialogs"]

COMPLETED_ELSEWHERE = 'SIP;cause=200;text="Call completed elsewhere"'
"""The Reason of the CANCEL sent to the legs that lost the race to a 2xx (RFC 3326)."""



class DialogOwner(Protocol):
    """Where the call's dialogs are registered (the B2BUA: :class:`reference_server.call.CallOwner`)."""

    def add_dialog(self, dialog: Dialog, call: Any, leg: BLeg | None) -> Dialog: ...
    def remove_dialog(self, dialog: Dialog) -> None: ...


class CallerDialogs:
    """The A-leg tags and dialogs of one call; see the module docstring."""

    def __init__(self, invite: Request, first_tag: str, new_tag: Callable[[], str], owner: DialogOwner) -> None:
        self.invite = invite
        self.first_tag = first_tag
        self._new_tag = new_tag
        self.owner = owner
        self._tags: dict[tuple[int, str], str] = {}  # (id of the B leg, its remote tag) -> the A tag
        self._forks: dict[str, tuple[BLeg, str]] = {}  # A tag -> (B leg, remote tag)
        self.dialogs: dict[str, Dialog] = {}  # A tag -> the A dialog, in the order they were created
        self.current: Dialog | None = None  # the most recent (early) or the confirmed A dialog

    def tag_for(self, leg: BLeg, remote_tag: str | None) -> str:
        """The A tag for the B dialog ``remote_tag`` of ``leg`` (the first tag for a response without one)."""
        if remote_tag is None:
            return self.first_tag
        key = (id(leg), remote_tag)
        tag = self._tags.get(key)
        if tag is None:
            tag = self.first_tag if not self._forks else self._new_tag()
            self._tags[key] = tag
            self._forks[tag] = (leg, remote_tag)
        return tag

    def fork_of(self, dialog: Dialog) -> tuple[BLeg, Dialog] | None:
        """The B leg and B early dialog paired with the A dialog ``dialog``, while it is early."""
        tag = dialog.local_tag or ""
        pair = self._forks.get(tag)
        if pair is None or self.dialogs.get(tag) is not dialog:
            return None
        leg, remote_tag = pair
        early = leg.early.get(remote_tag)
        return None if early is None else (leg, early)

    def a_dialog_of(self, leg: BLeg, b_dialog: Dialog) -> Dialog | None:
        """The A dialog paired with the B dialog ``b_dialog`` of ``leg``."""
        tag = self._tags.get((id(leg), b_dialog.remote_tag or ""))
        return None if tag is None else self.dialogs.get(tag)

    def sent(self, response: Response, call: object) -> Dialog | None:
        """A response of ``call`` is being sent to the caller: create or update the A dialog of its To tag
        (the call is passed, not kept: the call holds this object)."""
        tag = response.to.tag
        if tag is None:
            return self.current
        dialog = self.dialogs.get(tag)
        if dialog is None:
            try:
                dialog = self.owner.add_dialog(Dialog.from_uas(self.invite, response), call, None)
            except (ProtocolError, SIPParseError) as exc:
                log.info("call %s: no A-leg dialog: %s", self.invite.call_id, exc)
                return self.current
            self.dialogs[tag] = dialog
        dialog.update_from_sent_response(response)
        self.current = dialog
        return dialog

    def keep_only(self, tag: str) -> None:
        """A 2xx went out under ``tag``: the other A early dialogs are over (the caller's UAC ends them)."""
        for other, dialog in list(self.dialogs.items()):
            if other != tag:
                self.owner.remove_dialog(dialog)
                del self.dialogs[other]

    def end_all(self, final: Response | None = None) -> None:
        """The call ends (or got a final error, ``final``): forget every A dialog."""
        for dialog in self.dialogs.values():
            if final is not None and final.to.tag == dialog.local_tag:
                dialog.update_from_sent_response(final)
            self.owner.remove_dialog(dialog)
        self.dialogs.clear()
