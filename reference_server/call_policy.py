"""What the B2BUA does with a call's media and with the destination's final error: two small policies the
server is built with (``ReferenceServer(config, media_policy=..., hangup_policy=...)``). The defaults are
the spec's VoIPBin; anything else is a deliberate departure from it (:mod:`reference_server.faults`
builds such departures for the suite's own tests).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SPEC_HANGUP", "SPEC_MEDIA", "HangupPolicy", "MediaPolicy"]


@dataclass(frozen=True)
class MediaPolicy:
    """How a call's media crosses the relay."""

    early_media: bool = True
    """The spec's early media: the destination's first SDP (183 or 180) reaches the caller and its RTP is
    relayed at once. False: 18x go to the caller without SDP and no RTP is relayed before the 2xx."""
    two_way: bool = True
    """RTP is relayed both ways. False: the destination's RTP never reaches the caller (one-way audio, the
    classic NAT symptom)."""
    honour_directions: bool = True
    """The relay follows the SDP directions (a=sendonly, a=recvonly, a=inactive: a call on hold). False: RTP
    is relayed both ways whatever they say, so a far end that keeps sending reaches a held party."""
    srtp_relay: bool = True
    """SRTP legs are decrypted and re-encrypted with each leg's keys. False: keys are negotiated in the SDP
    but packets are relayed as they come (cleartext reaches an SRTP caller)."""


@dataclass(frozen=True)
class HangupPolicy:
    """What the caller gets when the destination rejects the call (the spec's "relay hangup cause")."""

    relay_status: bool = True
    """The destination's final status and reason phrase reach the caller unchanged (404 -> 404). False:
    the caller gets 500 Server Internal Error whatever the destination said."""
    q850_reason: bool = True
    """Add ``Reason: Q.850;cause=N`` (RFC 3326; the cause RFC 3398 maps the destination's status to) when
    the destination sent no Reason of its own. False: add none (one the destination sent still passes)."""
    caller_flow: bool = True
    """Requests in the caller's dialog (the destination's BYE, re-INVITEs) go where the caller's requests
    came from: over its own connection (RFC 3261 §18, RFC 5923), through its NAT binding. False: to the
    address of its Contact, as a trunk that ignores both would (a softphone over TLS never gets them)."""


SPEC_MEDIA = MediaPolicy()
SPEC_HANGUP = HangupPolicy()
