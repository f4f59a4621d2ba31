"""Test-only faults: the reference trunk broken on purpose, so the conformance suite can be seen to catch
each departure from the spec. Never a run's default, never reachable from a configuration file: the
hidden ``--fault`` flags of ``trunkcheck run`` and ``python -m reference_server`` map their names here
once, and the server gets the resulting policies (:mod:`reference_server.call_policy`) at construction.

    faults = InjectedFaults.parse(["status-rewrite"])      # ValueError naming the known faults
    ReferenceServer(config, media_policy=faults.media_policy, hangup_policy=faults.hangup_policy)
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from .call_policy import HangupPolicy, MediaPolicy

__all__ = ["NO_FAULTS", "Fault", "InjectedFaults"]


class Fault(enum.Enum):
    NO_EARLY_MEDIA = "no-early-media"
    NO_Q850_REASON = "no-q850-reason"
    ONE_WAY_MEDIA = "one-way-media"
    STATUS_REWRITE = "status-rewrite"
    SRTP_CLEARTEXT = "srtp-cleartext"
    HOLD_IGNORED = "hold-ignored"
    DIAL_CONTACT = "dial-contact"

    @property
    def effect(self) -> str:
        """What the broken trunk does, for reports and logs."""
        return _EFFECT[self]

    def __str__(self) -> str:
        return self.value


_EFFECT = {
    Fault.NO_EARLY_MEDIA: "18x relayed without SDP, no RTP before the 200 OK",
    Fault.NO_Q850_REASON: "the destination's final status relayed without a Q.850 Reason header",
    Fault.ONE_WAY_MEDIA: "the destination's RTP is not relayed to the caller (one-way audio)",
    Fault.HOLD_IGNORED: "RTP relayed both ways whatever the SDP directions say (media reaches a held party)",
    Fault.STATUS_REWRITE: "every final error from the destination answered 500 Server Internal Error",
    Fault.SRTP_CLEARTEXT: "SRTP keys negotiated in the SDP, packets relayed without decrypting or encrypting",
    Fault.DIAL_CONTACT: "requests in the caller's dialog sent to its Contact's address, not over its connection",
}


@dataclass(frozen=True)
class InjectedFaults:
    """A set of faults and the server policies they amount to (empty: the spec's behaviour)."""

    faults: frozenset[Fault] = frozenset()

    @classmethod
    def parse(cls, names: Iterable[str]) -> InjectedFaults:
        faults = set()
        for name in names:
            try:
                faults.add(Fault(name.strip()))
            except ValueError:
                known = ", ".join(f.value for f in Fault)
                raise ValueError(f"unknown fault {name.strip()!r}; known: {known}") from None
        return cls(frozenset(faults))

    def __bool__(self) -> bool:
        return bool(self.faults)

    def names(self) -> list[str]:
        return sorted(f.value for f in self.faults)

    def describe(self) -> str:
        """``no-early-media (18x relayed without SDP, ...); ...``: what the broken trunk does."""
        return "; ".join(f"{name} ({Fault(name).effect})" for name in self.names())

    @property
    def media_policy(self) -> MediaPolicy:
        return MediaPolicy(early_media=Fault.NO_EARLY_MEDIA not in self.faults,
                           two_way=Fault.ONE_WAY_MEDIA not in self.faults,
                           honour_directions=Fault.HOLD_IGNORED not in self.faults,
                           srtp_relay=Fault.SRTP_CLEARTEXT not in self.faults)

    @property
    def hangup_policy(self) -> HangupPolicy:
        return HangupPolicy(relay_status=Fault.STATUS_REWRITE not in self.faults,
                            q850_reason=Fault.NO_Q850_REASON not in self.faults,
                            caller_flow=Fault.DIAL_CONTACT not in self.faults)


NO_FAULTS = InjectedFaults()
