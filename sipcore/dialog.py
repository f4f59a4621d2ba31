"""Dialogs (RFC 3261 §12): creation by UAC and UAS, in-dialog requests, target refresh, CSeq order,
termination (§13, §14, §15), and the registry that holds forked early dialogs of one INVITE.

A :class:`Dialog` is plain state. It never sends anything: ``create_request`` returns a
:class:`~sipcore.message.Request` for the transaction layer; ``receive_request`` returns the status to
reject an in-dialog request with, or None. Which message moves which field is written next to the code
with its section number.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from .builders import MAX_CSEQ, build_request, format_contact, make_via
from .errors import ProtocolError, SIPParseError
from .headers import NameAddr
from .message import Message, Request, Response
from .transport_address import Address
from .uri import URI, SipURI

__all__ = [
    "DIALOG_CREATING_METHODS", "TARGET_REFRESH_METHODS", "Dialog", "DialogId", "DialogSet", "DialogState",
    "creates_dialog", "dialog_id_of",
]

DIALOG_CREATING_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER"})
#: §12.2 / RFC 3311, 6665, 3515: requests whose Contact replaces the remote target.
TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})


class DialogState(enum.Enum):
    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class DialogId(NamedTuple):
    """§12: Call-ID, local tag, remote tag. The remote tag is None for an RFC 2543 peer without a From
    tag. A named tuple: it keys the dialog maps, and a tuple hashes and compares without Python calls."""

    call_id: str
    local_tag: str
    remote_tag: str | None


def dialog_id_of(message: Message, *, uas: bool) -> DialogId | None:
    """The dialog id a message belongs to, seen from this UA, or None if it carries no To tag.

    ``uas`` is True when this UA is the UAS of the message's transaction (a request it received, a
    response it sends): then the local tag is the To tag. Otherwise (a request it sends, a response
    it received) the local tag is the From tag.
    """
    to_tag = message.to.tag
    from_tag = message.from_.tag
    if to_tag is None:
        return None
    if uas:
        return DialogId(message.call_id, to_tag, from_tag)
    if from_tag is None:
        return None
    return DialogId(message.call_id, from_tag, to_tag)


def creates_dialog(request: Request, response: Response) -> bool:
    """True if ``response`` creates (or confirms) a dialog: a 101-299 with a To tag to a dialog-creating
    request (§12.1). A 100 Trying or a 180 without a To tag creates none."""
    return (request.method in DIALOG_CREATING_METHODS and 101 <= response.status <= 299
            and response.to.tag is not None and response.cseq.method == request.method
            and response.cseq.seq == request.cseq.seq)


def _check_creates(request: Request, response: Response) -> None:
    if not creates_dialog(request, response):
        raise ProtocolError(f"{response.status} to {request.method} (To tag {response.to.tag!r}) "
                            f"creates no dialog: a dialog needs a 101-299 with a To tag")


def _first_contact(message: Message) -> URI | None:
    contacts = message.contacts
    return contacts[0].uri if contacts else None


def _route_set(values: Iterable[NameAddr]) -> list[NameAddr]:
    """Route set entries as name-addrs. A bare ``sip:p1;lr`` (addr-spec, not allowed in Record-Route by
    §20.30 but sent) parses with ``lr`` as a header parameter; give it back to the URI as meant."""
    out: list[NameAddr] = []
    for value in values:
        if not value.angle_brackets and value.params and isinstance(value.uri, SipURI):
            value = NameAddr(value.uri.copy(params={**value.uri.params, **value.params}), value.display_name)
        out.append(value)
    return out


def _as_request_uri(uri: URI) -> URI:
    """Strip what a Request-URI may not carry (§19.1.1 table): the method parameter and URI headers."""
    if isinstance(uri, SipURI) and (uri.headers or any(k.lower() == "method" for k in uri.params)):
        return uri.copy(params={k: v for k, v in uri.params.items() if k.lower() != "method"}, headers={})
    return uri


def _secure(request: Request) -> bool:
    """§12.1.1/§12.1.2: the request went over TLS and its Request-URI is a SIPS URI."""
    uri = request.uri_parsed
    return (isinstance(uri, SipURI) and uri.scheme.lower() == "sips"
            and request.top_via.transport in ("TLS", "WSS"))


@dataclass
class Dialog:
    """The state of one dialog (§12). ``local`` and ``remote`` are the From/To name-addrs with tags."""

    call_id: str
    local: NameAddr
    remote: NameAddr
    state: DialogState
    #: True if this UA sent the request that created the dialog.
    uac: bool
    remote_target: URI
    route_set: list[NameAddr] = field(default_factory=list)
    local_cseq: int | None = None
    remote_cseq: int | None = None
    secure: bool = False
    #: This UA's Contact URI, put in target refresh requests (§12.2.1.1).
    local_target: URI | None = None
    #: CSeq number of the request that created the dialog (its 2xx confirms, its non-2xx terminates).
    creating_cseq: int = 0

    # -- identity -----------------------------------------------------------------------------------
    @property
    def local_tag(self) -> str:
        tag = self.local.tag
        assert tag is not None, "a dialog always has a local tag"
        return tag

    @property
    def remote_tag(self) -> str | None:
        return self.remote.tag

    @property
    def id(self) -> DialogId:
        local_tag = self.local.tag
        assert local_tag is not None, "a dialog always has a local tag"
        return DialogId(self.call_id, local_tag, self.remote.tag)

    @property
    def local_uri(self) -> URI:
        return self.local.uri

    @property
    def remote_uri(self) -> URI:
        return self.remote.uri

    # -- creation -----------------------------------------------------------------------------------
    @classmethod
    def from_uac(cls, request: Request, response: Response) -> Dialog:
        """The UAC's dialog (§12.1.2) from a 1xx with a To tag (early) or a 2xx (confirmed): route set
        = Record-Route of the response reversed, remote target = the response's Contact."""
        _check_creates(request, response)
        local = request.from_
        if local.tag is None:
            raise ProtocolError(f"{request.method} has no From tag; cannot be the UAC of a dialog")
        to_tag = response.to.tag
        assert to_tag is not None
        seq = request.cseq.seq
        return cls(
            call_id=request.call_id,
            local=local,
            remote=request.to.with_tag(to_tag),
            state=DialogState.CONFIRMED if response.status >= 200 else DialogState.EARLY,
            uac=True,
            # A dialog-creating response without Contact is broken; keep the Request-URI to stay usable.
            remote_target=_first_contact(response) or request.uri_parsed,
            route_set=_route_set(reversed(response.record_route)),
            local_cseq=seq,
            secure=_secure(request),
            local_target=_first_contact(request),
            creating_cseq=seq,
        )

    @classmethod
    def from_uas(cls, request: Request, response: Response) -> Dialog:
        """The UAS's dialog (§12.1.1) from the 101-299 it sends: route set = Record-Route of the request
        in order, remote target = the request's Contact, local tag = the response's To tag."""
        _check_creates(request, response)
        to = request.to
        if to.tag is not None:
            raise ProtocolError(f"{request.method} already has To tag {to.tag!r}: it is in a dialog")
        remote_target = _first_contact(request)
        if remote_target is None:
            raise SIPParseError(f"{request.method} has no Contact, so a dialog has no remote target",
                                header="Contact")
        to_tag = response.to.tag
        assert to_tag is not None
        seq = request.cseq.seq
        return cls(
            call_id=request.call_id,
            local=to.with_tag(to_tag),
            remote=request.from_,
            state=DialogState.CONFIRMED if response.status >= 200 else DialogState.EARLY,
            uac=False,
            remote_target=remote_target,
            route_set=_route_set(request.record_route),
            remote_cseq=seq,
            secure=_secure(request),
            local_target=_first_contact(response),
            creating_cseq=seq,
        )

    # -- responses ----------------------------------------------------------------------------------
    def update_from_response(self, response: Response) -> None:
        """A response received to a request this UA sent: the dialog-creating request or one sent
        inside the dialog."""
        if self.state is DialogState.TERMINATED:
            return  # a late retransmission; the transaction layer absorbs it
        if response.call_id != self.call_id or response.from_.tag != self.local_tag:
            raise ProtocolError(f"{response.status} (Call-ID {response.call_id}) is not a response in "
                                f"dialog {self.id}")
        to_tag = response.to.tag
        cseq = response.cseq
        creating = self.uac and cseq.seq == self.creating_cseq and cseq.method in DIALOG_CREATING_METHODS
        if creating and response.status >= 300:
            # §13.2.2.3: a non-2xx final (whatever its To tag) ends every early dialog of the INVITE.
            if self.state is DialogState.EARLY:
                self.state = DialogState.TERMINATED
            return
        if to_tag != self.remote_tag:
            raise ProtocolError(f"{response.status} has To tag {to_tag!r}, dialog {self.id} has "
                                f"{self.remote_tag!r} (a forked response belongs to another dialog)")
        if self.state is DialogState.EARLY and creating:
            if 101 <= response.status <= 199:
                # A later provisional in the same early dialog may carry a new Contact (RFC 6141 §3.2);
                # the route set stays as the first response set it.
                self.remote_target = _first_contact(response) or self.remote_target
            elif response.status <= 299:
                # §13.2.2.4: the 2xx confirms the dialog and the route set is recomputed from it.
                self.state = DialogState.CONFIRMED
                self.route_set = _route_set(reversed(response.record_route))
                self.remote_target = _first_contact(response) or self.remote_target
            return
        if response.status < 200:
            return
        if cseq.method == "BYE" or response.status in (408, 481):
            # §15.1.1: any final response to BYE ends the dialog; §12.2.1.2: 408 or 481 SHOULD end it.
            self.state = DialogState.TERMINATED
        elif response.status <= 299 and cseq.method in TARGET_REFRESH_METHODS:
            # §12.2.1.2: a 2xx to a target refresh replaces the remote target; the route set is fixed.
            self.remote_target = _first_contact(response) or self.remote_target

    def update_from_sent_response(self, response: Response) -> None:
        """A UAS sends the final response to the dialog-creating request: 2xx confirms, non-2xx ends an
        early dialog (§12.1.1, §13.3.1.4)."""
        if (self.state is not DialogState.EARLY or response.cseq.seq != self.creating_cseq
                or response.status < 200):
            return
        self.state = DialogState.CONFIRMED if response.status <= 299 else DialogState.TERMINATED

    def terminate(self) -> None:
        """End the dialog locally (a BYE timed out, the 64*T1 wait for a confirming 2xx expired)."""
        self.state = DialogState.TERMINATED

    # -- requests received --------------------------------------------------------------------------
    def receive_request(self, request: Request) -> int | None:
        """Check a request received inside this dialog (§12.2.2). Returns the status to reject it with
        (481 not this dialog or ended, 500 CSeq out of order) or None to go on."""
        if (self.state is DialogState.TERMINATED or request.call_id != self.call_id
                or request.to.tag != self.local_tag or request.from_.tag != self.remote_tag):
            return 481
        seq = request.cseq.seq
        if request.method not in ("ACK", "CANCEL"):
            # ACK and CANCEL reuse the number of the request they belong to.
            if self.remote_cseq is not None and seq < self.remote_cseq:
                return 500  # §12.2.2: lower than the remote sequence number -> 500 Server Internal Error
            self.remote_cseq = seq
        if request.method in TARGET_REFRESH_METHODS:
            self.remote_target = _first_contact(request) or self.remote_target  # §12.2.2
        if request.method == "BYE":
            self.state = DialogState.TERMINATED  # §15.1.2
        return None

    # -- requests sent ------------------------------------------------------------------------------
    def _request_uri_and_route(self) -> tuple[URI, list[str]]:
        """§12.2.1.1: loose routing when the first route has ;lr, else strict routing (the first route
        becomes the Request-URI and the remote target is appended as the last Route)."""
        if not self.route_set:
            return _as_request_uri(self.remote_target), []
        first = self.route_set[0].uri
        if isinstance(first, SipURI) and first.lr:
            return _as_request_uri(self.remote_target), [str(r) for r in self.route_set]
        return _as_request_uri(first), [str(r) for r in self.route_set[1:]] + [f"<{self.remote_target}>"]

    def create_request(self, method: str, *, branch: str, local_addr: Address, transport: str = "UDP",
                       body: bytes = b"", content_type: str | None = None,
                       extra_headers: Iterable[tuple[str, str]] = ()) -> Request:
        """A request inside the dialog (§12.2.1.1). The local CSeq is incremented, except for ACK and
        CANCEL, which reuse it. Target refresh requests carry this UA's Contact."""
        if self.state is DialogState.TERMINATED:
            raise ProtocolError(f"cannot send {method} in terminated dialog {self.id}")
        if method in ("ACK", "CANCEL"):
            if self.local_cseq is None:
                raise ProtocolError(f"no request was sent in dialog {self.id}, so there is nothing to {method}")
            cseq = self.local_cseq
        else:
            cseq = 1 if self.local_cseq is None else self.local_cseq + 1
            if cseq > MAX_CSEQ:
                raise ProtocolError(f"local CSeq of dialog {self.id} would exceed 2**31-1")
            self.local_cseq = cseq
        return self._build(method, cseq, branch, local_addr, transport, body, content_type, extra_headers)

    def _build(self, method: str, cseq: int, branch: str, local_addr: Address, transport: str, body: bytes,
               content_type: str | None, extra_headers: Iterable[tuple[str, str]]) -> Request:
        request_uri, route = self._request_uri_and_route()
        contact = (format_contact(self.local_target)
                   if method in TARGET_REFRESH_METHODS and self.local_target is not None else None)
        return build_request(method, request_uri, via=make_via(local_addr, branch, transport),
                             from_=self.local, to=self.remote, call_id=self.call_id, cseq=cseq, route=route,
                             contact=contact, extra_headers=extra_headers, body=body,
                             content_type=content_type)

    def create_ack(self, invite_cseq: int, branch: str, local_addr: Address, body: bytes = b"", *,
                   transport: str = "UDP", content_type: str | None = None,
                   extra_headers: Iterable[tuple[str, str]] = ()) -> Request:
        """ACK for a 2xx to an INVITE (§13.2.2.4): built like any in-dialog request, with the INVITE's
        CSeq number and a new branch. Pass the INVITE's credentials in ``extra_headers``."""
        if self.state is DialogState.EARLY:
            raise ProtocolError(f"dialog {self.id} is early: there is no 2xx to ACK")
        if self.local_cseq is None or invite_cseq > self.local_cseq:
            raise ProtocolError(f"ACK CSeq {invite_cseq} is not an INVITE this UA sent in dialog {self.id}")
        return self._build("ACK", invite_cseq, branch, local_addr, transport, body, content_type,
                           extra_headers)

    def create_bye(self, *, branch: str, local_addr: Address, transport: str = "UDP",
                   extra_headers: Iterable[tuple[str, str]] = ()) -> Request:
        """BYE (§15.1.1). The dialog ends when its final response (or a timeout) arrives."""
        return self.create_request("BYE", branch=branch, local_addr=local_addr, transport=transport,
                                   extra_headers=extra_headers)

    def create_reinvite(self, *, branch: str, local_addr: Address, body: bytes = b"",
                        content_type: str | None = "application/sdp", transport: str = "UDP",
                        extra_headers: Iterable[tuple[str, str]] = ()) -> Request:
        """A re-INVITE (§14.1): a target refresh with a new offer (or none, to ask for one)."""
        if self.state is not DialogState.CONFIRMED:
            raise ProtocolError(f"re-INVITE in {self.state.value} dialog {self.id}: §14.1 needs a confirmed one")
        return self.create_request("INVITE", branch=branch, local_addr=local_addr, transport=transport,
                                   body=body, content_type=content_type if body else None,
                                   extra_headers=extra_headers)


