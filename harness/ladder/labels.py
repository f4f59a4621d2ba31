"""What a ladder label means (`classify_label` -> `Matcher`) and what was observed (`ObservedStep`).

Labels: a request method with an optional qualifier ("INVITE with Authorization" = the request carries
Authorization or Proxy-Authorization; "INVITE with a=sendonly" = a request inside a dialog whose SDP says
that direction, RFC 3264 §5.1: a hold or resume re-INVITE; an observed flow names the direction only when it
is not the default a=sendrecv), a status code with a reason phrase ("407 Proxy Authentication
Required"; the code is matched, the phrase only shown) or "RTP Media" (RTP packets flowing src -> dst).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["request", "response", "rtp"]

KNOWN_METHODS = frozenset(
    [
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "REGISTER",
        "OPTIONS",
        "PRACK",
        "SUBSCRIBE",
        "NOTIFY",
        "PUBLISH",
        "INFO",
        "REFER",
        "MESSAGE",
        "UPDATE",
    ]
)
_ANNOTATION = re.compile(r"\s*\((?:retransmission|\d+ packets?)\)$")
_STATUS = re.compile(r"^(?P<code>[1-6]\d\d)(?:\s+(?P<reason>.+))?$")
_REQUEST = re.compile(r"^(?P<method>[A-Za-z]+)(?:\s+(?P<qualifier>.+))?$")
_RTP = re.compile(r"^RTP(?:\s+Media)?$", re.IGNORECASE)
_WITH_AUTH = re.compile(r"^with\s+(?:Proxy-)?Authori[sz]ation$", re.IGNORECASE)
_WITH_DIRECTION = re.compile(r"^with\s+a=(sendrecv|sendonly|recvonly|inactive)$", re.IGNORECASE)
_MAX_REASON = 40


@dataclass(frozen=True)
class ObservedStep:
    """One observed message (or a burst of RTP packets in one direction), roles already resolved."""

    src: str
    dst: str
    kind: Kind
    method: str | None = None  # requests
    status: int | None = None  # responses
    reason: str = ""
    has_authorization: bool = False  # Authorization or Proxy-Authorization
    is_retransmission: bool = False
    time: float = 0.0
    frame_no: int = 0
    cseq_method: str | None = None
    packet_count: int = 1  # RTP bursts
    last_frame_no: int | None = None  # RTP bursts: frame of the last packet
    sdp_direction: str | None = None  # in-dialog requests with SDP: its direction (a re-INVITE's hold or resume)

    @property
    def label(self) -> str:
        """The arrow label for this message; `classify_label` reads it back."""
        if self.kind == "rtp":
            text = "RTP Media" + (f" ({self.packet_count} packets)" if self.packet_count > 1 else "")
        elif self.kind == "request":
            held = self.sdp_direction not in (None, "sendrecv")  # drawn for a hold; a=sendrecv is the default
            text = (self.method or "?") + (" with Authorization" if self.has_authorization else
                                           f" with a={self.sdp_direction}" if held else "")
        else:
            reason = re.sub(r"[|<>\s]+", " ", self.reason).strip(" -")
            while (m := _ANNOTATION.search(reason)) is not None:  # would read back as an annotation
                reason = reason[: m.start()].strip(" -")
            if len(reason) > _MAX_REASON:
                reason = reason[: _MAX_REASON - 3].rstrip(" -") + "..."
            text = f"{self.status} {reason}".strip()
        return text + (" (retransmission)" if self.is_retransmission else "")


@dataclass(frozen=True)
class Matcher:
    """What a label requires of an observed message."""

    kind: Kind
    method: str | None = None
    status: int | None = None
    reason: str = ""  # shown, never matched
    with_authorization: bool = False
    sdp_direction: str | None = None

    def matches(self, obs: ObservedStep) -> bool:
        if obs.kind != self.kind:
            return False
        if self.kind == "request":
            return (obs.method == self.method and (obs.has_authorization or not self.with_authorization)
                    and (self.sdp_direction is None or obs.sdp_direction == self.sdp_direction))
        if self.kind == "response":
            return obs.status == self.status
        return True

    def same_message(self, other: Matcher) -> bool:
        """Would a B2BUA relaying `other` send this (ignoring qualifiers and reason phrases)?"""
        return (self.kind, self.method, self.status) == (other.kind, other.method, other.status)

    def describe(self) -> str:
        if self.kind == "rtp":
            return "RTP packets"
        if self.kind == "request":
            return f"{self.method} request" + (
                " with Authorization/Proxy-Authorization" if self.with_authorization else
                f" inside a dialog with SDP a={self.sdp_direction}" if self.sdp_direction else ""
            )
        return f"{self.status} response"


def classify_label(label: str) -> Matcher:
    """`INVITE`, `INVITE with Authorization`, `407 Proxy Authentication Required`, `RTP Media`; annotations
    added when rendering observed flows (` (retransmission)`, ` (12 packets)`) are ignored."""
    text = label.strip()
    while (m := _ANNOTATION.search(text)) is not None:
        text = text[: m.start()]
    if _RTP.match(text):
        return Matcher("rtp")
    if (m := _STATUS.match(text)) is not None:
        return Matcher("response", status=int(m.group("code")), reason=m.group("reason") or "")
    if (m := _REQUEST.match(text)) is not None and m.group("method").upper() in KNOWN_METHODS:
        qualifier = m.group("qualifier")
        method = m.group("method").upper()
        if qualifier is None:
            return Matcher("request", method=method)
        if _WITH_AUTH.match(qualifier):
            return Matcher("request", method=method, with_authorization=True)
        if (d := _WITH_DIRECTION.match(qualifier)) is not None:
            return Matcher("request", method=method, sdp_direction=d.group(1).lower())
        raise ValueError(
            f"label {label!r}: unknown qualifier {qualifier!r} (known: 'with Authorization', 'with a=sendrecv', "
            "'with a=sendonly', 'with a=recvonly', 'with a=inactive')"
        )
    raise ValueError(
        f"label {label!r} is neither a SIP method ({', '.join(sorted(KNOWN_METHODS))}), a status code with "
        "reason phrase ('183 Ringing') nor 'RTP Media'"
    )
