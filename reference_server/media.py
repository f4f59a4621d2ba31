"""Anchoring a call's media on its relay: every SDP crossing the B2BUA points at the relay.

An offer or answer from the caller (A) sets the relay's A remote and goes to the destination with the
relay's B-side port; one from the destination sets the B remote and goes to the caller with the A-side
port (``rewrite_for_relay``). The first m= line is relayed; further streams are offered with port 0
(disabled, RFC 3264 §8.2) since the relay carries one stream.

SRTP: each leg is SRTP or cleartext on its own, with keys of its own (:mod:`reference_server.srtp_media`
rewrites proto and a=crypto lines and keys the relay's transforms).

Early media (the spec's trunk feature): the destination's address is set as soon as its first SDP
arrives (183 or 180 with SDP), so its RTP reaches the caller before the 200 OK. Without it
(``MediaPolicy(early_media=False)``, the test-only fault ``no-early-media``) SDP is stripped from
relayed 18x and both remotes are held back until the 2xx. ``MediaPolicy(two_way=False)`` (the test-only
fault ``one-way-media``) has the relay drop the destination's RTP: one-way audio, on purpose;
``MediaPolicy(honour_directions=False)`` (the fault ``hold-ignored``) relays both ways whatever the SDP says.

Hold (RFC 3264 §5.1, §6.1, §8.4): each side's latest SDP says which way it takes part in the stream
(a=sendrecv, the default; a=sendonly; a=recvonly; a=inactive; media-level over session-level). RTP flows
from X to Y only when X's SDP lets X send (sendrecv, sendonly) and Y's lets Y receive (sendrecv,
recvonly): a party that puts the call on hold with a=sendonly (and the held party's a=recvonly answer)
leaves only the holder's direction open (music on hold may flow), a=inactive closes both, and a resume
with a=sendrecv opens both again once the answer has crossed. The relay drops what the directions close
(``held`` in its counters): no RTP reaches a party that said it will not receive, whatever the far end
sends. RTCP flows regardless. An offer whose re-INVITE fails leaves the directions as they were
(:meth:`MediaAnchor.snapshot`, :meth:`MediaAnchor.restore`), as RFC 3264 §8 leaves the session.
"""

from __future__ import annotations

import logging

from sipcore.errors import SIPParseError
from sipcore.message import Message
from sipcore.sdp import SessionDescription, media_address, rewrite_for_relay

from .call_policy import SPEC_MEDIA, MediaPolicy
from .rtp_relay import MediaRelay
from .sip_util import SDP, Addr
from .srtp_media import SrtpLegs

log = logging.getLogger(__name__)

__all__ = ["MediaAnchor", "may_receive", "may_send", "parse_sdp"]

_SENDING = ("sendrecv", "sendonly")
_RECEIVING = ("sendrecv", "recvonly")


def may_send(direction: str) -> bool:
    """Whether a party whose SDP says ``direction`` sends RTP (RFC 3264 §5.1)."""
    return direction in _SENDING


def may_receive(direction: str) -> bool:
    """Whether a party whose SDP says ``direction`` receives RTP (RFC 3264 §5.1)."""
    return direction in _RECEIVING


def parse_sdp(message: Message) -> SessionDescription | None:
    """The message's SDP body, None when it has none; SIPParseError when it is malformed."""
    if not message.body or message.content_type != SDP:
        return None
    return SessionDescription.parse(message.body)


def _first_stream(sd: SessionDescription) -> Addr | None:
    if not sd.media:
        return None
    try:
        return media_address(sd, 0)
    except SIPParseError:
        return None