class DialogSet:
    """The dialogs of a UA keyed by :class:`DialogId`, including the early dialogs a forked INVITE
    creates (one per To tag, §12.1.2, §13.2.2.4)."""

    def __init__(self) -> None:
        self._dialogs: dict[DialogId, Dialog] = {}

    def __len__(self) -> int:
        return len(self._dialogs)

    def __iter__(self) -> Iterator[Dialog]:
        return iter(list(self._dialogs.values()))

    def __contains__(self, dialog_id: object) -> bool:
        return dialog_id in self._dialogs

    def get(self, dialog_id: DialogId) -> Dialog | None:
        return self._dialogs.get(dialog_id)

    def add(self, dialog: Dialog) -> Dialog:
        if dialog.id in self._dialogs:
            raise ProtocolError(f"dialog {dialog.id} already exists")
        self._dialogs[dialog.id] = dialog
        return dialog

    def remove(self, dialog_id: DialogId) -> Dialog | None:
        return self._dialogs.pop(dialog_id, None)

    def prune(self) -> list[Dialog]:
        """Drop and return the terminated dialogs."""
        ended = [d for d in self._dialogs.values() if d.state is DialogState.TERMINATED]
        for dialog in ended:
            del self._dialogs[dialog.id]
        return ended

    def match_request(self, request: Request) -> Dialog | None:
        """The dialog a received request with a To tag belongs to (§12.2.2), if any."""
        dialog_id = dialog_id_of(request, uas=True)
        return None if dialog_id is None else self._dialogs.get(dialog_id)

    def early_dialogs_of(self, invite: Request) -> list[Dialog]:
        """The early dialogs this UA created as UAC of ``invite``."""
        return [d for d in self._dialogs.values()
                if d.uac and d.state is DialogState.EARLY and d.call_id == invite.call_id
                and d.local_tag == invite.from_.tag and d.creating_cseq == invite.cseq.seq]

    def handle_response(self, invite: Request, response: Response) -> Dialog | None:
        """A response to a dialog-creating request this UA sent. Creates a dialog for each new To tag
        (forking), moves an existing one forward, and on a non-2xx final ends every early dialog of that
        request (§13.2.2.3). Returns the dialog of the response's To tag, or None."""
        dialog_id = dialog_id_of(response, uas=False)
        dialog = None if dialog_id is None else self._dialogs.get(dialog_id)
        if response.status >= 300 and response.cseq.seq == invite.cseq.seq:
            for early in self.early_dialogs_of(invite):
                early.terminate()
            return dialog
        if dialog is not None:
            dialog.update_from_response(response)
            return dialog
        if creates_dialog(invite, response):
            return self.add(Dialog.from_uac(invite, response))
        return None
