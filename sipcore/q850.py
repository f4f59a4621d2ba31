"""Q.850 cause values, their mapping to SIP status codes, and the Reason header (RFC 3326).

The mapping follows RFC 3398 (ISUP/SIP interworking): §7.2.4.1 maps a Q.850 cause to the SIP response a
gateway sends, §8.2.6.1 maps a SIP response to the cause it puts in the release. Where the project's
facts sheet (``/work/shared/spec/facts.md``, VoIPBin's own table) differs from RFC 3398, the facts sheet
wins and the difference is noted beside the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sipcore.errors import SIPParseError
from sipcore.params import split_outside_quotes

#: Q.850 Table 1 cause texts (ITU-T Q.850 (05/98) §2.2.5 / Table 1).
CAUSE_TEXTS: dict[int, str] = {
    1: "Unallocated (unassigned) number",
    2: "No route to specified transit network",
    3: "No route to destination",
    4: "Send special information tone",
    5: "Misdialled trunk prefix",
    6: "Channel unacceptable",
    7: "Call awarded and being delivered in an established channel",
    8: "Preemption",
    9: "Preemption - circuit reserved for reuse",
    16: "Normal call clearing",
    17: "User busy",
    18: "No user responding",
    19: "No answer from user (user alerted)",
    20: "Subscriber absent",
    21: "Call rejected",
    22: "Number changed",
    23: "Redirection to new destination",
    25: "Exchange routing error",
    26: "Non-selected user clearing",
    27: "Destination out of order",
    28: "Invalid number format (address incomplete)",
    29: "Facility rejected",
    30: "Response to STATUS ENQUIRY",
    31: "Normal, unspecified",
    34: "No circuit/channel available",
    38: "Network out of order",
    39: "Permanent frame mode connection out of service",
    40: "Permanent frame mode connection operational",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    43: "Access information discarded",
    44: "Requested circuit/channel not available",
    46: "Precedence call blocked",
    47: "Resource unavailable, unspecified",
    49: "Quality of service not available",
    50: "Requested facility not subscribed",
    53: "Outgoing calls barred within CUG",
    55: "Incoming calls barred within CUG",
    57: "Bearer capability not authorized",
    58: "Bearer capability not presently available",
    62: "Inconsistency in designated outgoing access information and subscriber class",
    63: "Service or option not available, unspecified",
    65: "Bearer capability not implemented",
    66: "Channel type not implemented",
    69: "Requested facility not implemented",
    70: "Only restricted digital information bearer capability is available",
    79: "Service or option not implemented, unspecified",
    81: "Invalid call reference value",
    82: "Identified channel does not exist",
    83: "A suspended call exists, but this call identity does not",
    84: "Call identity in use",
    85: "No call suspended",
    86: "Call having the requested call identity has been cleared",
    87: "User not member of CUG",
    88: "Incompatible destination",
    90: "Non-existent CUG",
    91: "Invalid transit network selection",
    95: "Invalid message, unspecified",
    96: "Mandatory information element is missing",
    97: "Message type non-existent or not implemented",
    98: "Message not compatible with call state or message type non-existent or not implemented",
    99: "Information element / parameter non-existent or not implemented",
    100: "Invalid information element contents",
    101: "Message not compatible with call state",
    102: "Recovery on timer expiry",
    103: "Parameter non-existent or not implemented - passed on",
    110: "Message with unrecognized parameter discarded",
    111: "Protocol error, unspecified",
    127: "Interworking, unspecified",
}

#: Cause 16 clears an established call: it becomes a BYE (or CANCEL), not a final response.
NORMAL_CALL_CLEARING = 16

#: RFC 3398 §7.2.4.1: Q.850 cause -> SIP status.
_STATUS_FOR_CAUSE: dict[int, int] = {
    1: 404, 2: 404, 3: 404,
    17: 486,
    18: 408,
    19: 480, 20: 480, 31: 480,
    21: 403,
    22: 410, 23: 410,
    26: 404,
    27: 502,
    28: 484,
    29: 501, 79: 501,
    34: 503, 38: 503, 41: 503, 42: 503, 47: 503, 88: 503,
    55: 403, 57: 403, 87: 403,
    58: 488,  # facts.md (VoIPBin) says 488; RFC 3398 §7.2.4.1 says 503 Service Unavailable.
    65: 488, 70: 488,
    102: 504,
    111: 500, 127: 500,
}
#: RFC 3398 §7.2.4.1 ends with "127 interworking -> 500"; every cause it does not list gets the same.
DEFAULT_STATUS = 500

#: RFC 3398 §8.2.6.1: SIP status -> Q.850 cause. ``None`` means "no mapping" (487: the caller cancelled).
_CAUSE_FOR_STATUS: dict[int, int | None] = {
    400: 41, 481: 41, 500: 41, 503: 41,
    401: 21, 402: 21, 403: 21, 407: 21, 603: 21,
    404: 1, 485: 1, 604: 1,
    405: 63,
    406: 79, 415: 79, 501: 79,
    408: 102, 504: 102,
    410: 22,
    413: 127, 414: 127, 416: 127, 420: 127, 421: 127, 423: 127, 505: 127, 513: 127,
    480: 18,
    482: 25, 483: 25,
    484: 28,
    486: 17, 600: 17,
    487: None,
    # 488 and 606 map "by Warning header"; RFC 3398 §8.2.6.1 says 31 Normal, unspecified SHOULD be the
    # default for most Warning codes (65 Bearer capability not implemented for bearer-capability ones).
    488: 31, 606: 31,
    502: 38,
}
# Fallbacks for a 4xx/5xx/6xx that §8.2.6.1 does not list. We found no class default in RFC 3398 itself,
# so these are the project's choice, taken from the lead engineer's brief: 4xx -> 21 Call rejected,
# 5xx -> 38 Network out of order, 6xx -> 21 Call rejected.
_CLASS_FALLBACK: dict[int, int] = {4: 21, 5: 38, 6: 21}


def cause_for_status(status: int) -> int | None:
    """The Q.850 cause a gateway releases with on receiving SIP ``status`` (RFC 3398 §8.2.6.1).

    ``None`` for 487 (the call was cancelled, nothing to map) and for anything below 400.
    """
    if status in _CAUSE_FOR_STATUS:
        return _CAUSE_FOR_STATUS[status]
    return _CLASS_FALLBACK.get(status // 100) if 400 <= status <= 699 else None


def status_for_cause(cause: int) -> int:
    """The SIP final response for Q.850 ``cause`` (RFC 3398 §7.2.4.1); 500 for causes it does not list.

    Cause 16 (normal call clearing) has no response in RFC 3398: it clears an established call with a BYE.
    If a final response is needed anyway, this returns the default, 500.
    """
    return _STATUS_FOR_CAUSE.get(cause, DEFAULT_STATUS)


def cause_text(cause: int) -> str:
    """The Q.850 text for ``cause``, e.g. 17 -> "User busy"; "Unknown cause N" for an unassigned value."""
    return CAUSE_TEXTS.get(cause, f"Unknown cause {cause}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def reason_header(cause: int, text: str | None = None) -> str:
    """The Reason header value for a Q.850 cause: ``Q.850;cause=1;text="Unallocated (unassigned) number"``."""
    if not 0 <= cause <= 127:
        raise ValueError(f"Q.850 cause {cause} is outside 0..127")
    return f"Q.850;cause={cause};text={_quote(cause_text(cause) if text is None else text)}"


@dataclass
class Reason:
    """One reason-value of a Reason header (RFC 3326 §2): ``protocol;cause=N;text="..."``.

    ``params`` holds every other parameter (e.g. RFC 8606 ``location``), lower-cased names in order;
    a parameter without ``=`` has the value ``None``.
    """

    protocol: str
    cause: int | None = None
    text: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    def __str__(self) -> str:
        out = self.protocol
        if self.cause is not None:
            out += f";cause={self.cause}"
        if self.text is not None:
            out += f";text={_quote(self.text)}"
        for name, value in self.params.items():
            out += f";{name}" if value is None else f";{name}={value}"
        return out


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body = raw[1:-1]
        out: list[str] = []
        i = 0
        while i < len(body):
            if body[i] == "\\" and i + 1 < len(body):
                out.append(body[i + 1])
                i += 2
            else:
                out.append(body[i])
                i += 1
        return "".join(out)
    return raw


def parse_reason(value: str) -> list[Reason]:
    """Parse a Reason header value (RFC 3326 §2); comma-separated reason-values, quoted text may hold commas.

    Raises :class:`SIPParseError` (header ``Reason``) for an empty protocol, a non-numeric cause or an
    unterminated quoted-string.
    """
    reasons: list[Reason] = []
    for item in split_outside_quotes(value, ",", header="Reason"):
        pieces = [p.strip() for p in split_outside_quotes(item, ";", header="Reason")]
        protocol = pieces[0]
        if not protocol or any(c in protocol for c in ' \t"='):
            raise SIPParseError(f"Reason value {item.strip()!r} has no protocol token", header="Reason")
        reason = Reason(protocol=protocol)
        for piece in pieces[1:]:
            name, eq, raw = piece.partition("=")
            name = name.strip().lower()
            raw = raw.strip()
            if not name:
                raise SIPParseError(f"Reason value {item.strip()!r} has an empty parameter", header="Reason")
            if name == "cause":
                if not (raw.isascii() and raw.isdigit()):
                    raise SIPParseError(f"Reason cause {raw!r} is not a number", header="Reason")
                reason.cause = int(raw)
            elif name == "text":
                reason.text = _unquote(raw)
            else:
                reason.params[name] = raw if eq else None
        reasons.append(reason)
    return reasons
