"""Session timers (RFC 4028) and reliable provisional responses (RFC 3262), as header values and the few
rules that decide what a UA does with them. Pure functions: no clock is read; the caller schedules.

Session timers: ``Session-Expires: delta-seconds[;refresher=uac|uas]`` (compact form ``x``) and
``Min-SE: delta-seconds`` in INVITE, UPDATE and their 2xx; option tag ``timer``; 422 (Session Interval
Too Small) carries the server's Min-SE. The refresher sends a refresh (re-INVITE or UPDATE) at half the
interval (§10); the other side, when none came, sends BYE at the expiry minus the smaller of 32 s and a
third of the interval (:func:`bye_delay`). RFC 4028 §4 puts the floor of any interval at 90 s
(:data:`RFC_MIN_SE`).

Reliable provisionals: a 101-199 response with ``Require: 100rel`` and ``RSeq: n`` (1..2**31-1) is
retransmitted by the UAS until a PRACK carrying ``RAck: rseq cseq method`` acknowledges it (RFC 3262 §3,
§7.2); option tag ``100rel``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SIPParseError
from .headers import parse_uint
from .message import Message, Response
from .params import parse_params

__all__ = [
    "MAX_RSEQ", "RFC_MIN_SE", "RAck", "SessionExpires", "bye_delay", "has_option_tag", "is_reliable",
    "parse_min_se", "parse_rack", "parse_rseq", "parse_session_expires", "refresh_delay",
]

RFC_MIN_SE = 90
"""RFC 4028 §4: no session interval may be smaller than 90 seconds."""
MAX_RSEQ = 2**31 - 1
_MAX_DELTA = 2**32 - 1
REFRESHERS = ("uac", "uas")


def has_option_tag(message: Message, tag: str, *headers: str) -> bool:
    """True when one of ``headers`` (default Supported and Require) of ``message`` lists option tag
    ``tag`` (compared without case, RFC 3261 §19.2)."""
    wanted = tag.lower()
    return any(value.lower() == wanted for name in (headers or ("Supported", "Require"))
               for value in message.headers.values(name))


@dataclass(frozen=True)
class SessionExpires:
    """A Session-Expires value: the interval in seconds, and who refreshes (None: not yet chosen)."""

    interval: int
    refresher: str | None = None

    def __str__(self) -> str:
        return f"{self.interval}" + (f";refresher={self.refresher}" if self.refresher else "")

    def swapped(self) -> SessionExpires:
        """The same session seen from the other end of a transaction relayed in the opposite direction
        (uac <-> uas)."""
        if self.refresher is None:
            return self
        return SessionExpires(self.interval, "uas" if self.refresher == "uac" else "uac")


def parse_session_expires(message: Message) -> SessionExpires | None:
    """The message's Session-Expires (None when absent); SIPParseError naming what is wrong with it."""
    value = message.headers.get("Session-Expires")
    if value is None:
        return None
    head, _, rest = value.partition(";")
    interval = parse_uint(head, "Session-Expires", _MAX_DELTA)
    if interval == 0:
        raise SIPParseError("Session-Expires 0 is not a session interval", header="Session-Expires")
    params = parse_params(";" + rest, header="Session-Expires") if rest.strip() else {}
    refresher = next((v for k, v in params.items() if k.lower() == "refresher"), None)
    if refresher is not None:
        refresher = refresher.lower()
        if refresher not in REFRESHERS:
            raise SIPParseError(f"Session-Expires refresher={refresher[:20]!r} is neither uac nor uas",
                                header="Session-Expires")
    return SessionExpires(interval, refresher)


def parse_min_se(message: Message, default: int = RFC_MIN_SE) -> int:
    """The message's Min-SE in seconds (its parameters ignored), ``default`` when absent."""
    value = message.headers.get("Min-SE")
    if value is None:
        return default
    return parse_uint(value.partition(";")[0], "Min-SE", _MAX_DELTA)


def refresh_delay(interval: float) -> float:
    """When the refresher sends its refresh: half the interval after the last one (RFC 4028 §10)."""
    return interval / 2


def bye_delay(interval: float) -> float:
    """When the side that does not refresh gives up and sends BYE, after the last refresh: the interval
    minus the smaller of 32 seconds and a third of it (RFC 4028 §10)."""
    return interval - min(32.0, interval / 3)


@dataclass(frozen=True)
class RAck:
    """A PRACK's RAck: the RSeq and CSeq of the reliable provisional response it acknowledges."""

    rseq: int
    cseq: int
    method: str

    def __str__(self) -> str:
        return f"{self.rseq} {self.cseq} {self.method}"


def parse_rseq(response: Response) -> int | None:
    """The response's RSeq (None when absent)."""
    value = response.headers.get("RSeq")
    if value is None:
        return None
    rseq = parse_uint(value, "RSeq", MAX_RSEQ)
    if rseq == 0:
        raise SIPParseError("RSeq 0 is out of range (1..2**31-1)", header="RSeq")
    return rseq


def is_reliable(response: Response) -> bool:
    """A provisional response sent reliably (RFC 3262 §3): 101-199 with Require: 100rel and an RSeq."""
    return (100 < response.status < 200 and has_option_tag(response, "100rel", "Require")
            and "RSeq" in response.headers)


def parse_rack(message: Message) -> RAck | None:
    """The message's RAck (None when absent); SIPParseError when it is not ``rseq cseq method``."""
    value = message.headers.get("RAck")
    if value is None:
        return None
    parts = value.split()
    if len(parts) != 3:
        raise SIPParseError(f"RAck {value[:60]!r} is not 'rseq cseq method'", header="RAck")
    rseq = parse_uint(parts[0], "RAck", MAX_RSEQ)
    cseq = parse_uint(parts[1], "RAck", MAX_RSEQ)
    return RAck(rseq, cseq, parts[2].upper())
