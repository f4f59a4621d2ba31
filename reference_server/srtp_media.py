"""SRTP on the relay's two legs: SDES keys negotiated per leg, packets decrypted and re-encrypted per leg.

Each leg (A: the caller, B: the destination) is SRTP or cleartext on its own, so the relay bridges
SRTP <-> RTP as a trunk does. A leg's keys are its own (RFC 4568): the far end's a=crypto line keys what
the relay receives on that leg, the relay's own line (a fresh random key, never the other leg's) keys what
it sends there. A packet arriving on an SRTP leg that does not authenticate is dropped, never forwarded.

Which legs are SRTP: leg A as the caller's offer says (RTP/SAVP with an a=crypto line :mod:`sipcore.sdes`
accepts; the server answers 488 to an RTP/SAVP offer it will not take, see :func:`srtp_refusal`; an RTP/AVP
offer with a=crypto lines is best-effort SRTP, as baresip's ``mediaenc=srtp`` and some phones offer it:
answered RTP/AVP with a key when SRTP is enabled, without one, so in clear, when it is not); leg B
as the destination's configuration says (``destination_srtp``: True, False, or None for "as the caller":
calls to registered extensions). A leg the relay offers to later (a late offer, a re-INVITE from the other
side) keeps the mode it has, or takes the other leg's.

Offer or answer: an SDP from a leg is an answer when the last SDP the relay sent that leg was an offer
(so a 183 and its 200 are both answers), else an offer; it goes to the other leg as the same.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sipcore.errors import SIPParseError
from sipcore.sdes import (
    CRYPTO_SUITES,
    SAVP,
    CryptoAttribute,
    answer_crypto,
    choose_crypto,
    crypto_attributes,
    negotiated_crypto,
)
from sipcore.sdp import MediaDescription, SessionDescription
from sipcore.srtp import SrtpContext, SrtpError

log = logging.getLogger(__name__)

__all__ = ["OFFERED_SUITE", "SrtpLegs", "srtp_refusal"]

OFFERED_SUITE = "AES_CM_128_HMAC_SHA1_80"
"""What the relay offers a leg it wants SRTP on: the suite every SDES implementation has (RFC 4568 §6.2)."""

Transform = Callable[[bytes], bytes | None]


def srtp_refusal(offer: SessionDescription | None, srtp_enabled: bool) -> str | None:
    """Why an INVITE's offer gets 488 Not Acceptable Here (None: it is acceptable): its first stream (the
    one the relay carries) is RTP/SAVP and SRTP is disabled, or none of its a=crypto lines can be keyed."""
    if offer is None or not offer.media or offer.media[0].proto != SAVP:
        return None
    if not srtp_enabled:
        return "RTP/SAVP (SRTP) is not accepted here: offer RTP/AVP"
    lines = crypto_attributes(offer.media[0], skip_malformed=True)
    if choose_crypto(lines) is None:
        found = "; ".join(f"tag {c.tag} {c.suite}: {c.usable()}" for c in lines) or "no well-formed a=crypto line"
        return f"no a=crypto line this server can key ({found}); it takes {', '.join(CRYPTO_SUITES)}"
    return None


@dataclass
class _Leg:
    name: str
    srtp: bool | None = None  # None: not decided yet
    sent: str | None = None  # "offer" / "answer": what the relay's last SDP to this leg was
    proto: str = "RTP/AVP"  # the proto of the far end's last offer (the answer keeps it)
    offered: list[CryptoAttribute] = field(default_factory=list)  # the relay's lines in its last offer here
    answer: CryptoAttribute | None = None  # the relay's line answering the far end's last offer
    receiving: SrtpContext | None = None  # keyed by the far end's line
    sending: SrtpContext | None = None  # keyed by the relay's line

    def keys(self, theirs: CryptoAttribute, ours: CryptoAttribute) -> None:
        self.receiving = SrtpContext(theirs, outbound=False)
        self.sending = SrtpContext(ours, outbound=True)


def _new_key(suite: str) -> bytes:
    return os.urandom(CRYPTO_SUITES[suite].key_salt_length)


class SrtpLegs:
    """The SRTP state of one call's two legs; see the module docstring. ``destination_srtp``: leg B's
    mode (None: as leg A). After :meth:`relay_sdp` the owner (re)installs the relay's packet transforms
    (:meth:`transform`); the legs hold no callback into their owner, so a call's media objects form no
    reference cycle and die with the call by reference counting, not at the next full GC collection."""

    def __init__(self, destination_srtp: bool | None, *, enabled: bool = True) -> None:
        """``enabled``: whether the server takes SRTP at all (off: best-effort offers are answered in clear)."""
        self._legs = {"A": _Leg("A"), "B": _Leg("B", srtp=destination_srtp)}
        self.enabled = enabled
        self.dropped = 0  # packets an SRTP leg could not authenticate (or had no key for)

    @property
    def active(self) -> bool:
        """Whether any leg is SRTP: the relay needs transforms."""
        return any(leg.srtp for leg in self._legs.values())

    def leg_is_srtp(self, name: str) -> bool:
        return bool(self._legs[name].srtp)

    # -- SDP ----------------------------------------------------------------------------------------
    def relay_sdp(self, source: str, received: SessionDescription, out: SessionDescription) -> None:
        """An SDP from leg ``source`` (``received``) goes to the other leg as ``out`` (already pointing at
        the relay): take the far end's keys from it and put the relay's own keys (or none) in ``out``."""
        this, other = self._legs[source], self._legs["B" if source == "A" else "A"]
        answer = this.sent == "offer"
        media = received.media[0] if received.media and received.media[0].port else None
        if media is not None:
            self._take_answer(this, media) if answer else self._take_offer(this, media)
        for m in out.media:  # a leg's keys never reach the other leg
            m.set_attributes("crypto", [])
        if out.media and out.media[0].port:
            if answer:
                self._give_answer(other, out.media[0])
            else:
                self._give_offer(other, out.media[0], this.srtp)

    def _take_offer(self, leg: _Leg, media: MediaDescription) -> None:
        """The far end's keys, and the relay's answer line: made once per offer, so the 183 and the 200
        answering it carry the same key."""
        leg.proto, leg.answer, leg.receiving, leg.sending = media.proto, None, None, None
        chosen = choose_crypto(crypto_attributes(media, skip_malformed=True)) if self.enabled else None
        leg.srtp = media.proto == SAVP or (media.proto == "RTP/AVP" and chosen is not None)
        if not leg.srtp:
            return
        if chosen is None:
            log.info("leg %s offers RTP/SAVP with no a=crypto line to key: its media is dropped", leg.name)
            return
        leg.answer = answer_crypto(chosen, _new_key(chosen.suite))
        leg.keys(chosen, leg.answer)

    def _take_answer(self, leg: _Leg, media: MediaDescription) -> None:
        if media.proto != SAVP and media.get_attribute("crypto") is None:
            if leg.srtp:
                log.info("leg %s answered %s to an RTP/SAVP offer: cleartext on that leg", leg.name, media.proto)
            leg.srtp, leg.receiving, leg.sending = False, None, None
            return
        try:
            pair = negotiated_crypto(leg.offered, crypto_attributes(media))
        except SIPParseError as exc:
            log.info("leg %s: unusable a=crypto in its answer: %s", leg.name, exc)
            pair = None
        leg.srtp = True
        if pair is None:
            log.info("leg %s answered no a=crypto line the relay offered: its media is dropped", leg.name)
            leg.receiving = leg.sending = None
            return
        ours, theirs = pair
        leg.keys(theirs, ours)

    def _give_answer(self, leg: _Leg, media: MediaDescription) -> None:
        leg.sent = "answer"
        media.set_proto(leg.proto if leg.srtp else "RTP/AVP")
        if leg.answer is not None:
            media.set_attributes("crypto", [str(leg.answer)])

    def _give_offer(self, leg: _Leg, media: MediaDescription, other_srtp: bool | None) -> None:
        leg.sent = "offer"
        if leg.srtp is None:
            leg.srtp = bool(other_srtp)
        if leg.srtp:
            leg.offered = [CryptoAttribute.new(1, OFFERED_SUITE, _new_key(OFFERED_SUITE))]
            media.set_proto(SAVP)
            media.set_attributes("crypto", [str(line) for line in leg.offered])
        else:
            leg.offered = []
            media.set_proto("RTP/AVP")

    # -- packets ------------------------------------------------------------------------------------
    def transform(self, source: str, *, rtcp: bool = False) -> Transform | None:
        """What happens to a packet arriving on leg ``source`` before it leaves on the other: None when
        both legs are cleartext (forwarded untouched)."""
        this, other = self._legs[source], self._legs["B" if source == "A" else "A"]
        if not (this.srtp or other.srtp):
            return None

        def forward(data: bytes) -> bytes | None:
            try:
                if this.srtp:
                    if this.receiving is None:
                        raise SrtpError(f"leg {this.name} has no SRTP key yet")
                    data = this.receiving.unprotect_rtcp(data) if rtcp else this.receiving.unprotect(data)
                if other.srtp:
                    if other.sending is None:
                        raise SrtpError(f"leg {other.name} has no SRTP key yet")
                    data = other.sending.protect_rtcp(data) if rtcp else other.sending.protect(data)
            except SrtpError as exc:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 1000 == 0:
                    log.info("relay drops a packet from leg %s (%d so far): %s", this.name, self.dropped, exc)
                return None
            return data

        return forward