class MediaAnchor:
    """The SDP side of one call's relay."""

    def __init__(self, relay: MediaRelay, policy: MediaPolicy = SPEC_MEDIA, *, destination_srtp: bool | None = False,
                 srtp: bool = True) -> None:
        """``policy``: early media, and whether SRTP legs are re-encrypted (the spec's unless a test fault
        says otherwise); ``destination_srtp``: whether the destination's leg is offered SRTP (None: as the
        caller's); ``srtp``: whether the server takes SRTP at all ([media] srtp)."""
        self.relay = relay
        self.early_media = policy.early_media
        self.srtp_relay = policy.srtp_relay
        if not policy.two_way:
            relay.drop_b_to_a()
        self.honour_directions = policy.honour_directions
        self._held: dict[str, Addr | None] = {}  # remotes held back until the 2xx (no early media)
        self._transforms = False  # whether the relay has SRTP transforms installed
        self.srtp = SrtpLegs(destination_srtp, enabled=srtp)  # no callback to self: no reference cycle
        self.directions = {"A": "sendrecv", "B": "sendrecv"}  # each side's latest SDP direction

    def _take_direction(self, side: str, sd: SessionDescription) -> None:
        """Note ``side``'s direction from its SDP (its first stream: the one relayed) and open or close the
        relay's two directions accordingly (module docstring)."""
        if sd.media:
            self.directions[side] = sd.media_direction(0)
        self._apply_directions()

    def _apply_directions(self) -> None:
        if not self.honour_directions:  # the test-only fault hold-ignored
            return
        a, b = self.directions["A"], self.directions["B"]
        self.relay.set_directions(may_send(a) and may_receive(b), may_send(b) and may_receive(a))

    def snapshot(self) -> dict[str, str]:
        """The directions now, to :meth:`restore` if the offer about to be relayed fails."""
        return dict(self.directions)

    def restore(self, directions: dict[str, str]) -> None:
        self.directions = dict(directions)
        self._apply_directions()

    def _keyed(self) -> None:
        """Install (or remove) the relay's SRTP transforms after an SDP changed a leg's keys."""
        legs = self.srtp
        if legs.active and self.srtp_relay:
            self.relay.set_transforms(legs.transform("A"), legs.transform("B"),
                                      legs.transform("A", rtcp=True), legs.transform("B", rtcp=True))
            self._transforms = True
        elif self._transforms:  # a re-INVITE turned SRTP off on both legs
            self.relay.set_transforms(None, None)
            self._transforms = False

    def _rewrite(self, sd: SessionDescription, port: int, source: str) -> bytes:
        """``sd`` (from leg ``source``) pointing at the relay: its first stream at ``port``, any further one
        disabled, the other leg's SRTP keys in place of ``source``'s (a description without m= lines gets
        its o= and c= rewritten, and nothing else)."""
        ports = [port, *[0] * (len(sd.media) - 1)][:len(sd.media)]
        out = rewrite_for_relay(sd, self.relay.host, ports)
        self.srtp.relay_sdp(source, sd, out)
        self._keyed()
        return out.to_bytes()

    def _set(self, side: str, addr: Addr | None, hold: bool) -> None:
        if hold:
            self._held[side] = addr
        elif side == "A":
            self.relay.set_a_remote(addr)
        else:
            self.relay.set_b_remote(addr)

    def from_a(self, message: Message, *, before_answer: bool = False,
               parsed: SessionDescription | None = None) -> bytes:
        """The caller's SDP rewritten for the destination (b"" when it has none or it is malformed).
        ``parsed``: ``parse_sdp(message)`` when the caller has it already (it is not parsed again)."""
        try:
            sd = parsed if parsed is not None else parse_sdp(message)
        except SIPParseError as exc:
            log.info("caller SDP dropped: %s", exc)
            return b""
        if sd is None:
            return b""
        self._set("A", _first_stream(sd), hold=before_answer and not self.early_media)
        self._take_direction("A", sd)
        return self._rewrite(sd, self.relay.b_port, "A")

    def from_b(self, message: Message, *, early: bool = False) -> bytes:
        """The destination's SDP rewritten for the caller (b"" when it has none, it is malformed, or it is
        early and early media is off)."""
        try:
            sd = parse_sdp(message)
        except SIPParseError as exc:
            log.info("destination SDP dropped: %s", exc)
            return b""
        if sd is None:
            return b""
        if early and not self.early_media:
            self._held["B"] = _first_stream(sd)
            return b""
        self._set("B", _first_stream(sd), hold=False)
        self._take_direction("B", sd)
        return self._rewrite(sd, self.relay.a_port, "B")

    def answered(self) -> None:
        """The call is answered: apply the remotes held back (no early media)."""
        held, self._held = self._held, {}
        if "A" in held:
            self.relay.set_a_remote(held["A"])
        if "B" in held and self.relay.b_remote is None:
            self.relay.set_b_remote(held["B"])
