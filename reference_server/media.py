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
fault ``one-way-media``) has the relay drop the destination's RTP: one-way audio, on purpose.
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

__all__ = ["MediaAnchor", "parse_sdp"]


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
        self._held: dict[str, Addr | None] = {}  # remotes held back until the 2xx (no early media)
        self._transforms = False  # whether the relay has SRTP transforms installed
        self.srtp = SrtpLegs(destination_srtp, enabled=srtp)  # no callback to self: no reference cycle

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
        return self._rewrite(sd, self.relay.a_port, "B")

    def answered(self) -> None:
        """The call is answered: apply the remotes held back (no early media)."""
        held, self._held = self._held, {}
        if "A" in held:
            self.relay.set_a_remote(held["A"])
        if "B" in held and self.relay.b_remote is None:
            self.relay.set_b_remote(held["B"])
